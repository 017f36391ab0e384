"""Scorecards as data: dimensions, weighted items, N/A rules, auto-fail items, phrase lists.

``load_scorecard(path)`` validates a YAML file and raises ``ScorecardError`` naming the file and
the item; ``parse_scorecard(data, source)`` does the same for an already-read mapping (pure).
A result's total is 0–100: each dimension's applicable items give a weighted mean in [0, 1],
dimensions are weighted likewise, and an item's ``max`` is its share of the 100 points after
N/A items gave theirs away, so the item scores add up to the total. A triggered auto-fail item
sets the total to 0.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from datafiles import Invalid, Loc, ReadError, problems, read_yaml, report
from qa.scorers import Result
from qa.scorers.phrases import ForbiddenRule, PhoneticScan, PhraseBook

DEFAULT_PATH = Path(__file__).resolve().parent / "scorecards" / "default.yaml"
NaPolicy = Literal["skip", "full", "zero"]
NA_POLICIES: tuple[str, ...] = get_args(NaPolicy)
Category = Literal["dismissive", "imperative", "negative", "blaming", "abuse"]
FORBIDDEN_CATEGORIES: tuple[str, ...] = get_args(Category)
REQUIRED_LISTS = (
    "greeting",
    "recording_notice",
    "verification_ask",
    "order_topic",
    "empathy",
    "hold",
    "hold_return",
    "closing_check",
    "closing_thanks",
    "polite",
)


class ScorecardError(ValueError):
    """A scorecard file is invalid; the message starts with the file and names the item."""


@dataclass(frozen=True)
class CheckSpec:
    """A check the YAML may name: which parameters it takes (name -> type, validated strictly)."""

    params: Mapping[str, Any]  # int, float, (int, float), list[str], ...
    auto_fail_capable: bool = False


# Check names a scorecard may use; implementations live in qa.score (they need the context).
CHECKS: dict[str, CheckSpec] = {
    "script.greeting": CheckSpec({"first_turns": int}),
    "script.recording_notice": CheckSpec({"first_turns": int}),
    "script.verification": CheckSpec({"id_kinds": list[str]}),
    "script.empathy": CheckSpec({"window": int}),
    "script.hold": CheckSpec({}),
    "script.closing": CheckSpec({"last_turns": int}),
    "forbidden.phrases": CheckSpec({"per_hit": (int, float)}),
    "forbidden.abuse": CheckSpec({}, auto_fail_capable=True),
    "forbidden.pii_leak": CheckSpec({"kinds": list[str]}, auto_fail_capable=True),
    "politeness": CheckSpec({}),
    "satisfaction": CheckSpec({}),
    "resolution": CheckSpec({}),
    "metrics.first_response": CheckSpec({"good_s": (int, float), "bad_s": (int, float)}),
    "metrics.silence": CheckSpec({"per_silence": (int, float)}),
    "metrics.interruptions": CheckSpec({"per_interruption": (int, float)}),
    "metrics.speaking_rate": CheckSpec({"min_cpm": (int, float), "max_cpm": (int, float)}),
    "metrics.talk_ratio": CheckSpec({"min": (int, float), "max": (int, float)}),
}


@dataclass(frozen=True)
class Item:
    id: str
    name: str
    dimension: str
    weight: float
    check: str
    params: Mapping[str, Any] = field(default_factory=dict)
    na: str = "skip"
    auto_fail: bool = False


@dataclass(frozen=True)
class Scorecard:
    name: str
    version: str
    dimensions: Mapping[str, float]  # name -> weight, in file order
    items: tuple[Item, ...]
    phrases: PhraseBook
    thresholds: Mapping[str, float]
    source: str = "<memory>"

    @property
    def scored_items(self) -> tuple[Item, ...]:
        return tuple(i for i in self.items if not i.auto_fail)

    @property
    def auto_fail_items(self) -> tuple[Item, ...]:
        return tuple(i for i in self.items if i.auto_fail)


# --- the file's shape (pydantic); rules across entries are ``_ScorecardFile._consistent`` ----------

Phrase = Annotated[str, Strict(), StringConstraints(strip_whitespace=True, min_length=1)]
Weight = Annotated[float, Strict(), Field(gt=0, allow_inf_nan=False)]
Text = Annotated[str, Field(strict=False, coerce_numbers_to_str=True)]  # version: 2026.11 is text too
Version = Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1)]
_STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


@cache
def _param_type(kind: Any) -> TypeAdapter[Any]:
    """A ``CheckSpec`` parameter type as a strict validator (no bools for numbers, no NaN)."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if float in kinds:  # a strict float takes ints too, and says "finite" for NaN instead of "whole number"
        kinds = tuple(k for k in kinds if k is not int)
    ann: Any = Union[kinds] if len(kinds) > 1 else kinds[0]  # noqa: UP007
    return TypeAdapter(ann, config=_STRICT)


class _Dimension(BaseModel):
    model_config = _STRICT

    name: Phrase
    weight: Weight


class _Item(BaseModel):
    model_config = _STRICT

    id: Phrase
    name: Text | None = None
    dimension: str | None = None  # scored items only
    weight: Weight | None = None  # scored items only
    check: str
    params: dict[str, Any] | None = None
    na: NaPolicy = "skip"
    auto_fail: bool = False

    @model_validator(mode="after")
    def _check_fits(self) -> _Item:
        """The check exists, takes these parameters, and may be auto-fail; scored items have a weight."""
        if self.check not in CHECKS:
            raise Invalid(((), f"unknown check {self.check!r} (known: {', '.join(sorted(CHECKS))})"))
        spec = CHECKS[self.check]
        for pk, pv in (self.params or {}).items():
            if pk not in spec.params:
                raise Invalid(((), f"check {self.check} takes no parameter {pk!r}"))
            try:
                _param_type(spec.params[pk]).validate_python(pv)
            except ValidationError as exc:
                reason = problems(exc)[0][1]
                raise Invalid(((), f"parameter {pk!r} has the wrong type ({reason})")) from None
        if self.auto_fail and not spec.auto_fail_capable:
            raise Invalid(((), f"check {self.check} cannot be an auto-fail item"))
        if not self.auto_fail and self.weight is None:
            raise Invalid((("weight",), "required (a number > 0)"))
        return self

    def item(self) -> Item:
        params = dict(self.params or {})
        if self.auto_fail:
            return Item(self.id, self.name or self.id, "", 0.0, self.check, params, "skip", True)
        return Item(
            self.id, self.name or self.id, self.dimension or "", self.weight or 0.0, self.check, params, self.na
        )


class _Forbidden(BaseModel):
    model_config = _STRICT

    phrase: Phrase
    category: Category = "negative"
    unless_followed_by: list[Phrase] | None = None
    unless_preceded_by: list[Phrase] | None = None
    note: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare_phrase(cls, raw: Any) -> Any:
        """A bare string is a phrase of the default category."""
        return {"phrase": raw} if isinstance(raw, str) else raw

    def rule(self) -> ForbiddenRule:
        return ForbiddenRule(
            self.phrase, self.category, tuple(self.unless_followed_by or ()), tuple(self.unless_preceded_by or ())
        )


class _Phonetic(BaseModel):
    """``phonetic:`` (optional): phrase lists also matched on pronunciation, for recognized speech (qa.phonetic)."""

    model_config = _STRICT

    lists: list[Phrase]
    tolerance: Annotated[float, Field(ge=0, lt=0.5)] = 0.2
    unsure_tolerance: Annotated[float, Field(lt=0.5)] | None = None  # default: tolerance
    min_syllables: Annotated[int, Field(ge=2)] = 2
    channels: list[Literal["call", "chat"]] = ["call"]

    @model_validator(mode="after")
    def _looser(self) -> _Phonetic:
        if self.unsure_tolerance is not None and self.unsure_tolerance < self.tolerance:
            raise Invalid((("unsure_tolerance",), f"must be in [tolerance, 0.5), got {self.unsure_tolerance}"))
        return self

    def scan(self, lists: Mapping[str, list[str]]) -> PhoneticScan:
        loose = self.tolerance if self.unsure_tolerance is None else self.unsure_tolerance
        return PhoneticScan.build(lists, self.lists, self.tolerance, self.min_syllables, self.channels, loose)


class _ScorecardFile(BaseModel):
    model_config = _STRICT

    name: Phrase
    version: Version
    description: Text | None = None
    dimensions: Annotated[list[_Dimension], Field(min_length=1)]
    items: Annotated[list[_Item], Field(min_length=1)]
    phrases: dict[str, list[Phrase]]
    forbidden: list[_Forbidden] | None = None
    thresholds: dict[str, Annotated[float, Strict()]] | None = None
    phonetic: _Phonetic | None = None

    @model_validator(mode="after")
    def _consistent(self) -> _ScorecardFile:
        """Names unique, every scored item in a dimension that exists, every dimension used, lists there."""
        found: list[tuple[Loc, str]] = []
        dims: list[str] = []
        for k, dim in enumerate(self.dimensions):
            if dim.name in dims:
                found.append((("dimensions", k), "defined twice"))
            dims.append(dim.name)
        seen: set[str] = set()
        for k, item in enumerate(self.items):
            if item.id in seen:
                found.append((("items", k), "id used twice"))
            seen.add(item.id)
            if not item.auto_fail and item.dimension not in dims:
                found.append((("items", k), f"dimension {item.dimension!r} is not one of {dims}"))
        for k, dim in enumerate(self.dimensions):
            if not any(i.dimension == dim.name and not i.auto_fail for i in self.items):
                found.append((("dimensions", k), "has no items"))
        found.extend((("phrases", req), "missing") for req in REQUIRED_LISTS if req not in self.phrases)
        for name in self.phonetic.lists if self.phonetic else []:
            if name not in self.phrases:
                known = ", ".join(sorted(self.phrases))
                found.append((("phonetic", "lists"), f"{name!r} is not a phrase list (known: {known})"))
        if found:
            raise Invalid(*found)
        return self

    def scorecard(self, source: str) -> Scorecard:
        phonetic = self.phonetic.scan(self.phrases) if self.phonetic else None
        book = PhraseBook(self.phrases, [f.rule() for f in self.forbidden or []], phonetic)
        dimensions = {d.name: d.weight for d in self.dimensions}
        items = tuple(i.item() for i in self.items)
        return Scorecard(self.name, self.version, dimensions, items, book, dict(self.thresholds or {}), source)


# how an error names an entry: ``item 'greeting' weight``, ``forbidden '笨'``, ``phrases 'hold'``
_NAMES = {
    "items": ("item", "id"),
    "dimensions": ("dimension", "name"),
    "forbidden": ("forbidden", "phrase"),
    "phrases": ("phrases", ""),
    "thresholds": ("thresholds", ""),
}


def parse_scorecard(data: Any, source: str = "<memory>") -> Scorecard:
    """Validate a scorecard mapping; every error names ``source`` and the offending item."""
    try:
        return _ScorecardFile.model_validate(data).scorecard(source)
    except ValidationError as exc:
        raise ScorecardError(report(exc, data, source, _NAMES)) from None


def load_scorecard(path: Path | str | None = None) -> Scorecard:
    """Read and validate a scorecard YAML (default: qa/scorecards/default.yaml); cached per path."""
    return _load(str(Path(path or DEFAULT_PATH).resolve()))


@lru_cache(maxsize=16)
def _load(path: str) -> Scorecard:
    try:
        data = read_yaml(path)
    except ReadError as exc:
        raise ScorecardError(f"{path}: {exc.reason}") from None
    return parse_scorecard(data, path)


CheckFn = Callable[[Any, Item], Result]
