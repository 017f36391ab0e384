"""The router's data files (``route_data/``): decision policy, caller synonyms, labelled requests.

Each is read and validated on load with errors naming the file and the setting, so a supervisor
editing them gets a clear message, never a router that silently does something else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass as pydantic_dataclass

from datafiles import ReadError, read_yaml, report

DATA_DIR = Path(__file__).resolve().parent / "route_data"
DEFAULT_MENU = Path(__file__).resolve().parent / "menus" / "950618.yaml"
MODEL_FILE = "router_model.npz"

Share = Annotated[float, Field(ge=0.0, le=1.0)]


def _regexes(patterns: tuple[str, ...]) -> tuple[str, ...]:
    for pat in patterns:
        try:
            re.compile(pat)
        except re.error as exc:
            raise ValueError(f"bad agent pattern {pat!r}: {exc}") from None
    return patterns


def _two_options(question: str) -> str:
    """The question is filled with the two options' labels when the router asks; nothing else may be in braces."""
    if "{a}" not in question or "{b}" not in question:
        raise ValueError("needs both {a} and {b}")
    try:
        question.format(a="", b="")
    except (KeyError, IndexError, AttributeError, ValueError) as exc:
        raise ValueError(f"can only use {{a}} and {{b}} ({type(exc).__name__}: {exc})") from None
    return question


@pydantic_dataclass(frozen=True, config=ConfigDict(extra="forbid", allow_inf_nan=False))
class Policy:
    """Decision thresholds (route_data/policy.yaml); see that file for what each one means.
    A pydantic dataclass: built from the file, or by ``dataclasses.replace`` in a sweep, it is checked."""

    route_min: Share = 0.5
    route_margin: Share = 0.2
    leaf_share: Share = 0.55
    clarify_pair_min: Share = 0.5
    clarify_second_min: Share = 0.12
    clarify_question: Annotated[str, AfterValidator(_two_options)] = "请问您是要办理{a}，还是{b}？"
    max_unclear: Annotated[int, Field(ge=1)] = 2
    scope_keep: Share = 0.3
    keyword_weight: Share = 0.3
    negation_penalty: Share = 0.05
    agent_phrases: tuple[str, ...] = ("人工", "转人工", "人工客服", "人工服务")
    agent_patterns: Annotated[tuple[str, ...], AfterValidator(_regexes)] = ()
    negators: tuple[str, ...] = ("不是", "不要", "不用", "不需要", "别", "不想")
    negation_window: Annotated[int, Field(ge=0)] = 3
    first_option: tuple[str, ...] = ("第一个", "前者")
    second_option: tuple[str, ...] = ("第二个", "后者")

    @classmethod
    def from_mapping(cls, data: Any, source: str = "<policy>") -> Policy:
        """The policy a file's mapping gives; ValueError naming ``source`` and the setting otherwise."""
        try:
            return _POLICY.validate_python(data)
        except ValidationError as exc:
            raise ValueError(report(exc, data, source)) from None


_POLICY = TypeAdapter(Policy)
Phrases = dict[str, list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]]]
_SYNONYMS = TypeAdapter(Phrases, config=ConfigDict(coerce_numbers_to_str=True))


def _read(path: Path) -> Any:
    try:
        return read_yaml(path)
    except ReadError as exc:
        raise ValueError(f"{path}: {exc.reason}") from None


def load_policy(path: str | Path | None = None) -> Policy:
    path = Path(path) if path else DATA_DIR / "policy.yaml"
    data = _read(path)
    return Policy.from_mapping({} if data is None else data, str(path))


@dataclass(frozen=True)
class Example:
    node: str
    text: str
    also: tuple[str, ...] = ()
    source: str = ""


def load_examples(path: str | Path) -> list[Example]:
    """Read a requests TSV (node, text, also, source); ``#`` lines are comments."""
    out: list[Example] = []
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) < 2 or not cols[0].strip() or not cols[1].strip():
            raise ValueError(f"{path}:{lineno}: need at least 'node<TAB>text'")
        also = tuple(a.strip() for a in cols[2].split(",") if a.strip()) if len(cols) > 2 else ()
        out.append(Example(cols[0].strip(), cols[1].strip(), also, cols[3].strip() if len(cols) > 3 else ""))
    return out


def load_synonyms(path: str | Path | None = None) -> dict[str, tuple[str, ...]]:
    """Node id -> extra phrases callers use for it (route_data/synonyms.yaml)."""
    path = Path(path) if path else DATA_DIR / "synonyms.yaml"
    data = _read(path)
    try:
        phrases = _SYNONYMS.validate_python({} if data is None else data)
    except ValidationError as exc:
        raise ValueError(report(exc, data, str(path), {"*": ("node", "")})) from None
    return {node: tuple(words) for node, words in phrases.items()}
