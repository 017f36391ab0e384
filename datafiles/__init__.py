"""The data files a supervisor or the menu team edits (menu, hours, scorecard, policies): strict YAML
reading and pydantic's validation errors said in the file's own terms.

Each loader declares its file's shape as pydantic models and keeps its own error class; this module
gives them what they share, so every file reports a mistake the same way: the file, the entry
(``item 'greeting' weight``, ``node 'payment'``) and what was wrong (``must be > 0, got -1``).
Bottom layer: imports nothing of the project.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

Loc = tuple[int | str, ...]

# --- reading ---------------------------------------------------------------------------------


class ReadError(Exception):
    """The file cannot be read or is not YAML; ``reason`` says why, ``line`` (1-based, 0: unknown) where."""

    def __init__(self, reason: str, line: int = 0) -> None:
        super().__init__(reason)
        self.reason, self.line = reason, line


class DuplicateKey(ReadError):
    """A mapping names one key twice (PyYAML would silently keep the last one)."""

    def __init__(self, key: str, line: int, first: int) -> None:
        super().__init__(f"duplicate key '{key}' (line {line}, first on line {first})", line)
        self.key, self.first = key, first


_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~8x faster start-up


class _StrictLoader(_Base):  # type: ignore[misc, valid-type]
    """Safe loader that refuses duplicate keys and reports a bad date (2026-13-01) as a YAML error."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[str, int] = {}
    for key_node, _ in node.value:
        key = str(loader.construct_object(key_node, deep=deep))
        if key in seen:
            raise DuplicateKey(key, key_node.start_mark.line + 1, seen[key])
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


def _construct_timestamp(loader: _StrictLoader, node: yaml.ScalarNode) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError as exc:  # PyYAML lets the ValueError of date(2026, 13, 1) escape
        line = node.start_mark.line + 1
        raise ReadError(f"not valid YAML: line {line}: '{node.value}' is not a valid date ({exc})", line) from None


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def read_yaml(path: str | Path) -> Any:
    """The YAML document in ``path``; ReadError (DuplicateKey for a key given twice) when it is not one."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReadError("file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReadError(f"cannot read file: {getattr(exc, 'strerror', None) or exc}") from None
    return parse_yaml(text)


def parse_yaml(text: str) -> Any:
    """Parse YAML text as ``read_yaml`` does (ReadError, DuplicateKey)."""
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ReadError(f"not valid YAML: {exc}", mark.line + 1 if mark else 0) from None


# --- validation errors -----------------------------------------------------------------------


class Invalid(ValueError):
    """Raised by a model validator for rules across fields: each problem is (location relative to the
    validated value, reason), so it is reported like any other field error."""

    def __init__(self, *problems: tuple[Loc, str]) -> None:
        super().__init__("; ".join(reason for _, reason in problems))
        self.problems = problems


_EXPECTED = {
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "finite_number": "expected a finite number",
    "string_type": "expected a string",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "list_type": "expected a list",
    "tuple_type": "expected a list",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
    "dataclass_type": "expected a mapping",
    "dataclass_args_type": "expected a mapping",
    "missing": "required",
    "missing_keyword_argument": "required",
}
_BOUNDS = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}
_UNKNOWN = ("extra_forbidden", "unexpected_keyword_argument")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _reason(err: Mapping[str, Any]) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error", err["msg"]))
    if kind in ("too_short", "string_too_short"):
        return "must not be empty" if ctx.get("min_length") == 1 else f"needs at least {ctx.get('min_length')}"
    if kind in _BOUNDS:
        bound = next(iter(ctx.values()))
        text = f"must be {_BOUNDS[kind]} {bound:g}" if isinstance(bound, int | float) else f"must be {bound}"
    elif kind == "literal_error":
        text = f"must be one of {ctx.get('expected')}"
    elif kind in _EXPECTED:
        text = _EXPECTED[kind]
    else:
        msg = str(err["msg"])
        text = "expected" + msg[len("Input should be") :] if msg.startswith("Input should be") else msg
    if kind in ("missing", "missing_keyword_argument") or "input" not in err:
        return text
    return f"{text}, got {_shown(err['input'])}"


def problems(exc: ValidationError) -> list[tuple[Loc, str]]:
    """Every error as (location in the file, reason in plain words); unknown keys grouped per mapping."""
    out: list[tuple[Loc, str]] = []
    unknown: dict[Loc, list[str]] = {}
    for err in exc.errors():
        loc: Loc = tuple(err["loc"])
        error = (err.get("ctx") or {}).get("error")
        if isinstance(error, Invalid):
            out.extend(((*loc, *sub), reason) for sub, reason in error.problems)
        elif err["type"] in _UNKNOWN:
            if loc[:-1] not in unknown:
                unknown[loc[:-1]] = []
                out.append((loc[:-1], ""))  # placeholder keeps the order of the file
            unknown[loc[:-1]].append(str(loc[-1]))
        else:
            out.append((loc, _reason(err)))
    return [(loc, reason or f"unknown keys {sorted(unknown[loc])}") for loc, reason in out]


def where(loc: Loc, data: Any, names: Mapping[str, tuple[str, str]] | None = None) -> str:
    """A location in the file's terms: ``('items', 3, 'weight')`` -> ``item 'greeting' weight``.

    ``names`` maps a top-level section to (label, field naming an entry): a list's entries are named
    by that field of the entry (or the entry itself when it is a string), a mapping's by their key.
    Section ``*`` names the keys of a file that is one mapping (``node 'order'`` in synonyms.yaml).
    """
    head: list[str] = []
    rest = loc
    if names and "*" in names and loc:
        head.append(f"{names['*'][0]} '{loc[0]}'")
        rest = loc[1:]
    elif names and len(loc) >= 2 and loc[0] in names:
        label, field = names[str(loc[0])]
        entry = loc[1]
        name: Any = entry
        if isinstance(entry, int):
            try:
                value = data[loc[0]][entry]
                name = value.get(field) if isinstance(value, Mapping) else value
            except (KeyError, IndexError, TypeError):
                name = None
            if not isinstance(name, str | int | date) or isinstance(name, bool) or name == "":
                name = None
        head.append(f"{label} '{name}'" if name is not None else f"{loc[0]}[{entry}]")
        rest = loc[2:]
    for part in rest:
        if part == "[key]":
            continue
        if isinstance(part, int) and head:
            head[-1] += f"[{part}]"
        else:
            head.append(str(part))
    return " ".join(head) or "top level"


def report(exc: ValidationError, data: Any, source: str, names: Mapping[str, tuple[str, str]] | None = None) -> str:
    """One line per problem: ``source: where: reason``."""
    return "\n".join(f"{source}: {where(loc, data, names)}: {reason}" for loc, reason in problems(exc))
