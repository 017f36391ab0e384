"""Service-level facts per call and the 回访 follow-ups of low surveys (see kpi/ for the meanings)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, utcnow


class CallKpi(Base):
    """One call's facts (``kpi.facts.CallFacts``), rebuilt from its events after each callback that
    changes them, so the figures for a month are read from one narrow table, not from every event."""

    __tablename__ = "call_kpi"
    __table_args__ = (Index("ix_call_kpi_open_queue", "ended", "offered"),)

    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    team: Mapped[str] = mapped_column(String(64), default="")
    skill: Mapped[str] = mapped_column(String(64), default="")
    outcome: Mapped[str] = mapped_column(String(32), default="")
    offered: Mapped[bool] = mapped_column(Boolean, default=False)
    enqueued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    answered: Mapped[bool] = mapped_column(Boolean, default=False)
    abandoned: Mapped[bool] = mapped_column(Boolean, default=False)
    wait_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    talk_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    leg_result: Mapped[str] = mapped_column(String(32), default="")
    hangup_node: Mapped[str] = mapped_column(String(64), default="")
    hangup_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    path: Mapped[list[Any]] = mapped_column(JSON, default=list)
    survey_score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    surveyed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    callback_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    agents_closed: Mapped[bool] = mapped_column(Boolean, default=False)
    contained: Mapped[bool] = mapped_column(Boolean, default=False)
    ended: Mapped[bool] = mapped_column(Boolean, default=False)
    # the call's class for the sums (kpi.definitions.category / within_sl) and its local day and hour:
    # written with the facts, so a month's figures are SQL sums, not 100k rows read into Python
    category: Mapped[str] = mapped_column(String(16), default="")
    in_sl: Mapped[bool] = mapped_column(Boolean, default=False)
    local_day: Mapped[str] = mapped_column(String(10), default="")
    local_hour: Mapped[int] = mapped_column(Integer, default=0)


class CallKpiNode(Base):
    """A menu node a call entered (once per call), and whether the caller hung up there: the funnel."""

    __tablename__ = "call_kpi_nodes"

    call_id: Mapped[int] = mapped_column(ForeignKey("call_kpi.call_id", ondelete="CASCADE"), primary_key=True)
    node: Mapped[str] = mapped_column(String(64), primary_key=True)
    hung_up: Mapped[bool] = mapped_column(Boolean, default=False)


class Followup(Base):
    """回访: a survey below 4 to be followed up within 48 hours (one per call)."""

    __tablename__ = "followups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), unique=True)
    score: Mapped[int] = mapped_column(Integer)
    surveyed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    done_by: Mapped[str] = mapped_column(String(64), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
