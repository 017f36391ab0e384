"""One period's service levels as the CLI, the page and the reports show them (pure).

`summarise` takes the period's tallies per (local day, local hour, team, skill) and its funnel counts
(``store.kpi.hour_sums`` / ``node_sums``: rollups of per-call shares classed by ``kpi.definitions``)
and gives one JSON-ready dict: the figures, the menu funnel, per hour, per day, per team and per
skill, and each target met or missed. Every number comes from ``kpi.definitions``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from kpi import definitions as d

TALLY_FIELDS = tuple(f.name for f in fields(d.Tally))
FLOAT_FIELDS = frozenset({"wait_answered_sum", "wait_all_sum", "talk_sum"})
SHORT_KEYS = (
    "calls", "offered", "answered", "abandoned", "answer_rate", "avg_wait_s", "service_level", "containment_rate",
)  # fmt: skip


def local_bounds(start: date, end: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start 00:00, end+1 00:00) in the hotline's zone: ``end`` is the last day included."""
    lo = datetime(start.year, start.month, start.day, tzinfo=tz)
    hi = datetime(end.year, end.month, end.day, tzinfo=tz) + timedelta(days=1)
    return lo, hi


def matrix(cols: Sequence[str], rows: Sequence[Sequence[Any]]) -> tuple[list[str], Any]:
    """The `Tally` sums of rollup rows as one numpy matrix (and their names), built once."""
    sums = [c for c in cols if c in TALLY_FIELDS]
    first = len(cols) - len(sums)
    if list(cols[first:]) != sums:
        raise ValueError("the rollup's sums must follow its keys")
    return sums, np.array([r[first:] for r in rows], dtype=float).reshape(len(rows), len(sums))


def group_sums(
    cols: Sequence[str], rows: Sequence[Sequence[Any]], key: str | None, m: tuple[list[str], Any] | None = None
) -> dict[Any, d.Tally]:
    """Add up rollup rows (columns ``cols``: the keys, then the `Tally` sums) per value of ``key``
    (None: one total under the key None). numpy, so a year of rows adds up in milliseconds."""
    if not rows:
        return {}
    sums, values = m or matrix(cols, rows)
    if key is None:
        return {None: _tally(sums, values.sum(axis=0))}
    k = list(cols).index(key)
    labels = [r[k] for r in rows]
    pos = {v: i for i, v in enumerate(sorted(set(labels), key=str))}
    out = np.zeros((len(pos), len(sums)))
    np.add.at(out, np.fromiter((pos[v] for v in labels), dtype=int, count=len(labels)), values)
    return {v: _tally(sums, out[i]) for v, i in pos.items()}


def _tally(names: Sequence[str], vec: Any) -> d.Tally:
    t = d.Tally()
    for name, v in zip(names, vec, strict=True):
        setattr(t, name, float(v) if name in FLOAT_FIELDS else round(float(v)))
    return t


def summarise(
    cols: Sequence[str],
    rows: Sequence[Sequence[Any]],
    day_rows: Sequence[Sequence[Any]],
    funnel: Iterable[tuple[str, int, int]],
    *,
    tz: ZoneInfo,
    start: date,
    end: date,
    order: Sequence[str] = (),
    sl_threshold_s: float = d.SL_THRESHOLD_S,
    callbacks_done: int = 0,
    longest_wait_s: float | None = None,
    open_hours: Sequence[int] = (),
    team: str = "",
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The period [start, end] (local days, both included). ``cols``: the rollups' columns (local_day,
    local_hour, team, skill, then `Tally` sums); ``rows``: hour rows; ``day_rows``: whole-day rows per
    team and skill; ``funnel``: (node, entered, hung up there); ``order``: menu nodes in menu order;
    ``open_hours``: local hours the agents work; ``labels``: node names."""

    def figs(t: d.Tally | None) -> d.Figures:
        return d.figures_of(t or d.Tally(), sl_threshold_s=sl_threshold_s)

    m = matrix(cols, rows)
    total = group_sums(cols, rows, None, m).get(None) or d.Tally()
    out: dict[str, Any] = d.figures_of(total, sl_threshold_s=sl_threshold_s, callbacks_done=callbacks_done).as_dict()
    if longest_wait_s is not None:  # the rollups keep sums only; the maximum is read apart
        out["longest_wait_s"] = round(longest_wait_s, 2)
    hours = {int(k): v for k, v in group_sums(cols, rows, "local_hour", m).items()}
    days = group_sums(cols, rows, "local_day", m)
    dm = matrix(cols, day_rows)
    teams = {k or "": v for k, v in group_sums(cols, day_rows, "team", dm).items()}
    skills = {k or "": v for k, v in group_sums(cols, day_rows, "skill", dm).items()}
    names = labels or {}
    rank = {n: i for i, n in enumerate(order)}
    steps = sorted(funnel, key=lambda s: (rank.get(s[0], len(rank)), -s[1], s[0]))
    n_days = (end - start).days + 1
    out.update(
        period={"from": start.isoformat(), "to": end.isoformat(), "timezone": str(tz), "team": team},
        funnel=[{"node": n, "label": names.get(n, n), "entered": e, "left": left} for n, e, left in steps],
        by_hour=[{"hour": h, "open": h in open_hours, **_short(figs(hours.get(h)))} for h in range(24)],
        by_day=[
            {"day": day, **_short(figs(days.get(day)))}
            for day in ((start + timedelta(days=i)).isoformat() for i in range(n_days))
        ],
        by_team=[{"team": k or "（无班组）", **_short(figs(v))} for k, v in sorted(teams.items())],
        by_skill=[{"skill": k or "（未转人工）", **_short(figs(v))} for k, v in sorted(skills.items())],
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


def _short(f: d.Figures) -> dict[str, Any]:
    full = f.as_dict()
    return {k: full[k] for k in SHORT_KEYS}
