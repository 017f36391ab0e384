"""What every data file shares: strict YAML, and pydantic's errors said as ``file: entry: reason``."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from datafiles import DuplicateKey, Invalid, ReadError, parse_yaml, read_yaml, report


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    id: str
    weight: float = Field(default=1.0, gt=0)

    @model_validator(mode="after")
    def _not_heavy(self) -> _Entry:
        if self.weight > 10:
            raise Invalid((("weight",), "too heavy"), ((), "split it in two"))
        return self


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    entries: list[_Entry]


def _report(data: object) -> str:
    with pytest.raises(ValidationError) as exc:
        _File.model_validate(data)
    return report(exc.value, data, "f.yaml", {"entries": ("entry", "id")})


def test_entries_are_named_by_their_own_field_and_fields_follow() -> None:
    data = {"entries": [{"id": "a"}, {"id": "b", "weight": -1}, {"weight": "x"}]}
    assert _report(data).splitlines() == [
        "f.yaml: entry 'b' weight: must be > 0, got -1",
        "f.yaml: entries[2] id: required",
        "f.yaml: entries[2] weight: expected a number, got 'x'",
    ]


def test_unknown_keys_are_grouped_per_mapping_and_validator_problems_keep_their_place() -> None:
    data = {"entries": [{"id": "a", "colour": 1, "size": 2}, {"id": "b", "weight": 12}], "extra": 0}
    assert _report(data).splitlines() == [
        "f.yaml: entry 'a': unknown keys ['colour', 'size']",
        "f.yaml: entry 'b' weight: too heavy",
        "f.yaml: entry 'b': split it in two",
        "f.yaml: top level: unknown keys ['extra']",
    ]


def test_not_finite_and_long_inputs() -> None:
    assert "expected a finite number, got nan" in _report({"entries": [{"id": "a", "weight": float("nan")}]})
    long = _report({"entries": "x" * 500})
    assert long.startswith("f.yaml: entries: expected a list, got 'xxx") and len(long) < 120


def test_yaml_refuses_duplicate_keys_at_any_depth_and_impossible_dates(tmp_path: Path) -> None:
    with pytest.raises(DuplicateKey) as dup:
        parse_yaml("a:\n  b: 1\n  c: 2\n  b: 3\n")
    assert (dup.value.key, dup.value.line, dup.value.first) == ("b", 4, 2)
    with pytest.raises(ReadError, match=r"line 2: '2026-02-30' is not a valid date"):
        parse_yaml("ok: 2026-02-28\nbad: 2026-02-30\n")
    with pytest.raises(ReadError, match="file not found"):
        read_yaml(tmp_path / "none.yaml")
    (tmp_path / "latin1.yaml").write_bytes(b"a: \xe9\n")
    with pytest.raises(ReadError, match="cannot read file"):
        read_yaml(tmp_path / "latin1.yaml")
