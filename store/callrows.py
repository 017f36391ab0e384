"""The webhooks' reads and writes of a call's row and events, compiled once and run on the DBAPI cursor.

Every Twilio webhook runs a handful of tiny statements. Through ``Connection.execute`` each one
cost several times what SQLite took to run it (cache keys, execution contexts, result objects),
and a new call took 8 round trips (SELECT, BEGIN, SAVEPOINT, INSERT, RELEASE, UPDATE, INSERT,
COMMIT). Here the statements are compiled by SQLAlchemy for the engine's dialect once (same SQL,
same column types and defaults) and executed on the pooled DBAPI connection in one transaction:
a new call is one INSERT … ON CONFLICT DO NOTHING RETURNING with its first state, one INSERT of
its events and the COMMIT.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Engine, Table, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from store.base import utcnow
from store.models import Call, CallbackRequest, CallEvent

CALLS: Table = Call.__table__  # type: ignore[assignment]
EVENTS: Table = CallEvent.__table__  # type: ignore[assignment]
CALLBACKS: Table = CallbackRequest.__table__  # type: ignore[assignment]
STATE_COLUMNS = ("id", "flow_state", "outcome", "status")
Event = tuple[str, str, Mapping[str, Any]]  # (kind, node, detail)


@dataclass(frozen=True)
class CallState:
    """The few columns a webhook needs to take a step (read without loading the whole row)."""

    id: int
    flow_state: dict[str, Any]
    outcome: str
    status: str = ""


class Prepared:
    """One statement compiled for a dialect, with its parameters' order and type conversions."""

    def __init__(self, stmt: ClauseElement, dialect: Dialect) -> None:
        compiled = cast(SQLCompiler, stmt.compile(dialect=dialect))
        self.sql = compiled.string
        self.positional = bool(compiled.positional)
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ()) if self.positional else tuple(compiled.binds)
        convert: dict[str, Callable[[Any], Any]] = {}
        for name in self.names:
            proc = compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            if proc is not None:
                convert[name] = proc
        self.convert = convert
        self.plan = tuple((n, convert.get(n)) for n in self.names)
        # binds the statement fixed itself (a LIMIT's number): their own values
        self.fixed = {n: b.effective_value for n, b in compiled.binds.items() if b.value is not None}

    def params(self, values: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        if self.fixed:
            values = {**self.fixed, **values}
        if self.positional:
            return tuple([values[n] if c is None else c(values[n]) for n, c in self.plan])
        return {n: values[n] if c is None else c(values[n]) for n, c in self.plan}


def _reader(table: Table, column: str, dialect: Dialect) -> Callable[[Any], Any]:
    proc = table.c[column].type.dialect_impl(dialect).result_processor(dialect, None)
    return proc or (lambda v: v)


def _defaults(table: Table) -> dict[str, Callable[[], Any]]:
    """The model's Python-side column defaults, as SQLAlchemy would fill them in an INSERT."""
    out: dict[str, Callable[[], Any]] = {}
    for col in table.c:
        d: Any = col.default
        if d is not None and d.is_scalar:
            out[col.name] = (lambda v: lambda: v)(d.arg)
        elif d is not None and d.is_callable:
            out[col.name] = (lambda f: lambda: f(None))(d.arg)  # SQLAlchemy's wrapper takes a context
    return out


def _insert_on_conflict(table: Table, dialect: Dialect, columns: Sequence[str], conflict: str) -> Any:
    values: dict[str, Any] = {c: bindparam(c) for c in columns}
    if dialect.name == "sqlite":
        return sqlite.insert(table).values(values).on_conflict_do_nothing(index_elements=[conflict])
    if dialect.name == "postgresql":
        return postgresql.insert(table).values(values).on_conflict_do_nothing(index_elements=[conflict])
    raise ValueError(f"unsupported database {dialect.name!r}: SQLite or PostgreSQL")


class CallRows:
    """The statements of one engine (built once per app)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        d = self.dialect = engine.dialect
        self.lock_rows = d.name != "sqlite"  # PostgreSQL: concurrent webhooks of a call wait their turn
        state = select(*(CALLS.c[c] for c in STATE_COLUMNS)).where(CALLS.c.call_sid == bindparam("sid"))
        self.select_state = Prepared(state.with_for_update() if self.lock_rows else state, d)
        self.peek_state = Prepared(state, d)
        self.select_id = Prepared(select(CALLS.c.id).where(CALLS.c.call_sid == bindparam("sid")), d)
        self.call_defaults = _defaults(CALLS)
        self.call_columns = tuple(c.name for c in CALLS.c if c.name != "id")
        new = _insert_on_conflict(CALLS, d, self.call_columns, "call_sid").returning(CALLS.c.id)
        self.insert_call = Prepared(new, d)
        self.event_defaults = _defaults(EVENTS)
        self.event_columns = ("call_id", "at", "kind", "node", "detail", "request_key")
        self.insert_event = Prepared(insert(EVENTS).values({c: bindparam(c) for c in self.event_columns}), d)
        seen = select(EVENTS.c.id).where(EVENTS.c.call_id == bindparam("cid"), EVENTS.c.request_key == bindparam("key"))
        self.select_seen = Prepared(seen.limit(1), d)
        self.select_ended = Prepared(select(CALLS.c.ended_at).where(CALLS.c.id == bindparam("cid")), d)
        cb_columns = ("call_id", "number", "skill", "requested_at", "status")
        self.callback_defaults = _defaults(CALLBACKS)
        self.callback_columns = tuple(c.name for c in CALLBACKS.c if c.name != "id")
        assert set(cb_columns) <= set(self.callback_columns)
        self.insert_callback = Prepared(insert(CALLBACKS).values({c: bindparam(c) for c in self.callback_columns}), d)
        self.read_state = _reader(CALLS, "flow_state", d)
        self.read_ended = _reader(CALLS, "ended_at", d)

    @lru_cache(maxsize=64)  # noqa: B019 - one CallRows per app, a few column sets
    def update_call(self, columns: tuple[str, ...]) -> Prepared:
        stmt = update(CALLS).where(CALLS.c.id == bindparam("cid")).values({c: bindparam(f"v_{c}") for c in columns})
        return Prepared(stmt, self.dialect)

    @contextmanager
    def begin(self) -> Iterator[CallTx]:
        """One transaction on a pooled connection: committed if the block ends, rolled back if it raises."""
        raw = self.engine.raw_connection()
        try:
            cur = raw.cursor()
            yield CallTx(self, cur)
            cur.close()
            raw.commit()
        except BaseException:
            raw.rollback()
            raise
        finally:
            raw.close()  # back to the pool


class CallTx:
    """The statements inside one transaction (`CallRows.begin`)."""

    def __init__(self, rows: CallRows, cursor: Any) -> None:
        self.rows, self.cur = rows, cursor

    def _run(self, prep: Prepared, values: Mapping[str, Any]) -> Any:
        self.cur.execute(prep.sql, prep.params(values))
        return self.cur

    def state(self, call_sid: str, *, lock: bool = True) -> CallState | None:
        """The call's state (``lock``: row-locked on PostgreSQL until the end), or None when there is no such call."""
        prep = self.rows.select_state if lock else self.rows.peek_state
        row = self._run(prep, {"sid": call_sid}).fetchone()
        if row is None:
            return None
        return CallState(row[0], self.rows.read_state(row[1]) or {}, row[2] or "", row[3] or "")

    def call_id(self, call_sid: str) -> int | None:
        row = self._run(self.rows.select_id, {"sid": call_sid}).fetchone()
        return None if row is None else int(row[0])

    def create(self, call_sid: str, values: Mapping[str, Any]) -> int | None:
        """Insert the call with these columns (the rest take the model's defaults); None if it exists."""
        rows = self.rows
        full = {"call_sid": call_sid, **values}
        for name, default in rows.call_defaults.items():
            if name not in full:
                full[name] = default()
        for name in rows.call_columns:
            full.setdefault(name, None)
        row = self._run(rows.insert_call, full).fetchone()
        return None if row is None else int(row[0])

    def load_or_create(self, call_sid: str, *, caller_masked: str = "") -> tuple[CallState, bool]:
        """The call's state, creating the call (in progress, no state yet) if it is new."""
        found = self.state(call_sid)
        if found is not None:
            return found, False
        new_id = self.create(call_sid, {"caller_masked": caller_masked, "status": "in-progress"})
        if new_id is None:  # inserted concurrently by another request
            found = self.state(call_sid)
            assert found is not None
            return found, False
        return CallState(new_id, {}, "", "in-progress"), True

    def update(self, call_id: int, values: Mapping[str, Any]) -> None:
        if values:
            prep = self.rows.update_call(tuple(sorted(values)))
            self._run(prep, {"cid": call_id, **{f"v_{k}": v for k, v in values.items()}})

    def add_events(self, call_id: int, events: Iterable[Event], *, request_key: str = "") -> None:
        """Append events ``(kind, node, detail)``, tagged with the request that caused them."""
        prep = self.rows.insert_event
        now = utcnow()
        batch = [
            prep.params(
                {"call_id": call_id, "at": now, "kind": k, "node": n, "detail": dict(d), "request_key": request_key}
            )
            for k, n, d in events
        ]
        if len(batch) == 1:
            self.cur.execute(prep.sql, batch[0])
        elif batch:
            self.cur.executemany(prep.sql, batch)

    def save_step(self, call_id: int, values: Mapping[str, Any], events: Iterable[Event], *, request_key: str) -> None:
        """Write one flow step: the changed call columns and its events."""
        self.update(call_id, values)
        self.add_events(call_id, events, request_key=request_key)

    def seen_key(self, call_id: int, request_key: str) -> bool:
        """Whether an event for this request was already stored (a retried callback)."""
        return self._run(self.rows.select_seen, {"cid": call_id, "key": request_key}).fetchone() is not None

    def ended_at(self, call_id: int) -> Any:
        """The call's end time: the one already recorded, else now."""
        row = self._run(self.rows.select_ended, {"cid": call_id}).fetchone()
        ended = self.rows.read_ended(row[0]) if row is not None else None
        return ended or utcnow()

    def add_callback_request(self, call_id: int, *, number: str, skill: str) -> None:
        """The one place the caller's full number is kept: we need it to call back."""
        rows = self.rows
        values: dict[str, Any] = {
            "call_id": call_id,
            "number": number[:32],
            "skill": skill,
            "requested_at": utcnow(),
            "status": "open",
        }
        for name, default in rows.callback_defaults.items():
            values.setdefault(name, default())
        for name in rows.callback_columns:
            values.setdefault(name, None)
        self._run(rows.insert_callback, values)
