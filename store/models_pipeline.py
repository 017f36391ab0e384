"""Recordings, transcripts, scores and pipeline jobs: what the pipeline writes and the workspace reads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Connection, DateTime, Float, ForeignKey, Integer, String, Text, event, false
from sqlalchemy.orm import Mapped, mapped_column

from store import search_index
from store.base import Base, utcnow


class Recording(Base):
    """A call's audio: the event from Twilio first (idempotent by RecordingSid), the stored file later."""

    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    recording_sid: Mapped[str] = mapped_column(String(64), unique=True)
    source_url: Mapped[str] = mapped_column(Text, default="")
    # set only by the CLI (`hotline ingest`, `hotline demo`): source_url may name a local file.
    # A webhook's recording is never trusted, so a stored file:// or path from one is never read.
    trusted_source: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    audio_path: Mapped[str] = mapped_column(Text, default="")  # content-addressed, relative to data dir
    sha256: Mapped[str] = mapped_column(String(64), default="")
    channels: Mapped[int] = mapped_column(Integer, default=0)
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TranscriptRow(Base):
    """The redacted Transcript JSON of a call (speech.types schema) and its flat text for search."""

    __tablename__ = "transcripts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), unique=True)
    engine: Mapped[str] = mapped_column(String(32), default="")
    model: Mapped[str] = mapped_column(String(128), default="")
    language: Mapped[str] = mapped_column(String(16), default="zh")
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


FLAG_BITS = {"forbidden_phrase": 1, "angry_customer": 2, "long_silence": 4, "auto_fail": 8, "needs_review": 16}


def flag_bits(flags: list[str], auto_fail: bool = False) -> int:
    """The flags of a score as one integer (auto_fail counts whether flagged or set as a column)."""
    bits = sum(bit for name, bit in FLAG_BITS.items() if name in (flags or []))
    return bits | (FLAG_BITS["auto_fail"] if auto_fail else 0)


# Every ORM write of a transcript rewrites its index entry in the same transaction (the pipeline,
# the CLI, tests); bulk Core deletes go through store.pipeline.delete_transcripts.
@event.listens_for(TranscriptRow, "after_insert")
@event.listens_for(TranscriptRow, "after_update")
def _index_transcript(_mapper: Any, conn: Connection, row: TranscriptRow) -> None:
    search_index.index_transcript(conn, row.call_id, row.text or "")


@event.listens_for(TranscriptRow, "after_delete")
def _unindex_transcript(_mapper: Any, conn: Connection, row: TranscriptRow) -> None:
    search_index.drop_transcripts(conn, [row.call_id])


class ScoreRow(Base):
    """An automatic scorecard result. ``items``: name -> {score, max, evidence[...]}; version kept."""

    __tablename__ = "scores"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), unique=True)
    scorecard: Mapped[str] = mapped_column(String(64), default="default")
    scorecard_version: Mapped[str] = mapped_column(String(32), default="")
    total: Mapped[float] = mapped_column(Float, default=0.0, index=True)
    auto_fail: Mapped[bool] = mapped_column(Boolean, default=False)
    customer_satisfaction: Mapped[float] = mapped_column(Float, default=0.0)
    customer_sentiment: Mapped[float] = mapped_column(Float, default=0.0, index=True)
    flags: Mapped[list[str]] = mapped_column(
        JSON, default=list
    )  # forbidden_phrase, angry_customer, long_silence, auto_fail
    # the flags as bits (FLAG_BITS), kept in step by save_score: an indexed filter, no JSON matching
    flag_bits: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    items: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # metrics, per-turn sentiment, quarters
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Job(Base):
    """One pipeline step of one call. ``key`` makes enqueueing idempotent; attempts are bounded."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(128), unique=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    step: Mapped[str] = mapped_column(String(32))  # fetch|transcribe|score|...
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)  # queued|running|done|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    error: Mapped[str] = mapped_column(Text, default="")
    worker: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


@event.listens_for(ScoreRow, "before_insert")
@event.listens_for(ScoreRow, "before_update")
def _flag_bits(_mapper: Any, _conn: Connection, row: ScoreRow) -> None:
    row.flag_bits = flag_bits(list(row.flags or []), bool(row.auto_fail))
