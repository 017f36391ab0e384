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


def category(f: CallFacts, short_abandon_s: float = SHORT_ABANDON_S) -> str:
    """Where an offered call ended: answered | abandoned | short (abandoned under 5 s) | failed | waiting;
    "" for a call that never reached the queue. Every offered call is in exactly one."""
    if not f.offered:
        return ""
    if f.answered:
        return "answered"
    if f.abandoned:
        return "short" if f.wait_s is not None and f.wait_s < short_abandon_s else "abandoned"
    return "failed" if f.leg_result or f.ended else "waiting"


def within_sl(f: CallFacts, sl_threshold_s: float = SL_THRESHOLD_S) -> bool:
    """Answered within the service level's threshold."""
    return f.answered and f.wait_s is not None and f.wait_s <= sl_threshold_s


def stored_class(f: CallFacts, tz: ZoneInfo, sl_threshold_s: float = SL_THRESHOLD_S) -> dict[str, Any]:
    """What the store keeps beside the facts so that a period's figures are sums: the call's
    `category`, `within_sl`, and the local day and hour it started in."""
    local = f.started_at.astimezone(tz)
    return {
        "category": category(f),
        "in_sl": within_sl(f, sl_threshold_s),
        "local_day": local.date().isoformat(),
        "local_hour": local.hour,
    }


def funnel_marks(f: CallFacts) -> list[tuple[str, bool]]:
    """The call's menu nodes, once each in the order first entered, and whether the caller hung up there."""
    nodes = dict.fromkeys(n for n, _ in f.path)
    if f.hangup_node:
        nodes[f.hangup_node] = None
    return [(n, n == f.hangup_node) for n in nodes]


@dataclass
class Tally:
    """Sums over calls from which every figure follows; tallies of disjoint sets of calls add up
    (the store keeps hourly rollups of each call's `contribution`: ``store.kpi.hour_sums``)."""

    calls: int = 0
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    short: int = 0
    failed: int = 0
    waiting: int = 0
    contained: int = 0
    in_sl: int = 0
    callbacks: int = 0
    agents_closed: int = 0
    wait_answered_sum: float = 0.0
    wait_answered_n: int = 0
    wait_all_sum: float = 0.0
    wait_all_n: int = 0
    wait_max: float | None = None
    talk_sum: float = 0.0
    talk_n: int = 0
    surveys: int = 0
    survey_sum: int = 0
    survey_low: int = 0

    def add(self, f: CallFacts, cat: str, in_sl: bool) -> None:
        """One call, with its `category` and `within_sl`."""
        self.calls += 1
        self.contained += f.contained
        self.callbacks += f.callback_requested
        self.agents_closed += f.agents_closed
        if f.survey_score is not None:
            self.surveys += 1
            self.survey_sum += f.survey_score
            self.survey_low += f.survey_score < LOW_SURVEY
        if not cat:
            return
        self.offered += 1
        setattr(self, cat, getattr(self, cat) + 1)
        self.in_sl += in_sl
        if f.wait_s is not None:
            self.wait_all_sum += f.wait_s
            self.wait_all_n += 1
            self.wait_max = f.wait_s if self.wait_max is None else max(self.wait_max, f.wait_s)
            if cat == "answered":
                self.wait_answered_sum += f.wait_s
                self.wait_answered_n += 1
        if cat == "answered" and f.talk_s is not None:
            self.talk_sum += f.talk_s
            self.talk_n += 1

    def merge(self, other: Tally) -> Tally:
        out = Tally()
        for k, v in vars(self).items():
            w = getattr(other, k)
            if k == "wait_max":
                setattr(out, k, w if v is None else (v if w is None else max(v, w)))
            else:
                setattr(out, k, v + w)
        return out


SUMMED = tuple(k for k in vars(Tally()) if k != "wait_max")  # what a store's hourly rollup keeps


def contribution(f: CallFacts, cat: str, in_sl: bool) -> dict[str, float]:
    """One call's share of a `Tally`'s sums (a rollup adds the new share and takes the old one away)."""
    t = Tally()
    t.add(f, cat, in_sl)
    return {k: getattr(t, k) for k in SUMMED}


Share = tuple[tuple[str, int, str, str], dict[str, float], list[tuple[str, bool]]]  # (hour key, sums, funnel marks)


def rollup_changes(
    old: Share | None, new: Share
) -> list[tuple[tuple[str, int, str, str], dict[str, float], dict[str, tuple[int, int]]]]:
    """What to add to which (local_day, local_hour, team, skill) rollup when a call's share goes from
    ``old`` (None: the call is new) to ``new``: the sums' change and node -> (entered, hung up) changes."""

    def nodes(marks: list[tuple[str, bool]], sign: int) -> dict[str, tuple[int, int]]:
        return {n: (sign, sign * int(h)) for n, h in marks}

    if old is None:
        return [(new[0], new[1], nodes(new[2], 1))]
    if old[0] != new[0]:
        return [(old[0], {k: -v for k, v in old[1].items()}, nodes(old[2], -1)), (new[0], new[1], nodes(new[2], 1))]
    sums = {k: new[1][k] - old[1][k] for k in new[1]}
    moved: dict[str, tuple[int, int]] = {}
    for n, (e, h) in [*nodes(old[2], -1).items(), *nodes(new[2], 1).items()]:
        pe, ph = moved.get(n, (0, 0))
        moved[n] = (pe + e, ph + h)
    return [(new[0], sums, {n: v for n, v in moved.items() if v != (0, 0)})]


def _avg(total: float, n: int) -> float | None:
    return round(total / n, 2) if n else None


def figures_of(t: Tally, *, sl_threshold_s: float = SL_THRESHOLD_S, callbacks_done: int = 0) -> Figures:
    """The figures of a tally (the definitions in the module docstring)."""
    return Figures(
        calls=t.calls,
        offered=t.offered,
        answered=t.answered,
        abandoned=t.abandoned,
        short_abandoned=t.short,
        failed=t.failed,
        waiting=t.waiting,
        contained=t.contained,
        answer_rate=_rate(t.answered, t.offered),
        abandon_rate=_rate(t.abandoned, t.offered),
        avg_wait_s=_avg(t.wait_answered_sum, t.wait_answered_n),
        avg_wait_all_s=_avg(t.wait_all_sum, t.wait_all_n),
        longest_wait_s=None if t.wait_max is None else round(t.wait_max, 2),
        service_level=_rate(t.in_sl, t.offered - t.short),
        sl_threshold_s=sl_threshold_s,
        containment_rate=_rate(t.contained, t.calls),
        aht_s=_avg(t.talk_sum, t.talk_n),
        surveys=t.surveys,
        survey_avg=_avg(float(t.survey_sum), t.surveys),
        survey_low=t.survey_low,
        survey_low_share=_rate(t.survey_low, t.surveys),
        callbacks_requested=t.callbacks,
        callbacks_done=min(callbacks_done, t.callbacks),
        agents_closed=t.agents_closed,
    )


def tally(
    facts: Iterable[CallFacts], *, sl_threshold_s: float = SL_THRESHOLD_S, short_abandon_s: float = SHORT_ABANDON_S
) -> Tally:
    t = Tally()
    for f in facts:
        t.add(f, category(f, short_abandon_s), within_sl(f, sl_threshold_s))
    return t


def figures(
    facts: Iterable[CallFacts],
    *,
    sl_threshold_s: float = SL_THRESHOLD_S,
    short_abandon_s: float = SHORT_ABANDON_S,
    callbacks_done: int = 0,
) -> Figures:
    """The figures of these calls. ``callbacks_done``: of their callback requests, how many are done
    (the requests' state lives with the requests, not in the facts)."""
    t = tally(facts, sl_threshold_s=sl_threshold_s, short_abandon_s=short_abandon_s)
    return figures_of(t, sl_threshold_s=sl_threshold_s, callbacks_done=callbacks_done)


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
        for node, hung_up in funnel_marks(f):
            entered[node] += 1
            left[node] += hung_up
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
