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
    __table_args__ = (
        Index("ix_call_kpi_open_queue", "ended", "offered"),
        Index("ix_call_kpi_started_wait", "started_at", "wait_s"),  # the longest wait of a period
        Index("ix_call_kpi_team_wait", "team", "started_at", "wait_s"),
        Index("ix_call_kpi_skill_wait", "skill", "started_at", "wait_s"),
    )

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


class KpiHour(Base):
    """Sums of the calls that started in one local hour, per team and skill (``kpi.definitions.Tally``
    without its maximum): kept up to date by adding each call's change, so a month is ~744 rows."""

    __tablename__ = "kpi_hours"

    local_day: Mapped[str] = mapped_column(String(10), primary_key=True)
    local_hour: Mapped[int] = mapped_column(Integer, primary_key=True)
    team: Mapped[str] = mapped_column(String(64), primary_key=True)
    skill: Mapped[str] = mapped_column(String(64), primary_key=True)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    offered: Mapped[int] = mapped_column(Integer, default=0)
    answered: Mapped[int] = mapped_column(Integer, default=0)
    abandoned: Mapped[int] = mapped_column(Integer, default=0)
    short: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    waiting: Mapped[int] = mapped_column(Integer, default=0)
    contained: Mapped[int] = mapped_column(Integer, default=0)
    in_sl: Mapped[int] = mapped_column(Integer, default=0)
    callbacks: Mapped[int] = mapped_column(Integer, default=0)
    agents_closed: Mapped[int] = mapped_column(Integer, default=0)
    wait_answered_sum: Mapped[float] = mapped_column(Float, default=0.0)
    wait_answered_n: Mapped[int] = mapped_column(Integer, default=0)
    wait_all_sum: Mapped[float] = mapped_column(Float, default=0.0)
    wait_all_n: Mapped[int] = mapped_column(Integer, default=0)
    talk_sum: Mapped[float] = mapped_column(Float, default=0.0)
    talk_n: Mapped[int] = mapped_column(Integer, default=0)
    surveys: Mapped[int] = mapped_column(Integer, default=0)
    survey_sum: Mapped[int] = mapped_column(Integer, default=0)
    survey_low: Mapped[int] = mapped_column(Integer, default=0)


class KpiNodeDay(Base):
    """The menu funnel of one local day, per team and skill: calls that entered a node, and hung up there."""

    __tablename__ = "kpi_node_days"

    local_day: Mapped[str] = mapped_column(String(10), primary_key=True)
    team: Mapped[str] = mapped_column(String(64), primary_key=True)
    skill: Mapped[str] = mapped_column(String(64), primary_key=True)
    node: Mapped[str] = mapped_column(String(64), primary_key=True)
    entered: Mapped[int] = mapped_column(Integer, default=0)
    hung_up: Mapped[int] = mapped_column(Integer, default=0)
