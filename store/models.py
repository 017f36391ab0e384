"""Calls and what happened during them. Other areas add their own ``store/models_*.py``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.base import Base, utcnow


class Call(Base):
    """One phone call, keyed by Twilio's CallSid. ``flow_state`` lets any process answer the next webhook."""

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    caller_masked: Mapped[str] = mapped_column(String(32), default="")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    status: Mapped[str] = mapped_column(String(32), default="in-progress")
    outcome: Mapped[str] = mapped_column(
        String(32), default="", index=True
    )  # self-service|transferred|callback|abandoned
    menu_path: Mapped[list[str]] = mapped_column(JSON, default=list)
    flow_state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    skill: Mapped[str] = mapped_column(String(64), default="")
    survey_score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    agent_id: Mapped[str] = mapped_column(String(64), default="", index=True)
    team: Mapped[str] = mapped_column(String(64), default="", index=True)
    recording_sid: Mapped[str] = mapped_column(String(64), default="")
    recording_url: Mapped[str] = mapped_column(Text, default="")
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    # received -> fetched -> transcribed -> scored, or failed (the reason in pipeline_error)
    pipeline_state: Mapped[str] = mapped_column(String(16), default="", index=True)
    pipeline_error: Mapped[str] = mapped_column(Text, default="")

    events: Mapped[list[CallEvent]] = relationship(
        back_populates="call", order_by="CallEvent.id", cascade="all, delete-orphan"
    )


class CallEvent(Base):
    """One step of a call: a menu node entered, a key pressed, speech heard, a transfer."""

    __tablename__ = "call_events"
    __table_args__ = (Index("ix_call_events_call_at", "call_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))  # node|dtmf|speech|no-input|transfer|status|recording|...
    node: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    request_key: Mapped[str] = mapped_column(String(128), default="", index=True)  # idempotency of retries

    call: Mapped[Call] = relationship(back_populates="events")


class CallbackRequest(Base):
    """A caller outside the agents' hours asked to be called back."""

    __tablename__ = "callback_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(String(32))
    skill: Mapped[str] = mapped_column(String(64), default="")
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="open")


def load_all_models() -> None:
    """Import every ``store/models_*.py`` so Base.metadata knows all tables (for Alembic)."""
    import importlib
    import pkgutil

    import store

    for mod in pkgutil.iter_modules(store.__path__):
        if mod.name.startswith("models_"):
            importlib.import_module(f"store.{mod.name}")
