"""One period's service levels as the CLI, the page and the reports show them (pure).

`summarise` takes the facts rows of the calls started in the period (``store.kpi.facts_between``)
and gives one JSON-ready dict: the figures, the menu funnel, per hour, per day, per team and per
skill, and each target met or missed. Every number comes from ``kpi.definitions``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from kpi import definitions as d
from kpi.facts import CallFacts


def local_bounds(start: date, end: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start 00:00, end+1 00:00) in the hotline's zone: ``end`` is the last day included."""
    lo = datetime(start.year, start.month, start.day, tzinfo=tz)
    hi = datetime(end.year, end.month, end.day, tzinfo=tz) + timedelta(days=1)
    return lo, hi


def summarise(
    rows: Iterable[Mapping[str, Any]],
    *,
    tz: ZoneInfo,
    start: date,
    end: date,
    order: Sequence[str] = (),
    sl_threshold_s: float = d.SL_THRESHOLD_S,
    callbacks_done: int = 0,
    open_hours: Sequence[int] = (),
    team: str = "",
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The period [start, end] (local days, both included). ``order``: menu nodes in menu order;
    ``open_hours``: local hours the agents work (marked on the per-hour figures); ``labels``: node names."""
    facts = [CallFacts.from_row(r) for r in rows]
    kw: dict[str, Any] = {"sl_threshold_s": sl_threshold_s}
    total = d.figures(facts, callbacks_done=callbacks_done, **kw)
    names = labels or {}
    out: dict[str, Any] = total.as_dict()
    out.update(
        period={"from": start.isoformat(), "to": end.isoformat(), "timezone": str(tz), "team": team},
        funnel=[
            {"node": s.node, "label": names.get(s.node, s.node), "entered": s.entered, "left": s.left}
            for s in d.funnel(facts, order)
        ],
        by_hour=[{"hour": h, "open": h in open_hours, **_short(f)} for h, f in d.by_hour(facts, tz, **kw).items()],
        by_day=[
            {"day": day.isoformat(), **_short(f)}
            for day, f in d.by_day(facts, tz, start, end + timedelta(days=1), **kw).items()
        ],
        by_team=[{"team": t or "（未接通）", **_short(f)} for t, f in d.by_team(facts, **kw).items()],
        by_skill=[{"skill": k or "（未转人工）", **_short(f)} for k, f in d.by_skill(facts, **kw).items()],
        targets=[
            {
                "name": k,
                "label": d.TARGET_LABELS[k],
                "op": op,
                "value": bound,
                "actual": out[k],
                "met": d.met(k, out[k]),
            }
            for k, (op, bound) in d.TARGETS.items()
        ],
    )
    return out


SHORT_KEYS = (
    "calls",
    "offered",
    "answered",
    "abandoned",
    "answer_rate",
    "avg_wait_s",
    "service_level",
    "containment_rate",
)


def _short(f: d.Figures) -> dict[str, Any]:
    full = f.as_dict()
    return {k: full[k] for k in SHORT_KEYS}
