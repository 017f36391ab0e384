"""Weekly trends of the automatic scores: means per team or agent, the score histogram, customer
sentiment shares and the most failed items. Aggregated in SQL, portable between SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from store.base import utc
from store.models import Call
from store.models_pipeline import ScoreRow
from store.search_filters import SENTIMENT_BANDS, sentiment_conds

FINITE_BOUND = 1e300  # SQL has no isfinite(): |x| < this excludes ±Infinity and (PostgreSQL) NaN


def _day(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def iso_week(d: date) -> str:
    y, w, _ = d.isocalendar()
    return f"{y}-W{w:02d}"


def weekly_scores(
    s: Session, start: datetime, end: datetime, by: str = "team", team: str = ""
) -> dict[str, dict[str, tuple[float, int]]]:
    """key (team or agent) -> ISO week -> (mean automatic score, calls); aggregated by day in SQL."""
    key = Call.agent_id if by == "agent" else Call.team
    day = func.date(Call.started_at)
    q = (
        select(key, day, func.sum(ScoreRow.total), func.count(ScoreRow.id))
        .join(ScoreRow, ScoreRow.call_id == Call.id)
        .where(Call.started_at >= utc(start), Call.started_at < utc(end))
        # only finite totals: an infinite (or, on PostgreSQL, NaN) one would poison the mean
        .where(ScoreRow.total > -FINITE_BOUND, ScoreRow.total < FINITE_BOUND)
        .group_by(key, day)
    )
    if team:
        q = q.where(Call.team == team)
    acc: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0.0, 0.0]))
    for k, d, total, n in s.execute(q):
        cell = acc[k or "(无)"][iso_week(_day(d))]
        cell[0] += float(total or 0.0)
        cell[1] += int(n)
    return {
        k: {w: (round(v[0] / v[1], 1) if v[1] else 0.0, int(v[1])) for w, v in sorted(weeks.items())}
        for k, weeks in acc.items()
    }


def _in_window(q: Select[Any], start: datetime, end: datetime, team: str) -> Select[Any]:
    """Scores of the calls that started in [start, end), of one team if given."""
    q = q.join(Call, Call.id == ScoreRow.call_id).where(Call.started_at >= utc(start), Call.started_at < utc(end))
    return q.where(Call.team == team) if team else q


def score_histogram(s: Session, start: datetime, end: datetime, team: str = "", bins: int = 10) -> list[int]:
    """Counts of automatic totals in bins of 100/bins points (CASE buckets: portable SQL)."""
    width = 100 / bins
    cols = [
        func.sum(
            case(
                (
                    and_(ScoreRow.total >= i * width, ScoreRow.total < (i + 1) * width)
                    if i < bins - 1
                    else ScoreRow.total >= i * width,
                    1,
                ),
                else_=0,
            )
        )
        for i in range(bins)
    ]
    row = s.execute(_in_window(select(*cols), start, end, team)).one()
    return [int(v or 0) for v in row]


def sentiment_share(s: Session, start: datetime, end: datetime, team: str = "") -> dict[str, int]:
    cols = [func.sum(case((and_(*sentiment_conds(band)), 1), else_=0)) for band in SENTIMENT_BANDS]
    row = s.execute(_in_window(select(*cols), start, end, team)).one()
    return {name: int(v or 0) for name, v in zip(SENTIMENT_BANDS, row, strict=True)}


def failed_items(
    s: Session, start: datetime, end: datetime, team: str = "", cap: int = 20000
) -> list[tuple[str, int, int]]:
    """(item, calls where it scored below its max, calls seen), most failed first; newest ``cap`` calls."""
    q = _in_window(select(ScoreRow.items), start, end, team).order_by(Call.started_at.desc()).limit(cap)
    failed: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    for (items,) in s.execute(q):
        for name, item in (items or {}).items():
            seen[name] += 1
            try:
                if float(item.get("score", 0)) < float(item.get("max", 0)):
                    failed[name] += 1
            except (TypeError, ValueError, AttributeError):
                continue
    return sorted(((n, failed[n], seen[n]) for n in seen), key=lambda t: (-t[1], t[0]))


def item_names(s: Session) -> dict[str, str]:
    """Item id -> display name, from the newest score (names travel with the scores)."""
    items = s.scalar(select(ScoreRow.items).order_by(ScoreRow.id.desc()).limit(1)) or {}
    return {k: str(v.get("name", k)) for k, v in items.items() if isinstance(v, dict)}
