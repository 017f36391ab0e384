"""Which calls QA staff review: N random calls per agent per week plus targeted picks with reasons.

Pure and reproducible: the same calls, policy and seed give the same picks whatever the input
order (each agent-week draws from its own ``random.Random`` seeded with seed, agent and week,
over calls sorted by id). The course's rule (质量监控: 每位客服每周抽检3-5通; 重点监控投诉、
复杂问题) is the default policy in ``qa/sampling_policy.yaml``; the audit dict records what was
drawn from what, for the sampling log.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from datafiles import Invalid, ReadError, read_yaml, report

DEFAULT_POLICY_PATH = Path(__file__).resolve().parent / "sampling_policy.yaml"
Flag = Literal["forbidden_phrase", "angry_customer", "long_silence", "auto_fail"]
KNOWN_FLAGS: tuple[str, ...] = get_args(Flag)


class PolicyError(ValueError):
    """A sampling policy is invalid; the message names the file and the rule."""


@dataclass(frozen=True)
class CallInfo:
    """What sampling needs to know of a scored call (plain values; the workspace fills it)."""

    call_id: str | int
    agent: str
    team: str
    start: datetime
    duration: float
    total: float | None = None
    customer_sentiment: float | None = None
    flags: tuple[str, ...] = ()
    reviewed: bool = False
    has_recording: bool = True


@dataclass(frozen=True)
class Rule:
    """A targeted pick: by flag, by sentiment below a bound, or the lowest totals of an agent-week."""

    reason: str
    flag: str | None = None
    sentiment_below: float | None = None
    total_below: float | None = None
    lowest_per_agent_week: int = 0

    def matches(self, c: CallInfo) -> bool:
        if self.flag is not None:
            return self.flag in c.flags
        if self.sentiment_below is not None:
            return c.customer_sentiment is not None and c.customer_sentiment < self.sentiment_below
        if self.total_below is not None and not self.lowest_per_agent_week:
            return c.total is not None and c.total < self.total_below
        return False


@dataclass(frozen=True)
class SamplingPolicy:
    version: str = "default"
    random_per_agent_week: int = 3
    min_duration_s: float = 20.0
    require_recording: bool = True
    skip_reviewed: bool = True
    max_targeted_per_agent_week: int = 5
    rules: tuple[Rule, ...] = ()
    timezone: str = "Asia/Shanghai"


@dataclass(frozen=True)
class Pick:
    call_id: str | int
    agent: str
    team: str
    week: str  # ISO week, e.g. 2026-W47
    kind: str  # random | targeted
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "agent": self.agent,
            "team": self.team,
            "week": self.week,
            "kind": self.kind,
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True)
class Sample:
    picks: tuple[Pick, ...]
    audit: dict[str, Any] = field(default_factory=dict)


def iso_week(start: datetime, tz: tzinfo) -> str:
    local = start.astimezone(tz) if start.tzinfo else start
    y, w, _ = local.isocalendar()
    return f"{y}-W{w:02d}"


def eligible(c: CallInfo, policy: SamplingPolicy) -> bool:
    if policy.require_recording and not c.has_recording:
        return False
    if policy.skip_reviewed and c.reviewed:
        return False
    return c.duration >= policy.min_duration_s


def sample(calls: Iterable[CallInfo], policy: SamplingPolicy, seed: int | str) -> Sample:
    """Targeted picks first (with every matching reason), then N random per agent-week from the rest."""
    tz = ZoneInfo(policy.timezone)
    groups: dict[tuple[str, str], list[CallInfo]] = defaultdict(list)
    total_in = 0
    for c in calls:
        total_in += 1
        if eligible(c, policy):
            groups[(c.agent, iso_week(c.start, tz))].append(c)
    picks: list[Pick] = []
    audit_groups: list[dict[str, Any]] = []
    for (agent, week), group in sorted(groups.items()):
        group.sort(key=lambda c: str(c.call_id))
        reasons: dict[str, list[str]] = defaultdict(list)
        priority: dict[str, int] = {}
        for rank, rule in enumerate(policy.rules):
            if rule.lowest_per_agent_week:
                scored = [
                    c for c in group if c.total is not None and (rule.total_below is None or c.total < rule.total_below)
                ]
                chosen = sorted(scored, key=lambda c: (c.total, str(c.call_id)))[: rule.lowest_per_agent_week]
            else:
                chosen = [c for c in group if rule.matches(c)]
            for c in chosen:
                key = str(c.call_id)
                reasons[key].append(rule.reason)
                priority.setdefault(key, rank)
        by_id = {str(c.call_id): c for c in group}
        targeted = sorted(
            reasons, key=lambda k: (priority[k], by_id[k].total if by_id[k].total is not None else 101.0, k)
        )
        targeted = targeted[: policy.max_targeted_per_agent_week]
        for key in targeted:
            c = by_id[key]
            picks.append(Pick(c.call_id, agent, c.team, week, "targeted", tuple(reasons[key])))
        rest = [c for c in group if str(c.call_id) not in set(targeted)]
        rng = random.Random(f"{seed}|{agent}|{week}")
        drawn = rng.sample(rest, min(policy.random_per_agent_week, len(rest)))
        for c in sorted(drawn, key=lambda c: str(c.call_id)):
            picks.append(Pick(c.call_id, agent, c.team, week, "random", ("random",)))
        audit_groups.append(
            {"agent": agent, "week": week, "eligible": len(group), "targeted": len(targeted), "random": len(drawn)}
        )
    audit = {
        "seed": str(seed),
        "policy_version": policy.version,
        "calls_in": total_in,
        "eligible": sum(len(g) for g in groups.values()),
        "picked": len(picks),
        "groups": audit_groups,
    }
    return Sample(tuple(picks), audit)


# --- the file's shape (pydantic) ---------------------------------------------------------------

Whole = Annotated[int, Field(ge=0)]
_STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)  # NaN passes "v < 0"; pages cannot show inf


class _RuleFile(BaseModel):
    model_config = _STRICT

    reason: str
    flag: Flag | None = None
    sentiment_below: float | None = None
    total_below: float | None = None
    lowest_per_agent_week: Whole = 0

    @model_validator(mode="after")
    def _one_kind(self) -> _RuleFile:
        given = self.model_fields_set
        kinds = [
            k
            for k in ("flag", "sentiment_below", "lowest_per_agent_week")
            if k in given and getattr(self, k) is not None
        ]
        if not kinds and self.total_below is None:
            raise Invalid(((), "needs one of flag, sentiment_below, total_below, lowest_per_agent_week"))
        if len(kinds) > 1:
            raise Invalid(((), f"give only one of {kinds}"))
        return self


class _PolicyFile(BaseModel):
    model_config = _STRICT

    version: Annotated[str, Field(strict=False, coerce_numbers_to_str=True)] = SamplingPolicy.version
    random_per_agent_week: Whole = SamplingPolicy.random_per_agent_week
    min_duration_s: Annotated[float, Field(ge=0)] = SamplingPolicy.min_duration_s
    require_recording: bool = SamplingPolicy.require_recording
    skip_reviewed: bool = SamplingPolicy.skip_reviewed
    max_targeted_per_agent_week: Whole = SamplingPolicy.max_targeted_per_agent_week
    targeted: list[_RuleFile] | None = None
    timezone: str = SamplingPolicy.timezone

    @field_validator("timezone")
    @classmethod
    def _zone(cls, tz: str) -> str:
        try:
            ZoneInfo(tz)
        except (KeyError, ValueError):
            raise ValueError(f"unknown time zone {tz!r}") from None
        return tz

    def policy(self) -> SamplingPolicy:
        rules = tuple(Rule(**r.model_dump()) for r in self.targeted or [])
        return SamplingPolicy(**self.model_dump(exclude={"targeted"}), rules=rules)


def parse_policy(data: Any, source: str = "<memory>") -> SamplingPolicy:
    """Validate a policy mapping; errors name ``source`` and the rule."""
    try:
        return _PolicyFile.model_validate(data).policy()
    except ValidationError as exc:
        raise PolicyError(report(exc, data, source, {"targeted": ("targeted rule", "reason")})) from None


def load_policy(path: Path | str | None = None) -> SamplingPolicy:
    """Read and validate a policy YAML (default: qa/sampling_policy.yaml)."""
    return _load_policy(str(Path(path or DEFAULT_POLICY_PATH).resolve()))


@lru_cache(maxsize=8)
def _load_policy(path: str) -> SamplingPolicy:
    try:
        data = read_yaml(path)
    except ReadError as exc:
        raise PolicyError(f"{path}: {exc.reason}") from None
    return parse_policy(data, path)
