"""Retention: what is past its keeping period, what is held, and deleting it in bounded batches.

Three periods (docs/archive.md): recordings (the audio files), transcripts and scores, the audit
log. Ages count from the call's start. A call is *held*, whatever its age, while a review of it is
open: picked in a sample and not yet reviewed, disputed and not resolved, or in an open
calibration session. Call rows themselves (time, agent, team, outcome, masked number) and human
reviews stay: they carry no recording or transcript, and the trends are made of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session

from store import search_index
from store.base import utc
from store.models import Call
from store.models_pipeline import Recording, ScoreRow, TranscriptRow
from store.models_review import AuditEntry, CalibrationSession, Dispute, Review, SamplePick

BATCH = 1000


@dataclass(frozen=True)
class Policy:
    """Days to keep each kind of data (0: keep for ever)."""

    recordings_days: int
    transcripts_days: int
    audit_days: int


@dataclass
class Plan:
    """What a run deletes (or, dry, would delete): counts, and the first ids for the listing."""

    now: datetime
    recordings: int = 0
    transcripts: int = 0
    scores: int = 0
    audit_entries: int = 0
    held: int = 0
    recording_ids: list[int] = field(default_factory=list)
    transcript_call_ids: list[int] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "recordings": self.recordings,
            "transcripts": self.transcripts,
            "scores": self.scores,
            "audit_entries": self.audit_entries,
            "held": self.held,
        }


def cutoff(now: datetime, days: int) -> datetime | None:
    return None if days <= 0 else utc(now) - timedelta(days=days)


def held_cond(call_id: Any) -> Any:
    """SQL: the call's review is still open (sampled and unreviewed, disputed, in calibration)."""
    reviewed = exists().where(Review.call_id == call_id, Review.kind == "review")
    sampled = and_(exists().where(SamplePick.call_id == call_id), ~reviewed)
    disputed = exists().where(Dispute.call_id == call_id, Dispute.status == "open")
    calibrating = exists().where(CalibrationSession.call_id == call_id, CalibrationSession.status == "open")
    return or_(sampled, disputed, calibrating)


def _old_recordings(before: datetime) -> Any:
    return (
        select(Recording.id)
        .join(Call, Call.id == Recording.call_id)
        .where(Call.started_at < before, Recording.audio_path != "", ~held_cond(Call.id))
    )


def _old_transcripts(before: datetime) -> Any:
    return (
        select(TranscriptRow.call_id)
        .join(Call, Call.id == TranscriptRow.call_id)
        .where(Call.started_at < before, ~held_cond(Call.id))
    )


def _old_scores(before: datetime) -> Any:
    return (
        select(ScoreRow.call_id)
        .join(Call, Call.id == ScoreRow.call_id)
        .where(Call.started_at < before, ~held_cond(Call.id))
    )


def _count(s: Session, q: Any) -> int:
    return int(s.scalar(select(func.count()).select_from(q.subquery())) or 0)


def plan(s: Session, policy: Policy, now: datetime, *, listing: int = 20) -> Plan:
    """Count what is due (and list the first ``listing`` ids of each kind); changes nothing."""
    p = Plan(now=utc(now))
    rec_before = cutoff(now, policy.recordings_days)
    tr_before = cutoff(now, policy.transcripts_days)
    audit_before = cutoff(now, policy.audit_days)
    oldest = min((b for b in (rec_before, tr_before) if b is not None), default=None)
    if rec_before is not None:
        q = _old_recordings(rec_before)
        p.recordings = _count(s, q)
        p.recording_ids = list(s.scalars(q.order_by(Recording.id).limit(listing)))
    if tr_before is not None:
        q = _old_transcripts(tr_before)
        p.transcripts = _count(s, q)
        p.transcript_call_ids = list(s.scalars(q.order_by(TranscriptRow.call_id).limit(listing)))
        p.scores = _count(s, _old_scores(tr_before))
    if audit_before is not None:
        p.audit_entries = int(s.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.at < audit_before)) or 0)
    if oldest is not None:
        p.held = int(s.scalar(select(func.count(Call.id)).where(Call.started_at < oldest, held_cond(Call.id))) or 0)
    return p


Unlink = Callable[[str], bool]  # relative audio path -> whether a file was removed


def purge_recordings(s: Session, before: datetime, unlink: Unlink, batch: int = BATCH) -> int:
    """Forget the audio of one batch of old recordings (the row stays, its file goes); returns how many."""
    rows = list(
        s.execute(_old_recordings(before).add_columns(Recording.audio_path).order_by(Recording.id).limit(batch))
    )
    if not rows:
        return 0
    ids = [r[0] for r in rows]
    s.execute(
        update(Recording)
        .where(Recording.id.in_(ids))
        .values(audio_path="", sha256="")
        .execution_options(synchronize_session=False)
    )
    paths = {r[1] for r in rows}
    still = set(s.scalars(select(Recording.audio_path).where(Recording.audio_path.in_(paths))))  # shared content
    for path in paths - still:
        unlink(path)
    return len(ids)


def purge_transcripts(s: Session, before: datetime, batch: int = BATCH) -> tuple[int, int]:
    """Delete one batch of old transcripts (with their index entries) and scores; returns (transcripts, scores)."""
    ids = list(s.scalars(_old_transcripts(before).order_by(TranscriptRow.call_id).limit(batch)))
    score_ids = list(s.scalars(_old_scores(before).order_by(ScoreRow.call_id).limit(batch)))
    n_tr = 0
    if ids:
        n_tr = _deleted(s.execute(delete(TranscriptRow).where(TranscriptRow.call_id.in_(ids))))
        search_index.drop_transcripts(s, ids)
    n_sc = _deleted(s.execute(delete(ScoreRow).where(ScoreRow.call_id.in_(score_ids)))) if score_ids else 0
    return n_tr, n_sc


def purge_audit(s: Session, before: datetime, batch: int = BATCH * 10) -> int:
    ids = list(s.scalars(select(AuditEntry.id).where(AuditEntry.at < before).order_by(AuditEntry.id).limit(batch)))
    return _deleted(s.execute(delete(AuditEntry).where(AuditEntry.id.in_(ids)))) if ids else 0


def _deleted(res: Any) -> int:
    return int(getattr(res, "rowcount", 0) or 0)


def ids_text(ids: Sequence[int], more: int) -> str:
    """A short listing: the ids and how many more."""
    head = ", ".join(str(i) for i in ids)
    return head + (f" … (+{more - len(ids)})" if more > len(ids) else "")
