"""The service-level figures, defined once (pure: `CallFacts` in, figures out).

Definitions (docs/service-levels.md says the same in words):

- calls: calls that reached the IVR. offered: calls that reached the agents' queue (a transfer).
- answered: offered calls an agent took (QueueResult bridged, DialCallStatus completed/answered).
- abandoned: offered calls whose caller hung up waiting, after ``short_abandon_s`` (5 s) or more;
  short_abandoned: the same under 5 s, counted apart (a misdial, not a service failure).
- failed: offered calls the queue could not take (queue full, busy, no answer, error...);
  waiting: offered calls not over yet. offered = answered + abandoned + short_abandoned + failed + waiting.
- answer_rate (接通率) = answered / offered. abandon_rate = abandoned / offered.
- avg_wait_s (平均等待, = ASA, average speed of answer): mean queue time of answered calls;
  avg_wait_all_s: mean queue time of every offered call whose wait is known (abandoned ones too).
- service_level = answered within ``sl_threshold_s`` (20 s) / (offered - short_abandoned).
- containment_rate = contained / calls; contained: ended in self-service (an answer was given),
  never transferred, no callback asked for, no hang-up in a menu or an entry.
- funnel: per menu node, calls that entered it and calls whose caller hung up there (left).
- aht_s (average handling time): mean agent conversation of answered calls (no after-call work
  is recorded, so it is talk time).
- survey_avg: mean 1-5 answer; survey_low_share: share of answers below 4 (each one a 回访 task).
- callbacks_requested / callbacks_done: callback requests made in the period, and how many are done.
Periods and hours are taken in the hotline's time zone, by the time the call started.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from kpi.facts import CallFacts

SHORT_ABANDON_S = 5.0
SL_THRESHOLD_S = 20.0
LOW_SURVEY = 4  # a survey below this is followed up
FOLLOWUP_HOURS = 48
# The course's service standards (cs-training-course: 电话客服接通率保持在95%以上，平均等待时间不超过3分钟)
TARGETS: dict[str, tuple[str, float]] = {"answer_rate": (">=", 0.95), "avg_wait_s": ("<=", 180.0)}
TARGET_LABELS = {"answer_rate": "接通率 ≥ 95%", "avg_wait_s": "平均等待 ≤ 3 分钟"}


@dataclass(frozen=True)
class Figures:
    """The service levels of a set of calls; rates in 0..1 and means are None when nothing to count."""

    calls: int = 0
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    failed: int = 0
    waiting: int = 0
    contained: int = 0
    answer_rate: float | None = None
    abandon_rate: float | None = None
    avg_wait_s: float | None = None
    avg_wait_all_s: float | None = None
    longest_wait_s: float | None = None
    service_level: float | None = None
    sl_threshold_s: float = SL_THRESHOLD_S
    containment_rate: float | None = None
    aht_s: float | None = None
    surveys: int = 0
    survey_avg: float | None = None
    survey_low: int = 0
    survey_low_share: float | None = None
    callbacks_requested: int = 0
    callbacks_done: int = 0
    agents_closed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _rate(n: int, d: int) -> float | None:
    return round(n / d, 4) if d else None


def _mean(xs: Sequence[float]) -> float | None:
    return round(sum(xs) / len(xs), 2) if xs else None


def figures(
    facts: Iterable[CallFacts],
    *,
    sl_threshold_s: float = SL_THRESHOLD_S,
    short_abandon_s: float = SHORT_ABANDON_S,
    callbacks_done: int = 0,
) -> Figures:
    """The figures of these calls. ``callbacks_done``: of their callback requests, how many are done
    (the requests' state lives with the requests, not in the facts)."""
    calls = offered = answered = abandoned = short = failed = waiting = contained = 0
    in_sl = callbacks = closed = 0
    waits_answered: list[float] = []
    waits_all: list[float] = []
    talks: list[float] = []
    scores: list[int] = []
    for f in facts:
        calls += 1
        contained += f.contained
        callbacks += f.callback_requested
        closed += f.agents_closed
        if f.survey_score is not None:
            scores.append(f.survey_score)
        if not f.offered:
            continue
        offered += 1
        if f.wait_s is not None:
            waits_all.append(f.wait_s)
        if f.answered:
            answered += 1
            if f.wait_s is not None:
                waits_answered.append(f.wait_s)
                in_sl += f.wait_s <= sl_threshold_s
            if f.talk_s is not None:
                talks.append(f.talk_s)
        elif f.abandoned:
            if f.wait_s is not None and f.wait_s < short_abandon_s:
                short += 1
            else:
                abandoned += 1
        elif f.leg_result or f.ended:
            failed += 1
        else:
            waiting += 1
    low = sum(1 for s in scores if s < LOW_SURVEY)
    return Figures(
        calls=calls,
        offered=offered,
        answered=answered,
        abandoned=abandoned,
        short_abandoned=short,
        failed=failed,
        waiting=waiting,
        contained=contained,
        answer_rate=_rate(answered, offered),
        abandon_rate=_rate(abandoned, offered),
        avg_wait_s=_mean(waits_answered),
        avg_wait_all_s=_mean(waits_all),
        longest_wait_s=round(max(waits_all), 2) if waits_all else None,
        service_level=_rate(in_sl, offered - short),
        sl_threshold_s=sl_threshold_s,
        containment_rate=_rate(contained, calls),
        aht_s=_mean(talks),
        surveys=len(scores),
        survey_avg=_mean([float(s) for s in scores]),
        survey_low=low,
        survey_low_share=_rate(low, len(scores)),
        callbacks_requested=callbacks,
        callbacks_done=min(callbacks_done, callbacks),
        agents_closed=closed,
    )


@dataclass(frozen=True)
class FunnelStep:
    node: str
    entered: int
    left: int  # callers who hung up at this node


def funnel(facts: Iterable[CallFacts], order: Sequence[str] = ()) -> list[FunnelStep]:
    """Per menu node: calls that entered it (once per call) and callers who hung up there.

    ``order``: the menu's nodes in the order to show (others follow, most entered first)."""
    entered: dict[str, int] = defaultdict(int)
    left: dict[str, int] = defaultdict(int)
    for f in facts:
        for node in {n for n, _ in f.path}:
            entered[node] += 1
        if f.hangup_node:
            left[f.hangup_node] += 1
            entered.setdefault(f.hangup_node, 0)
    rank = {n: i for i, n in enumerate(order)}
    nodes = sorted(entered, key=lambda n: (rank.get(n, len(rank)), -entered[n], n))
    return [FunnelStep(n, entered[n], left.get(n, 0)) for n in nodes]


def local_hour(dt: datetime, tz: ZoneInfo) -> int:
    return dt.astimezone(tz).hour


def local_day(dt: datetime, tz: ZoneInfo) -> date:
    return dt.astimezone(tz).date()


def group(facts: Iterable[CallFacts], key: Callable[[CallFacts], Any]) -> dict[Any, list[CallFacts]]:
    out: dict[Any, list[CallFacts]] = defaultdict(list)
    for f in facts:
        out[key(f)].append(f)
    return dict(out)


def by_hour(facts: Iterable[CallFacts], tz: ZoneInfo, **kw: Any) -> dict[int, Figures]:
    """Figures per local hour of the day (0-23) the calls started in; every hour present."""
    groups = group(facts, lambda f: local_hour(f.started_at, tz))
    return {h: figures(groups.get(h, ()), **kw) for h in range(24)}


def by_day(facts: Iterable[CallFacts], tz: ZoneInfo, start: date, end: date, **kw: Any) -> dict[date, Figures]:
    """Figures per local day in [start, end) (days without calls included)."""
    groups = group(facts, lambda f: local_day(f.started_at, tz))
    days = [start + timedelta(days=i) for i in range((end - start).days)]
    return {d: figures(groups.get(d, ()), **kw) for d in days}


def by_team(facts: Iterable[CallFacts], **kw: Any) -> dict[str, Figures]:
    """Figures per team (the agent's team; calls no agent took have none: "" ) ."""
    return {k: figures(v, **kw) for k, v in sorted(group(facts, lambda f: f.team).items())}


def by_skill(facts: Iterable[CallFacts], **kw: Any) -> dict[str, Figures]:
    """Figures per skill (the queue a transfer asked for); calls never transferred have ""."""
    return {k: figures(v, **kw) for k, v in sorted(group(facts, lambda f: f.skill).items())}


def met(name: str, value: float | None) -> bool | None:
    """Whether a figure meets its target (None: no target, or nothing measured)."""
    if name not in TARGETS or value is None:
        return None
    op, bound = TARGETS[name]
    return value >= bound if op == ">=" else value <= bound


def followup_due(surveyed_at: datetime) -> datetime:
    """A survey below 4 must be followed up within 48 hours of the answer."""
    return surveyed_at + timedelta(hours=FOLLOWUP_HOURS)


def followup_state(due_at: datetime, done_at: datetime | None, now: datetime) -> str:
    """open | overdue | done | done-late."""
    if done_at is not None:
        return "done" if done_at <= due_at else "done-late"
    return "overdue" if now > due_at else "open"


@dataclass(frozen=True)
class Live:
    """Right now: callers in the IVR menus, waiting for an agent, and the longest current wait."""

    in_ivr: int
    waiting: int
    longest_wait_s: float | None


def live(active: Iterable[tuple[bool, datetime | None]], now: datetime) -> Live:
    """``active``: (in the queue, queued since) for each call not over yet."""
    in_ivr = waiting = 0
    longest: float | None = None
    for queued, since in active:
        if not queued:
            in_ivr += 1
            continue
        waiting += 1
        if since is not None:
            w = max(0.0, (now - since).total_seconds())
            longest = w if longest is None else max(longest, w)
    return Live(in_ivr, waiting, None if longest is None else round(longest, 1))
