"""The QA workspace's tables: users, human reviews, comments, disputes, calibration, samples, audit log.

Human scores live next to the automatic ones (``scores``), never over them: a review stores per
item the automatic score it saw and the human score it gave, so both stay visible and a dispute
keeps the original and the resolved version side by side.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, utcnow

ROLES = ("qa", "supervisor", "admin")


class User(Base):
    """A workspace account. ``password_hash`` is a werkzeug hash; the password itself is never stored."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # qa | supervisor | admin
    password_hash: Mapped[str] = mapped_column(String(256))
    team: Mapped[str] = mapped_column(String(64), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Part of every session cookie's user id: logout, a password or role change bumps it, so
    # cookies issued before stop working (sessions are client-side; there is nothing else to delete).
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class LoginThrottle(Base):
    """Failed logins of one account name or one client address (``key``: ``user:NAME`` / ``addr:IP``).

    Kept in the database, not in a process, so every worker process of ``hotline serve`` sees the
    same count. ``locked_until`` is when the next attempt is allowed again (back-off after failures).
    """

    __tablename__ = "login_throttle"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(160), unique=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class CalibrationSession(Base):
    """Several reviewers score the same call blind; the spread shows once they have submitted."""

    __tablename__ = "calibration_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(128), default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    reviewer_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | closed
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Review(Base):
    """One reviewer's verdict on one call. ``items``: name -> {auto, human, max, confirmed, note}."""

    __tablename__ = "reviews"
    __table_args__ = (
        Index("ix_reviews_call_kind", "call_id", "kind"),
        Index("ix_reviews_reviewer_created", "reviewer_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16), default="review")  # review | calibration
    calibration_id: Mapped[int | None] = mapped_column(
        ForeignKey("calibration_sessions.id", ondelete="CASCADE"), nullable=True, index=True
    )
    items: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    auto_total: Mapped[float | None] = mapped_column(Float, nullable=True)
    total: Mapped[float] = mapped_column(Float, default=0.0)
    auto_fail: Mapped[bool] = mapped_column(Boolean, default=False)
    comment: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="submitted")  # submitted | disputed | revised
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ReviewComment(Base):
    """A note anchored at a time in the recording and/or a transcript turn."""

    __tablename__ = "review_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    review_id: Mapped[int | None] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"), nullable=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    turn: Mapped[int | None] = mapped_column(Integer, nullable=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Dispute(Base):
    """A supervisor contests a review for the agent; a resolver decides. Both versions are kept."""

    __tablename__ = "disputes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"), index=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    raised_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)  # open | upheld | revised
    original_items: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    original_total: Mapped[float] = mapped_column(Float, default=0.0)
    resolved_items: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    resolved_total: Mapped[float | None] = mapped_column(Float, nullable=True)
    resolver_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    resolution: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SamplingPolicy(Base):
    """A team's sampling rule, editable by supervisors. ``policy`` is the validated dict (see qa sampling)."""

    __tablename__ = "sampling_policies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team: Mapped[str] = mapped_column(String(64), unique=True)
    policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Sample(Base):
    """One run of a team's weekly sampling: the week, the seed and the policy used (reproducible)."""

    __tablename__ = "samples"
    __table_args__ = (Index("ix_samples_team_week", "team", "week"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team: Mapped[str] = mapped_column(String(64))
    week: Mapped[str] = mapped_column(String(10))  # ISO week, 2026-W47
    seed: Mapped[int] = mapped_column(Integer)
    policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SamplePick(Base):
    """One picked call: why it was picked and who reviews it."""

    __tablename__ = "sample_picks"
    __table_args__ = (UniqueConstraint("sample_id", "call_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"), index=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[str] = mapped_column(String(64), default="")
    reason: Mapped[str] = mapped_column(String(32))  # random | lowest_score | negative_sentiment | complaint
    detail: Mapped[str] = mapped_column(Text, default="")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)


class AuditEntry(Base):
    """Who listened to, changed or exported what, and when. Never holds transcript text or numbers."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    action: Mapped[str] = mapped_column(String(32))  # login | listen | view | review | dispute | export | sample ...
    object_type: Mapped[str] = mapped_column(String(32), default="")
    object_id: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


# Indexes the workspace's call list needs on the calls table (declared here, migrated in 0003_review):
# "one agent / one team over a date range, newest first" is the common query at 100k calls.
def _call_list_indexes() -> None:
    from store.models import Call

    Index("ix_calls_agent_started", Call.agent_id, Call.started_at)
    Index("ix_calls_team_started", Call.team, Call.started_at)


# Covering indexes for the list's flag filters, score filters and transcript search (migrated in
# 0004): read the narrow index instead of the wide rows (scores carry the items JSON, transcripts
# the utterances JSON). The flags and text ones are SQLite only: PostgreSQL cannot btree-index a
# json column and caps btree keys at ~2.7 kB, which long transcripts exceed (pg_trgm would do).
def _search_indexes() -> None:
    from store.models_pipeline import ScoreRow, TranscriptRow

    Index("ix_scores_flags", ScoreRow.flags, ScoreRow.call_id).ddl_if(dialect="sqlite")
    # score range / sentiment band with a search: the call id without reading the wide score row
    Index("ix_scores_total_call", ScoreRow.total, ScoreRow.call_id)
    Index("ix_scores_sentiment_call", ScoreRow.customer_sentiment, ScoreRow.call_id)
    Index("ix_transcripts_call_text", TranscriptRow.call_id, TranscriptRow.text).ddl_if(dialect="sqlite")


# Migration 0009: the filters QA staff combine at a million calls (see docs/archive.md).
def _archive_indexes() -> None:
    from store.models import Call
    from store.models_pipeline import ScoreRow

    Index("ix_scores_flag_bits_call", ScoreRow.flag_bits, ScoreRow.call_id)
    Index("ix_calls_outcome_started", Call.outcome, Call.started_at)
    Index("ix_calls_started_id", Call.started_at, Call.id)
    Index("ix_scores_call_total", ScoreRow.call_id, ScoreRow.total, ScoreRow.customer_sentiment)


_call_list_indexes()
_archive_indexes()
_search_indexes()
