"""Repository functions for calls on an ORM Session: recordings, the fallback's events, lookups.

The webhooks' per-step reads and writes (a call's state, its events, callback requests) are in
``store.callrows``, compiled once for speed; these serve the rarer callbacks and the CLI.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Table, event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.base import utcnow
from store.models import Call, CallEvent
from store.models_pipeline import Recording

WAL_LIMIT = 64 * 1024 * 1024
CALLS: Table = Call.__table__  # type: ignore[assignment]
EVENTS: Table = CallEvent.__table__  # type: ignore[assignment]


def background_checkpoints(engine: Engine, every_s: float = 1.0) -> threading.Thread | None:
    """SQLite only: move WAL checkpoints (the only fsyncs in WAL+NORMAL) off the request path.

    By default the connection whose commit crosses 1000 WAL pages runs the checkpoint and
    its request waits for the fsync (hundreds of ms on slow disks). Here new connections
    never auto-checkpoint and a daemon thread runs a non-blocking PASSIVE checkpoint.
    """
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return None

    @event.listens_for(engine, "connect")
    def _no_autocheckpoint(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA wal_autocheckpoint=0")
        cur.close()

    engine.dispose()  # pooled connections made before the listener get the pragma on reconnect
    path = str(engine.url.database)
    alive = weakref.ref(engine)  # the thread ends once the app's engine is gone

    def run() -> None:
        import os
        import sqlite3

        conn = sqlite3.connect(path, timeout=30, check_same_thread=False)
        try:
            while alive() is not None:
                time.sleep(every_s)
                try:
                    big = os.path.exists(path + "-wal") and os.path.getsize(path + "-wal") > WAL_LIMIT
                    mode = "TRUNCATE" if big else "PASSIVE"  # readers that never pause: force it back down
                    conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchall()
                except (sqlite3.Error, OSError):
                    pass  # busy or gone: try again next time
        finally:
            conn.close()

    thread = threading.Thread(target=run, name="sqlite-checkpoint", daemon=True)
    thread.start()
    return thread


def get_call(session: Session, call_sid: str, *, lock: bool = False) -> Call | None:
    """The call with this CallSid; ``lock`` serialises concurrent webhooks on PostgreSQL."""
    stmt = select(Call).where(Call.call_sid == call_sid)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()


def create_call(
    session: Session, call_sid: str, *, caller_masked: str = "", started_at: datetime | None = None
) -> Call:
    call = Call(
        call_sid=call_sid,
        caller_masked=caller_masked,
        started_at=started_at or utcnow(),
        menu_path=[],
        flow_state={},
        status="in-progress",
    )
    session.add(call)
    session.flush()
    return call


def get_or_create_call(session: Session, call_sid: str, *, caller_masked: str = "") -> tuple[Call, bool]:
    """Existing call or a new one; a concurrent insert of the same CallSid is resolved, not raised."""
    call = get_call(session, call_sid, lock=True)
    if call is not None:
        return call, False
    try:
        with session.begin_nested():
            call = create_call(session, call_sid, caller_masked=caller_masked)
        return call, True
    except IntegrityError:
        found = get_call(session, call_sid, lock=True)
        if found is None:  # pragma: no cover - the row vanished between insert and select
            raise
        return found, False


def add_events(
    session: Session, call: Call, events: Iterable[tuple[str, str, Mapping[str, Any]]], *, request_key: str = ""
) -> None:
    """Append events ``(kind, node, detail)`` to a call, tagged with the request that caused them."""
    now = utcnow()
    for kind, node, detail in events:
        session.add(
            CallEvent(call_id=call.id, at=now, kind=kind, node=node, detail=dict(detail), request_key=request_key)
        )


def seen_request(session: Session, call: Call, request_key: str) -> bool:
    """Whether an event for this request was already stored (a retried webhook)."""
    stmt = select(CallEvent.id).where(CallEvent.call_id == call.id, CallEvent.request_key == request_key).limit(1)
    return session.scalars(stmt).first() is not None


class RecordingConflict(Exception):
    """The RecordingSid is already stored for another call: refused, never re-pointed."""


@dataclass(frozen=True)
class RecordingRef:
    call_id: int
    recording_id: int
    created: bool


def save_recording(
    session: Session,
    call: Call,
    *,
    recording_sid: str,
    url: str,
    duration_s: float | None = None,
    channels: int = 0,
) -> RecordingRef:
    """Store a completed recording once per RecordingSid and point the call at it (idempotent).

    Raises RecordingConflict if the RecordingSid belongs to another call (the transaction rolls back).
    """
    existing = session.scalars(select(Recording).where(Recording.recording_sid == recording_sid)).first()
    created = False
    if existing is None:
        try:
            with session.begin_nested():
                existing = Recording(
                    call_id=call.id,
                    recording_sid=recording_sid,
                    source_url=url,
                    duration_s=duration_s,
                    channels=channels,
                )
                session.add(existing)
                session.flush()
            created = True
        except IntegrityError:
            existing = session.scalars(select(Recording).where(Recording.recording_sid == recording_sid)).one()
    if existing.call_id != call.id:
        raise RecordingConflict(recording_sid)
    call.recording_sid = recording_sid
    call.recording_url = url
    return RecordingRef(call_id=call.id, recording_id=existing.id, created=created)
