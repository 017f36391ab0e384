"""Repository functions for the service levels: a call's row and events in, its facts row out,
the facts of a period, the calls active now, and the 回访 follow-ups.

Rows go out as plain mappings; ``kpi.facts`` gives them their meaning (the store imports nothing
of ours). Times are aware UTC in and out.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Table, and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from store.base import utc
from store.models import Call, CallbackRequest, CallEvent
from store.models_kpi import CallKpi, CallKpiNode, Followup, KpiHour, KpiNodeDay

CALLS: Table = Call.__table__  # type: ignore[assignment]
EVENTS: Table = CallEvent.__table__  # type: ignore[assignment]
FACTS: Table = CallKpi.__table__  # type: ignore[assignment]
FOLLOWUPS: Table = Followup.__table__  # type: ignore[assignment]
NODES: Table = CallKpiNode.__table__  # type: ignore[assignment]
HOURS: Table = KpiHour.__table__  # type: ignore[assignment]
NODE_DAYS: Table = KpiNodeDay.__table__  # type: ignore[assignment]
HOUR_KEYS = ("local_day", "local_hour", "team", "skill")
HOUR_SUMS = tuple(c.name for c in HOURS.columns if c.name not in HOUR_KEYS)
CALLBACKS: Table = CallbackRequest.__table__  # type: ignore[assignment]
# the event kinds the facts are made of (the rest, e.g. speech and keys, are not read)
FACT_EVENTS = (
    "start", "node", "transfer", "fallback", "queue-leg", "dial-leg", "caller-hangup", "callback",
    "agents-closed", "survey",
)  # fmt: skip
CALL_COLUMNS = ("id", "started_at", "ended_at", "status", "duration_s", "outcome", "skill", "team", "survey_score")
FACT_COLUMNS = tuple(c.name for c in FACTS.columns)


def call_id_of(conn: Connection, call_sid: str) -> int | None:
    """The id of the call with this CallSid, or None."""
    return conn.execute(select(Call.id).where(Call.call_sid == call_sid)).scalar()


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


def list_followups(conn: Connection, *, state: str = "", limit: int = 200, now: datetime) -> list[dict[str, Any]]:
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


def _filters(lo: datetime, hi: datetime, team: str, skill: str) -> list[Any]:
    cond: list[Any] = [FACTS.c.started_at >= utc(lo), FACTS.c.started_at < utc(hi)]
    if team:
        cond.append(FACTS.c.team == team)
    if skill:
        cond.append(FACTS.c.skill == skill)
    return cond


def facts_row(conn: Connection, call_id: int) -> dict[str, Any] | None:
    """The call's stored facts row (None before its first), locking the call on PostgreSQL so two
    callbacks of one call cannot both take the same row as the one they replace."""
    if conn.dialect.name != "sqlite":
        conn.execute(select(CALLS.c.id).where(CALLS.c.id == call_id).with_for_update()).first()
    row = conn.execute(select(FACTS).where(FACTS.c.call_id == call_id)).mappings().first()
    return None if row is None else dict(row)


def _bump(conn: Connection, table: Table, keys: Mapping[str, Any], delta: Mapping[str, float]) -> None:
    """Add ``delta`` to the row ``keys`` of a rollup table, creating it (zeros) if missing."""
    changes = {k: v for k, v in delta.items() if v}
    if not changes:
        return
    where = [table.c[k] == v for k, v in keys.items()]
    done = conn.execute(update(table).where(*where).values({k: table.c[k] + v for k, v in changes.items()})).rowcount
    if done:
        return
    zeros = {c.name: 0 for c in table.columns if c.name not in keys}
    try:
        with conn.begin_nested():
            conn.execute(insert(table).values({**zeros, **keys, **changes}))
    except IntegrityError:  # created concurrently: add to it
        conn.execute(update(table).where(*where).values({k: table.c[k] + v for k, v in changes.items()}))


ALL = "*"  # team/skill of the hour rows that add up every team and skill
WHOLE_DAY = -1  # local_hour of the rows that add up a whole day (per team and skill)


def add_to_rollups(
    conn: Connection, hour: Mapping[str, Any], sums: Mapping[str, float], nodes: Mapping[str, tuple[int, int]]
) -> None:
    """Add a change of sums to the call's hour (per team and skill, and for all of them) and to its
    day (per team and skill), and funnel changes, node -> (entered, hung up), to the day's funnel.
    ``hour``: local_day, local_hour, team and skill. Three rows per change keep every read small:
    a month is ~720 hour rows plus a day row per team and skill."""
    keys = {k: hour[k] for k in HOUR_KEYS}
    delta = {k: float(sums.get(k, 0)) for k in HOUR_SUMS}
    _bump(conn, HOURS, keys, delta)
    _bump(conn, HOURS, {**keys, "team": ALL, "skill": ALL}, delta)
    _bump(conn, HOURS, {**keys, "local_hour": WHOLE_DAY}, delta)
    day = {"local_day": keys["local_day"], "team": keys["team"], "skill": keys["skill"]}
    for node, (entered, hung_up) in nodes.items():
        _bump(conn, NODE_DAYS, {**day, "node": node[:64]}, {"entered": entered, "hung_up": hung_up})


def hour_rows(
    conn: Connection, first_day: str, last_day: str, *, team: str = "", skill: str = ""
) -> tuple[tuple[str, ...], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The rollups of local days first_day..last_day (ISO dates, both included): (column names,
    hour rows, day rows per team and skill). Without a team or skill filter the hour rows are the
    all-teams ones (~24 a day); with one, that team's or skill's own."""
    t = HOURS.c
    cols = (*HOUR_KEYS, *HOUR_SUMS)
    cond = [t.local_day >= first_day, t.local_day <= last_day]
    picked = []
    if team:
        picked.append(t.team == team)
    if skill:
        picked.append(t.skill == skill)
    stmt = select(*(t[c] for c in cols))
    if picked:
        hours = conn.execute(stmt.where(*cond, *picked, t.local_hour != WHOLE_DAY)).all()
    else:
        hours = conn.execute(stmt.where(*cond, t.team == ALL, t.skill == ALL)).all()
    days = conn.execute(stmt.where(*cond, *picked, t.local_hour == WHOLE_DAY)).all()
    return cols, [tuple(r) for r in hours], [tuple(r) for r in days]


def node_sums(
    conn: Connection, first_day: str, last_day: str, *, team: str = "", skill: str = ""
) -> list[tuple[str, int, int]]:
    """(node, entered, hung up there) over local days first_day..last_day."""
    t = NODE_DAYS.c
    cond = [t.local_day >= first_day, t.local_day <= last_day]
    if team:
        cond.append(t.team == team)
    if skill:
        cond.append(t.skill == skill)
    stmt = select(t.node, func.sum(t.entered), func.sum(t.hung_up)).where(*cond).group_by(t.node)
    return [(str(n), int(e or 0), int(h or 0)) for n, e, h in conn.execute(stmt) if e]


def longest_wait(conn: Connection, lo: datetime, hi: datetime, *, team: str = "", skill: str = "") -> float | None:
    """The longest queue time of calls started in [lo, hi) (a maximum cannot be kept by adding)."""
    stmt = select(func.max(FACTS.c.wait_s)).where(*_filters(lo, hi, team, skill))  # only offered calls have one
    v = conn.execute(stmt).scalar()
    return None if v is None else float(v)


def clear_all(conn: Connection) -> None:
    """Forget every call's facts and the rollups (before rebuilding them all)."""
    for table in (NODE_DAYS, HOURS, NODES, FACTS):
        conn.execute(delete(table))
