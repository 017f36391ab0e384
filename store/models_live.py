"""Live calls' events, kept with the call: transcript turns and alerts as they were produced.

The post-call score is still computed from the full recording; these rows say what the
supervisor board and the agent saw while the call went on, and when.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, utcnow


class LiveEvent(Base):
    """One event of a live call: ``kind`` turn | alert | start | end; ``at``: stream seconds."""

    __tablename__ = "live_events"
    __table_args__ = (Index("ix_live_events_call_seq", "call_sid", "seq", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[float | None] = mapped_column(Float, nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
