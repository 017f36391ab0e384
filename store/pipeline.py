"""Queries for the recording pipeline: jobs (claim, lease, retry), recordings, transcripts and scores.

Every state change of a job is one conditional UPDATE, so two workers racing for the same row
cannot both win, on SQLite or on PostgreSQL, without row locks. ``attempts`` doubles as a fencing
token: a worker that lost its lease (it was presumed dead) can no longer complete the job.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import String, and_, cast, delete, exists, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store import search_index
from store.models import Call
from store.models_pipeline import Job, Recording, ScoreRow, TranscriptRow

_PerCall = TypeVar("_PerCall", TranscriptRow, ScoreRow)

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"


def now_utc() -> datetime:
    return datetime.now(UTC)


def aware(dt: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


@dataclass(frozen=True)
class JobRef:
    """What a queue needs to deliver a job: its id and the attempt it is waiting for."""

    id: int
    attempts: int
    step: str
    key: str


def ref(job: Job) -> JobRef:
    return JobRef(job.id, job.attempts, job.step, job.key)


def get_or_create_job(s: Session, *, key: str, step: str, call_id: int | None, max_attempts: int) -> tuple[Job, bool]:
    """Idempotent enqueue by ``key``: a second call (or a racing process) gets the existing row."""
    job = s.scalars(select(Job).where(Job.key == key)).first()
    if job is not None:
        return job, False
    try:
        with s.begin_nested():
            job = Job(key=key, step=step, call_id=call_id, max_attempts=max_attempts, status=QUEUED, attempts=0)
            s.add(job)
    except IntegrityError:
        job = s.scalars(select(Job).where(Job.key == key)).one()
        return job, False
    return job, True


def claimable(
    s: Session,
    now: datetime,
    backoff: Callable[[int], float],
    limit: int = 50,
    *,
    steps: Sequence[str] | None = None,
    not_steps: Sequence[str] = (),
) -> list[JobRef]:
    """Queued jobs whose retry back-off has elapsed, oldest first (optionally only some steps)."""
    q = select(Job).where(Job.status == QUEUED)
    if steps is not None:
        q = q.where(Job.step.in_(list(steps)))
    if not_steps:
        q = q.where(Job.step.not_in(list(not_steps)))
    rows = s.scalars(q.order_by(Job.id).limit(limit)).all()
    return [
        ref(j) for j in rows if j.attempts == 0 or aware(j.updated_at) + timedelta(seconds=backoff(j.attempts)) <= now
    ]


def claim(s: Session, job_id: int, worker: str, now: datetime) -> int | None:
    """Take a queued job. Returns the attempt number (the fencing token), or None if someone else has it."""
    res = s.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == QUEUED, Job.attempts < Job.max_attempts)
        .values(status=RUNNING, worker=worker, attempts=Job.attempts + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if res.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return int(s.scalars(select(Job.attempts).where(Job.id == job_id)).one())


def heartbeat(s: Session, leases: Sequence[tuple[int, int]], worker: str, now: datetime) -> int:
    """Extend the leases of jobs this worker still holds; returns how many it still holds."""
    held = 0
    for job_id, attempt in leases:
        res = s.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == RUNNING, Job.worker == worker, Job.attempts == attempt)
            .values(updated_at=now)
            .execution_options(synchronize_session=False)
        )
        held += res.rowcount  # type: ignore[attr-defined]
    return held


def _fenced(job_id: int, worker: str, attempt: int) -> Any:
    return and_(Job.id == job_id, Job.status == RUNNING, Job.worker == worker, Job.attempts == attempt)


def complete(s: Session, job_id: int, worker: str, attempt: int, now: datetime) -> bool:
    """Mark done only if this worker still holds this attempt (else the caller rolls back its writes)."""
    res = s.execute(
        update(Job)
        .where(_fenced(job_id, worker, attempt))
        .values(status=DONE, error="", updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(res.rowcount == 1)  # type: ignore[attr-defined]


def record_failure(
    s: Session, job_id: int, worker: str, attempt: int, error: str, *, permanent: bool, now: datetime
) -> str | None:
    """Requeue (attempts left, error transient) or fail for good. Returns the new status, None if not held."""
    job = s.get(Job, job_id)
    if job is None or job.status != RUNNING or job.worker != worker or job.attempts != attempt:
        return None
    status = FAILED if permanent or job.attempts >= job.max_attempts else QUEUED
    s.execute(
        update(Job)
        .where(_fenced(job_id, worker, attempt))
        .values(status=status, error=error[:2000], updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return status


def reap_stale(s: Session, cutoff: datetime, now: datetime) -> list[Job]:
    """Jobs whose worker stopped heart-beating (killed, machine gone): requeue, or fail when out of attempts."""
    stale = s.scalars(select(Job).where(Job.status == RUNNING, Job.updated_at < cutoff)).all()
    out = []
    for job in stale:
        exhausted = job.attempts >= job.max_attempts
        res = s.execute(
            update(Job)
            .where(Job.id == job.id, Job.status == RUNNING, Job.attempts == job.attempts, Job.updated_at < cutoff)
            .values(
                status=FAILED if exhausted else QUEUED,
                error=f"worker {job.worker} stopped responding (attempt {job.attempts}/{job.max_attempts})",
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if res.rowcount == 1:  # type: ignore[attr-defined]
            s.refresh(job)
            out.append(job)
    return out


def recordings_without_jobs(s: Session, step: str, limit: int = 100) -> list[Recording]:
    """Recordings whose first job was never created (e.g. the process died right after the webhook)."""
    key = literal(f"{step}:").concat(cast(Recording.id, String))
    q = select(Recording).where(~exists().where(Job.key == key)).order_by(Recording.id).limit(limit)
    return list(s.scalars(q).all())


def list_jobs(s: Session, status: str | None = None, limit: int = 200) -> list[Job]:
    q = select(Job).order_by(Job.id.desc()).limit(limit)
    if status:
        q = q.where(Job.status == status)
    return list(s.scalars(q).all())


def reset_for_retry(s: Session, job_ids: Sequence[int] | None, now: datetime) -> list[Job]:
    """Failed jobs (all, or the given ids) back to queued with a fresh attempt budget."""
    q = select(Job).where(Job.status == FAILED)
    if job_ids:
        q = q.where(Job.id.in_(list(job_ids)))
    jobs = list(s.scalars(q).all())
    for job in jobs:
        job.status, job.attempts, job.error, job.worker, job.updated_at = QUEUED, 0, "", "", now
    s.flush()
    return jobs


def count_by_status(s: Session) -> dict[str, int]:
    from sqlalchemy import func

    return {st: n for st, n in s.execute(select(Job.status, func.count()).group_by(Job.status)).all()}


def set_call_state(s: Session, call_id: int, state: str, error: str = "") -> None:
    s.execute(
        update(Call)
        .where(Call.id == call_id)
        .values(pipeline_state=state, pipeline_error=error)
        .execution_options(synchronize_session=False)
    )


def _upsert_for_call(s: Session, model: type[_PerCall], call_id: int, values: dict[str, Any]) -> _PerCall:
    """The call's one row of ``model``, created or updated with ``values`` (a re-run step replaces it)."""
    row = s.scalars(select(model).where(model.call_id == call_id)).first()
    if row is None:
        row = model(call_id=call_id)
        s.add(row)
    for k, v in values.items():
        setattr(row, k, v)
    s.flush()  # the mapper event in models_pipeline rewrites the text index here
    return row


def save_transcript(s: Session, call_id: int, **values: Any) -> TranscriptRow:
    """One transcript per call; a re-run replaces it (steps are idempotent). The text index is
    rewritten in the same transaction (the mapper event in models_pipeline, at the flush), so search
    never sees an old text or misses a new one."""
    return _upsert_for_call(s, TranscriptRow, call_id, values)


def delete_transcripts(s: Session, call_ids: list[int]) -> int:
    """Delete the transcripts of these calls and their index entries; returns how many rows went."""
    if not call_ids:
        return 0
    n = 0
    for lo in range(0, len(call_ids), 500):
        part = call_ids[lo : lo + 500]
        res = s.execute(
            delete(TranscriptRow).where(TranscriptRow.call_id.in_(part)).execution_options(synchronize_session=False)
        )
        n += int(getattr(res, "rowcount", 0) or 0)
    search_index.drop_transcripts(s, call_ids)
    return n


def save_score(s: Session, call_id: int, **values: Any) -> ScoreRow:
    """One score per call; a re-run replaces it."""
    return _upsert_for_call(s, ScoreRow, call_id, values)


def calls_overview(s: Session, limit: int = 500) -> list[tuple[Call, float | None]]:
    """Calls newest first with their total score, for `hotline calls`."""
    q = (
        select(Call, ScoreRow.total)
        .outerjoin(ScoreRow, ScoreRow.call_id == Call.id)
        .order_by(Call.started_at.desc(), Call.id.desc())
        .limit(limit)
    )
    return [(c, t) for c, t in s.execute(q).all()]


def find_call(s: Session, call_sid: str) -> Call | None:
    return s.scalars(select(Call).where(Call.call_sid == call_sid)).first()


def find_recording(s: Session, recording_sid: str) -> Recording | None:
    return s.scalars(select(Recording).where(Recording.recording_sid == recording_sid)).first()


def ensure_call_recording(
    s: Session,
    *,
    call_sid: str,
    recording_sid: str,
    source_url: str,
    call_values: dict[str, Any] | None = None,
    trusted: bool = False,
) -> tuple[Call, Recording, bool]:
    """Call + Recording for an archived or simulated call; idempotent by the two sids (resumable ingest).

    ``trusted``: the caller is the CLI, so ``source_url`` may be a local file (never for a webhook's URL).
    """
    call = find_call(s, call_sid)
    if call is None:
        call = Call(call_sid=call_sid, menu_path=[], flow_state={}, **(call_values or {}))
        s.add(call)
        s.flush()
    rec = find_recording(s, recording_sid)
    created = rec is None
    if rec is None:
        rec = Recording(call_id=call.id, recording_sid=recording_sid, source_url=source_url, trusted_source=trusted)
        s.add(rec)
        s.flush()
        call.recording_sid, call.recording_url = recording_sid, source_url
    return call, rec, created


def assign_agent(s: Session, call_id: int, agent_id: str, team: str, started_at: datetime | None = None) -> None:
    """Who answered the call (from the ACD, an archive's metadata, or the simulator)."""
    values: dict[str, Any] = {"agent_id": agent_id[:64], "team": team[:64]}
    if started_at is not None:
        values["started_at"] = started_at
    s.execute(update(Call).where(Call.id == call_id).values(**values).execution_options(synchronize_session=False))


def call_states(s: Session, call_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    rows = s.execute(select(Call.id, Call.pipeline_state, Call.pipeline_error).where(Call.id.in_(list(call_ids))))
    return {i: (st, err) for i, st, err in rows.all()}
