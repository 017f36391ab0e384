"""Repository functions for the service levels: a call's row and events in, its facts row out,
the facts of a period, the calls active now, and the 回访 follow-ups.

Rows go out as plain mappings; ``kpi.facts`` gives them their meaning (the store imports nothing
of ours). Times are aware UTC in and out.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Table, and_, case, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from store.base import utc
from store.models import Call, CallbackRequest, CallEvent
from store.models_kpi import CallKpi, CallKpiNode, Followup

CALLS: Table = Call.__table__  # type: ignore[assignment]
EVENTS: Table = CallEvent.__table__  # type: ignore[assignment]
FACTS: Table = CallKpi.__table__  # type: ignore[assignment]
FOLLOWUPS: Table = Followup.__table__  # type: ignore[assignment]
NODES: Table = CallKpiNode.__table__  # type: ignore[assignment]
CALLBACKS: Table = CallbackRequest.__table__  # type: ignore[assignment]
# the event kinds the facts are made of (the rest, e.g. speech and keys, are not read)
FACT_EVENTS = (
    "start", "node", "transfer", "fallback", "queue-leg", "dial-leg", "caller-hangup", "callback",
    "agents-closed", "survey",
)  # fmt: skip
CALL_COLUMNS = ("id", "started_at", "ended_at", "status", "duration_s", "outcome", "skill", "team", "survey_score")
FACT_COLUMNS = tuple(c.name for c in FACTS.columns)


def call_and_events(conn: Connection, call_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """The call's row and its fact-bearing events (at, kind, node, detail), or None if no such call."""
    row = conn.execute(select(*(CALLS.c[c] for c in CALL_COLUMNS)).where(CALLS.c.id == call_id)).mappings().first()
    if row is None:
        return None
    evs = conn.execute(
        select(EVENTS.c.at, EVENTS.c.kind, EVENTS.c.node, EVENTS.c.detail)
        .where(EVENTS.c.call_id == call_id, EVENTS.c.kind.in_(FACT_EVENTS))
        .order_by(EVENTS.c.id)
    ).mappings()
    return dict(row), [dict(e) for e in evs]


def save_facts(conn: Connection, row: Mapping[str, Any], nodes: Sequence[tuple[str, bool]] = ()) -> None:
    """Insert or replace a call's facts row (one per call) and its funnel rows: (node, hung up there)."""
    _save_row(conn, row)
    conn.execute(delete(NODES).where(NODES.c.call_id == row["call_id"]))
    if nodes:
        conn.execute(insert(NODES), [{"call_id": row["call_id"], "node": n[:64], "hung_up": h} for n, h in nodes])


def _save_row(conn: Connection, row: Mapping[str, Any]) -> None:
    values = {k: row[k] for k in FACT_COLUMNS if k in row}
    cid = values["call_id"]
    done = conn.execute(update(FACTS).where(FACTS.c.call_id == cid).values(**values)).rowcount
    if not done:
        try:
            with conn.begin_nested():
                conn.execute(insert(FACTS).values(**values))
        except IntegrityError:  # written concurrently by another callback of the same call
            conn.execute(update(FACTS).where(FACTS.c.call_id == cid).values(**values))


def ensure_followup(conn: Connection, call_id: int, score: int, surveyed_at: datetime, due_at: datetime) -> bool:
    """A 回访 task for this call if it has none (a retried survey callback makes no second one)."""
    if conn.execute(select(FOLLOWUPS.c.id).where(FOLLOWUPS.c.call_id == call_id)).first() is not None:
        return False
    try:
        with conn.begin_nested():
            conn.execute(
                insert(FOLLOWUPS).values(
                    call_id=call_id, score=score, surveyed_at=surveyed_at, due_at=due_at, done_by="", note=""
                )
            )
    except IntegrityError:
        return False
    return True


def callbacks_done(conn: Connection, start: datetime, end: datetime) -> int:
    """Callback requests made in [start, end) that are done (the call-back made)."""
    stmt = select(func.count()).where(
        CALLBACKS.c.requested_at >= utc(start), CALLBACKS.c.requested_at < utc(end), CALLBACKS.c.status == "done"
    )
    return int(conn.execute(stmt).scalar() or 0)


def active_calls(
    conn: Connection, now: datetime, *, max_age: timedelta = timedelta(hours=4)
) -> list[tuple[bool, datetime | None]]:
    """(in the queue, queued since) for each call started in the last ``max_age`` and not over.

    A call whose status callback never came stops counting after ``max_age``.
    """
    since = utc(now - max_age)
    stmt = (
        select(CALLS.c.id, FACTS.c.offered, FACTS.c.enqueued_at, FACTS.c.leg_result)
        .select_from(CALLS.outerjoin(FACTS, FACTS.c.call_id == CALLS.c.id))
        .where(CALLS.c.started_at >= since, CALLS.c.ended_at.is_(None), CALLS.c.call_sid.not_like("ingest:%"))
    )
    out: list[tuple[bool, datetime | None]] = []
    for r in conn.execute(stmt):
        queued = bool(r.offered) and not r.leg_result
        out.append((queued, utc(r.enqueued_at) if r.enqueued_at else None))
    return out


def call_ids(conn: Connection, *, batch: int = 1000) -> Iterator[list[int]]:
    """Every call id, in batches (for rebuilding the facts)."""
    last = 0
    while True:
        ids = [
            r[0] for r in conn.execute(select(CALLS.c.id).where(CALLS.c.id > last).order_by(CALLS.c.id).limit(batch))
        ]
        if not ids:
            return
        yield ids
        last = ids[-1]


def list_followups(conn: Connection, *, state: str = "", limit: int = 500, now: datetime) -> list[dict[str, Any]]:
    """Follow-ups with their call: ``state`` open (not done, due later), overdue, done, or "" for all."""
    cond: list[Any] = []
    n = utc(now)
    if state == "open":
        cond += [FOLLOWUPS.c.done_at.is_(None), FOLLOWUPS.c.due_at >= n]
    elif state == "overdue":
        cond += [FOLLOWUPS.c.done_at.is_(None), FOLLOWUPS.c.due_at < n]
    elif state == "done":
        cond.append(FOLLOWUPS.c.done_at.is_not(None))
    stmt = (
        select(FOLLOWUPS, CALLS.c.call_sid, CALLS.c.caller_masked, CALLS.c.agent_id, CALLS.c.team, CALLS.c.skill)
        .join(CALLS, CALLS.c.id == FOLLOWUPS.c.call_id)
        .where(*cond)
        .order_by(FOLLOWUPS.c.done_at.is_not(None), FOLLOWUPS.c.due_at)
        .limit(limit)
    )
    return [dict(r) for r in conn.execute(stmt).mappings()]


def followup_counts(conn: Connection, now: datetime) -> dict[str, int]:
    n = utc(now)
    open_ = FOLLOWUPS.c.done_at.is_(None)
    q = select(
        func.count().filter(and_(open_, FOLLOWUPS.c.due_at >= n)),
        func.count().filter(and_(open_, FOLLOWUPS.c.due_at < n)),
        func.count().filter(FOLLOWUPS.c.done_at.is_not(None)),
        func.count().filter(and_(FOLLOWUPS.c.done_at.is_not(None), FOLLOWUPS.c.done_at > FOLLOWUPS.c.due_at)),
    )
    a, b, c, d = conn.execute(q).one()
    return {"open": int(a), "overdue": int(b), "done": int(c), "done_late": int(d)}


def finish_followup(conn: Connection, followup_id: int, *, by: str, note: str, now: datetime) -> bool:
    """Mark a follow-up done (once: a second submit changes nothing). False if there is none."""
    row = conn.execute(select(FOLLOWUPS.c.done_at).where(FOLLOWUPS.c.id == followup_id)).first()
    if row is None:
        return False
    if row.done_at is None:
        conn.execute(
            update(FOLLOWUPS).where(FOLLOWUPS.c.id == followup_id).values(done_at=utc(now), done_by=by[:64], note=note)
        )
    return True


def delete_facts(conn: Connection, call_ids_: Sequence[int]) -> None:
    conn.execute(delete(FACTS).where(FACTS.c.call_id.in_(list(call_ids_))))


def _filters(lo: datetime, hi: datetime, team: str, skill: str) -> list[Any]:
    cond: list[Any] = [FACTS.c.started_at >= utc(lo), FACTS.c.started_at < utc(hi)]
    if team:
        cond.append(FACTS.c.team == team)
    if skill:
        cond.append(FACTS.c.skill == skill)
    return cond


def tallies(
    conn: Connection, lo: datetime, hi: datetime, *, team: str = "", skill: str = "", low_survey: int = 4
) -> list[dict[str, Any]]:
    """Sums of the calls started in [lo, hi) per (local day, local hour, team, skill): the fields of
    ``kpi.definitions.Tally`` plus the four keys. Only sums of per-call values the facts already hold
    (their class is decided in Python when the facts are written), so the SQL defines nothing."""
    f = FACTS.c
    cat = f.category

    def n(cond: Any) -> Any:
        return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

    def total(cond: Any, col: Any) -> Any:
        return func.coalesce(func.sum(case((cond, col), else_=None)), 0)

    def count(cond: Any, col: Any) -> Any:
        return func.count(case((cond, col), else_=None))

    answered = cat == "answered"
    offered = cat != ""
    cols = [
        f.local_day, f.local_hour, f.team, f.skill,
        func.count().label("calls"),
        n(offered).label("offered"),
        n(answered).label("answered"),
        n(cat == "abandoned").label("abandoned"),
        n(cat == "short").label("short"),
        n(cat == "failed").label("failed"),
        n(cat == "waiting").label("waiting"),
        n(f.contained.is_(True)).label("contained"),
        n(f.in_sl.is_(True)).label("in_sl"),
        n(f.callback_requested.is_(True)).label("callbacks"),
        n(f.agents_closed.is_(True)).label("agents_closed"),
        total(answered, f.wait_s).label("wait_answered_sum"),
        count(answered, f.wait_s).label("wait_answered_n"),
        total(offered, f.wait_s).label("wait_all_sum"),
        count(offered, f.wait_s).label("wait_all_n"),
        func.max(case((offered, f.wait_s), else_=None)).label("wait_max"),
        total(answered, f.talk_s).label("talk_sum"),
        count(answered, f.talk_s).label("talk_n"),
        func.count(f.survey_score).label("surveys"),
        func.coalesce(func.sum(f.survey_score), 0).label("survey_sum"),
        n(f.survey_score < low_survey).label("survey_low"),
    ]  # fmt: skip
    stmt = select(*cols).where(*_filters(lo, hi, team, skill)).group_by(f.local_day, f.local_hour, f.team, f.skill)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def funnel_counts(
    conn: Connection, lo: datetime, hi: datetime, *, team: str = "", skill: str = ""
) -> list[tuple[str, int, int]]:
    """(node, calls that entered it, callers who hung up there) for calls started in [lo, hi)."""
    stmt = (
        select(NODES.c.node, func.count(), func.coalesce(func.sum(case((NODES.c.hung_up.is_(True), 1), else_=0)), 0))
        .select_from(NODES.join(FACTS, FACTS.c.call_id == NODES.c.call_id))
        .where(*_filters(lo, hi, team, skill))
        .group_by(NODES.c.node)
    )
    return [(str(r[0]), int(r[1]), int(r[2])) for r in conn.execute(stmt)]
