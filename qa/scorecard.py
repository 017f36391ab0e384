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
from functools import lru_cache
from pathlib import Path
from typing import Any

from qa.scorers import Result
from qa.scorers.phrases import ForbiddenRule, PhoneticScan, PhraseBook

DEFAULT_PATH = Path(__file__).resolve().parent / "scorecards" / "default.yaml"
NA_POLICIES = ("skip", "full", "zero")
FORBIDDEN_CATEGORIES = ("dismissive", "imperative", "negative", "blaming", "abuse")
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
    """A check the YAML may name: which parameters it takes (name -> type)."""

    params: Mapping[str, type | tuple[type, ...]]
    auto_fail_capable: bool = False


# Check names a scorecard may use; implementations live in qa.score (they need the context).
CHECKS: dict[str, CheckSpec] = {
    "script.greeting": CheckSpec({"first_turns": int}),
    "script.recording_notice": CheckSpec({"first_turns": int}),
    "script.verification": CheckSpec({"id_kinds": list}),
    "script.empathy": CheckSpec({"window": int}),
    "script.hold": CheckSpec({}),
    "script.closing": CheckSpec({"last_turns": int}),
    "forbidden.phrases": CheckSpec({"per_hit": (int, float)}),
    "forbidden.abuse": CheckSpec({}, auto_fail_capable=True),
    "forbidden.pii_leak": CheckSpec({"kinds": list}, auto_fail_capable=True),
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


def _err(source: str, where: str, msg: str) -> ScorecardError:
    return ScorecardError(f"{source}: {where}: {msg}")


def _str_list(source: str, where: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(x, str) and x.strip() for x in value):
        raise _err(source, where, "expected a list of non-empty strings")
    return tuple(x.strip() for x in value)


def _number(source: str, where: str, value: Any, positive: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _err(source, where, f"expected a number, got {value!r}")
    if positive and value <= 0:
        raise _err(source, where, f"must be > 0, got {value!r}")
    return float(value)


def parse_scorecard(data: Any, source: str = "<memory>") -> Scorecard:
    """Validate a scorecard mapping; every error names ``source`` and the offending item."""
    if not isinstance(data, Mapping):
        raise _err(source, "top level", "expected a mapping")
    unknown = set(data) - {
        "name",
        "version",
        "description",
        "dimensions",
        "items",
        "phrases",
        "forbidden",
        "thresholds",
        "phonetic",
    }
    if unknown:
        raise _err(source, "top level", f"unknown keys {sorted(unknown)}")
    name = data.get("name")
    version = data.get("version")
    if not isinstance(name, str) or not name:
        raise _err(source, "name", "required string")
    if not isinstance(version, str | int | float) or isinstance(version, bool) or not str(version).strip():
        raise _err(source, "version", "required (a string such as '2026.11-1')")

    dims_raw = data.get("dimensions")
    if not isinstance(dims_raw, list) or not dims_raw:
        raise _err(source, "dimensions", "expected a non-empty list of {name, weight}")
    dimensions: dict[str, float] = {}
    for k, dim in enumerate(dims_raw):
        where = f"dimensions[{k}]"
        if not isinstance(dim, Mapping) or not isinstance(dim.get("name"), str):
            raise _err(source, where, "expected {name, weight}")
        if dim["name"] in dimensions:
            raise _err(source, f"dimension '{dim['name']}'", "defined twice")
        dimensions[dim["name"]] = _number(source, f"dimension '{dim['name']}' weight", dim.get("weight"))

    items_raw = data.get("items")
    if not isinstance(items_raw, list) or not items_raw:
        raise _err(source, "items", "expected a non-empty list")
    items: list[Item] = []
    seen: set[str] = set()
    for k, raw in enumerate(items_raw):
        if not isinstance(raw, Mapping):
            raise _err(source, f"items[{k}]", "expected a mapping")
        iid = raw.get("id")
        if not isinstance(iid, str) or not iid:
            raise _err(source, f"items[{k}]", "missing 'id'")
        where = f"item '{iid}'"
        if iid in seen:
            raise _err(source, where, "id used twice")
        seen.add(iid)
        extra = set(raw) - {"id", "name", "dimension", "weight", "check", "params", "na", "auto_fail"}
        if extra:
            raise _err(source, where, f"unknown keys {sorted(extra)}")
        check = raw.get("check")
        if check not in CHECKS:
            raise _err(source, where, f"unknown check {check!r} (known: {', '.join(sorted(CHECKS))})")
        spec = CHECKS[check]
        params = raw.get("params") or {}
        if not isinstance(params, Mapping):
            raise _err(source, where, "params must be a mapping")
        for pk, pv in params.items():
            if pk not in spec.params:
                raise _err(source, where, f"check {check} takes no parameter {pk!r}")
            if not isinstance(pv, spec.params[pk]) or isinstance(pv, bool):
                raise _err(source, where, f"parameter {pk!r} has the wrong type ({pv!r})")
        auto_fail = bool(raw.get("auto_fail", False))
        if auto_fail:
            if not spec.auto_fail_capable:
                raise _err(source, where, f"check {check} cannot be an auto-fail item")
            items.append(Item(iid, str(raw.get("name") or iid), "", 0.0, check, dict(params), "skip", True))
            continue
        dim = raw.get("dimension")
        if dim not in dimensions:
            raise _err(source, where, f"dimension {dim!r} is not one of {list(dimensions)}")
        weight = _number(source, f"{where} weight", raw.get("weight"))
        na = raw.get("na", "skip")
        if na not in NA_POLICIES:
            raise _err(source, where, f"na must be one of {NA_POLICIES}, got {na!r}")
        items.append(Item(iid, str(raw.get("name") or iid), dim, weight, check, dict(params), na, False))
    for dim in dimensions:
        if not any(i.dimension == dim for i in items):
            raise _err(source, f"dimension '{dim}'", "has no items")

    phrases_raw = data.get("phrases")
    if not isinstance(phrases_raw, Mapping):
        raise _err(source, "phrases", "expected a mapping of list name -> phrases")
    lists = {str(k): _str_list(source, f"phrases '{k}'", v) for k, v in phrases_raw.items()}
    for req in REQUIRED_LISTS:
        if req not in lists:
            raise _err(source, f"phrases '{req}'", "missing")
    rules: list[ForbiddenRule] = []
    for k, raw in enumerate(data.get("forbidden") or []):
        if isinstance(raw, str):
            raw = {"phrase": raw, "category": "negative"}
        if not isinstance(raw, Mapping) or not isinstance(raw.get("phrase"), str) or not raw["phrase"].strip():
            raise _err(
                source, f"forbidden[{k}]", "expected {phrase, category, unless_followed_by?, unless_preceded_by?}"
            )
        where = f"forbidden '{raw['phrase']}'"
        cat = raw.get("category", "negative")
        if cat not in FORBIDDEN_CATEGORIES:
            raise _err(source, where, f"category must be one of {FORBIDDEN_CATEGORIES}, got {cat!r}")
        extra = set(raw) - {"phrase", "category", "unless_followed_by", "unless_preceded_by", "note"}
        if extra:
            raise _err(source, where, f"unknown keys {sorted(extra)}")
        rules.append(
            ForbiddenRule(
                raw["phrase"].strip(),
                cat,
                _str_list(source, f"{where} unless_followed_by", raw.get("unless_followed_by") or []),
                _str_list(source, f"{where} unless_preceded_by", raw.get("unless_preceded_by") or []),
            )
        )
    thresholds_raw = data.get("thresholds") or {}
    if not isinstance(thresholds_raw, Mapping):
        raise _err(source, "thresholds", "expected a mapping")
    thresholds = {str(k): _number(source, f"thresholds '{k}'", v, positive=False) for k, v in thresholds_raw.items()}
    phonetic = _phonetic(source, data.get("phonetic"), lists)
    book = PhraseBook(lists, rules, phonetic)
    return Scorecard(str(name), str(version), dimensions, tuple(items), book, thresholds, source)


def _phonetic(source: str, raw: Any, lists: Mapping[str, tuple[str, ...]]) -> PhoneticScan | None:
    """``phonetic: {lists, tolerance, unsure_tolerance, min_syllables, channels}`` (optional):
    the phrase lists also matched on pronunciation, for recognized speech (qa.phonetic)."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise _err(source, "phonetic", "expected a mapping {lists, tolerance?, min_syllables?, channels?}")
    extra = set(raw) - {"lists", "tolerance", "unsure_tolerance", "min_syllables", "channels"}
    if extra:
        raise _err(source, "phonetic", f"unknown keys {sorted(extra)}")
    names = _str_list(source, "phonetic lists", raw.get("lists"))
    for n in names:
        if n not in lists:
            raise _err(source, "phonetic lists", f"{n!r} is not a phrase list (known: {', '.join(sorted(lists))})")
    tolerance = _number(source, "phonetic tolerance", raw.get("tolerance", 0.2), positive=False)
    if not 0.0 <= tolerance < 0.5:
        raise _err(source, "phonetic tolerance", f"must be in [0, 0.5), got {tolerance}")
    loose = _number(source, "phonetic unsure_tolerance", raw.get("unsure_tolerance", tolerance), positive=False)
    if not tolerance <= loose < 0.5:
        raise _err(source, "phonetic unsure_tolerance", f"must be in [tolerance, 0.5), got {loose}")
    min_syl = raw.get("min_syllables", 2)
    if isinstance(min_syl, bool) or not isinstance(min_syl, int) or min_syl < 2:
        raise _err(source, "phonetic min_syllables", f"expected an integer >= 2, got {min_syl!r}")
    channels = _str_list(source, "phonetic channels", raw.get("channels", ["call"]))
    for ch in channels:
        if ch not in ("call", "chat"):
            raise _err(source, "phonetic channels", f"expected call and/or chat, got {ch!r}")
    return PhoneticScan.build(lists, names, tolerance, min_syl, channels, loose)


def load_scorecard(path: Path | str | None = None) -> Scorecard:
    """Read and validate a scorecard YAML (default: qa/scorecards/default.yaml); cached per path."""
    return _load(str(Path(path or DEFAULT_PATH).resolve()))


@lru_cache(maxsize=16)
def _load(path: str) -> Scorecard:
    import yaml

    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScorecardError(f"{p}: file not found") from None
    except yaml.YAMLError as exc:
        raise ScorecardError(f"{p}: not valid YAML: {exc}") from None
    return parse_scorecard(data, str(p))


CheckFn = Callable[[Any, Item], Result]
