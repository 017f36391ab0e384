"""Live-call events in and out (store.models_live): appended as they happen, read back in order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store.models_live import LiveEvent


def append_event(factory: sessionmaker[Session], call_sid: str, event: Mapping[str, Any]) -> int:
    """Store one event after the call's last; returns its sequence number (1, 2, ...)."""
    with factory.begin() as s:
        last = s.scalar(select(func.max(LiveEvent.seq)).where(LiveEvent.call_sid == call_sid)) or 0
        at = event.get("end", event.get("time"))
        row = LiveEvent(
            call_sid=call_sid,
            seq=last + 1,
            kind=str(event.get("type", ""))[:16],
            at=float(at) if isinstance(at, (int, float)) else None,
            payload=dict(event),
        )
        s.add(row)
        return last + 1


def call_events(
    factory: sessionmaker[Session], call_sid: str, after: int = 0, limit: int = 5000
) -> list[dict[str, Any]]:
    """The call's events with ``seq`` above ``after``, in order (payload plus ``seq``)."""
    with factory() as s:
        rows = s.scalars(
            select(LiveEvent)
            .where(LiveEvent.call_sid == call_sid, LiveEvent.seq > after)
            .order_by(LiveEvent.seq)
            .limit(limit)
        ).all()
        return [{**r.payload, "seq": r.seq} for r in rows]
