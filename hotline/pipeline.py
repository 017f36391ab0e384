"""The recording pipeline's steps: fetch+store -> transcribe+redact -> score+update the call.

Each step is one job (``Job.key`` = ``<step>:<recording id>``). The slow part of a step runs
outside any transaction; its writes run in the transaction that marks the job done, so a step
either fully happens or not at all. Redaction lives in the transcribe step because nothing
unredacted may ever be stored. The steps get their I/O from a ``PipelineContext`` (fetching,
transcribing, scoring are ``hotline.fetch``, ``hotline.speech_pool`` and ``qa``; tests pass fakes),
and hand each other typed values: a ``Download``, a ``Transcript``, a ``ScoreResult``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from hotline.fetch import Download
from hotline.jobs import NextJob, PermanentError, StepHandler, Writer
from hotline.settings import Settings
from hotline.storage import store_audio
from speech.audio import wav_info
from speech.types import Transcript
from store import pipeline as repo
from store.models import Call
from store.models_pipeline import Job, Recording, TranscriptRow

if TYPE_CHECKING:
    from qa.score import ScoreResult

log = logging.getLogger(__name__)

STEPS = ("fetch", "transcribe", "score")
# the call's visible state once a step is done, and the state a retried step starts from
STATE_AFTER = {"fetch": "fetched", "transcribe": "transcribed", "score": "scored"}
STATE_BEFORE = {"fetch": "received", "transcribe": "fetched", "score": "transcribed"}


def job_key(step: str, recording_id: int) -> str:
    return f"{step}:{recording_id}"


def recording_id_of(job: Job) -> int:
    return int(job.key.split(":", 1)[1])


def redact_transcript(transcript: Transcript, settings: Settings) -> Transcript:
    """Redact PII (phone, ID, bank card) before the transcript is stored."""
    from speech.redact import redact_transcript as redact

    return redact(transcript, order_numbers=settings.redact_order_numbers)


def score_transcript(transcript: Transcript, settings: Settings, call_id: int) -> ScoreResult:
    """Score a transcript with the configured scorecard (cached per process by qa)."""
    from qa.dialogue import from_transcript
    from qa.score import score_dialogue
    from qa.scorecard import load_scorecard

    card = load_scorecard(settings.scorecard_path)
    return score_dialogue(from_transcript(transcript.to_dict(), dialogue_id=str(call_id)), card)


# ---------------------------------------------------------------------------------------------
# the steps
# ---------------------------------------------------------------------------------------------


@dataclass
class PipelineContext:
    settings: Settings
    fetch: Callable[[str, bool], Download]  # (url, local files allowed) -> the recording
    transcribe: Callable[[Path], Transcript]
    redact: Callable[[Transcript], Transcript]
    score: Callable[[Transcript, int], ScoreResult]  # (transcript, call id) -> score
    read: Callable[[Callable[[Session], Any]], Any]  # run a read-only query


def _recording(ctx: PipelineContext, job: Job) -> Recording:
    rid = recording_id_of(job)

    def q(s: Session) -> Recording:
        rec = s.get(Recording, rid)
        if rec is None:
            raise PermanentError(f"recording {rid} does not exist")
        s.expunge(rec)
        return rec

    rec: Recording = ctx.read(q)
    return rec


def fetch_step(ctx: PipelineContext, job: Job) -> Writer:
    rec = _recording(ctx, job)
    if not rec.source_url:
        raise PermanentError("the recording has no URL")
    got = ctx.fetch(rec.source_url, rec.trusted_source)
    if len(got.data) < 44:
        raise PermanentError(f"corrupt recording: only {len(got.data)} bytes")
    try:
        info = wav_info(got.data)
    except ValueError as exc:
        raise PermanentError(f"corrupt recording: {exc}") from None
    rel, sha = store_audio(ctx.settings.data_dir, got.data, got.ext)

    def write(s: Session) -> list[NextJob]:
        row = s.get(Recording, rec.id)
        assert row is not None
        row.audio_path, row.sha256 = rel, sha
        if info is not None:
            row.channels, row.duration_s = info[0], round(info[1], 3)
            call = s.get(Call, rec.call_id)
            if call is not None and call.duration_s is None:
                call.duration_s = round(info[1], 3)
        repo.set_call_state(s, rec.call_id, STATE_AFTER["fetch"])
        return [NextJob(job_key("transcribe", rec.id), "transcribe", rec.call_id)]

    return write


def transcribe_step(ctx: PipelineContext, job: Job) -> Writer:
    rec = _recording(ctx, job)
    if not rec.audio_path:
        raise PermanentError("the recording was never fetched")
    path = ctx.settings.data_dir / rec.audio_path
    if not path.is_file():  # fetched by a worker on another machine: fetch again, same content
        got = ctx.fetch(rec.source_url, rec.trusted_source)
        rel, sha = store_audio(ctx.settings.data_dir, got.data, got.ext)
        if sha != rec.sha256:
            raise PermanentError("the recording changed at its source after it was fetched")
        path = ctx.settings.data_dir / rel
    raw = ctx.transcribe(path)
    if not any(u.text.strip() for u in raw.utterances):
        raise PermanentError("silent recording: no speech found")
    transcript = ctx.redact(raw)
    data = transcript.to_dict()
    text = "\n".join(f"{u.speaker}: {u.text}" for u in transcript.utterances)

    def write(s: Session) -> list[NextJob]:
        repo.save_transcript(
            s,
            rec.call_id,
            engine=transcript.engine,
            model=transcript.model[:128],
            language=transcript.language,
            duration_s=data["duration"],
            data=data,
            text=text,
        )
        row = s.get(Recording, rec.id)
        if row is not None and row.duration_s is None:
            row.duration_s = data["duration"]
        repo.set_call_state(s, rec.call_id, STATE_AFTER["transcribe"])
        return [NextJob(job_key("score", rec.id), "score", rec.call_id)]

    return write


def score_step(ctx: PipelineContext, job: Job) -> Writer:
    rec = _recording(ctx, job)

    def q(s: Session) -> dict[str, Any] | None:
        from sqlalchemy import select

        return s.scalars(select(TranscriptRow.data).where(TranscriptRow.call_id == rec.call_id)).first()

    data = ctx.read(q)
    if data is None:
        raise PermanentError("no transcript to score")
    result = ctx.score(Transcript.from_dict(data), rec.call_id)
    stored = result.to_dict()  # rounded as the workspace shows it

    def write(s: Session) -> list[NextJob]:
        repo.save_score(
            s,
            rec.call_id,
            scorecard=result.scorecard[:64],
            scorecard_version=result.scorecard_version[:32],
            total=stored["total"],
            auto_fail=result.auto_fail,
            customer_satisfaction=stored["customer_satisfaction"],
            customer_sentiment=stored["customer_sentiment"],
            flags=stored["flags"],
            items=stored["items"],
            details=result.details,
        )
        repo.set_call_state(s, rec.call_id, STATE_AFTER["score"])
        return []

    return write


def handlers(ctx: PipelineContext) -> dict[str, StepHandler]:
    return {
        "fetch": lambda job: fetch_step(ctx, job),
        "transcribe": lambda job: transcribe_step(ctx, job),
        "score": lambda job: score_step(ctx, job),
    }


def on_failure(s: Session, job: Job, reason: str, final: bool) -> None:
    """The call shows the reason and the attempt count; ``failed`` once no attempt is left."""
    if job.call_id is None:
        return
    call = s.get(Call, job.call_id)
    if call is None:
        return
    note = f"{job.step}: {reason} (attempt {job.attempts}/{job.max_attempts})"
    if final:
        repo.set_call_state(s, job.call_id, "failed", note)
    else:
        repo.set_call_state(s, job.call_id, call.pipeline_state, "retrying — " + note)
