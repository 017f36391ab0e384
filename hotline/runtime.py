"""Composition of the pipeline: settings -> steps -> runner -> queue, for the web app, workers and CLI.

``Pipeline.admit(call_id, recording_id)`` is the ``on_recording`` hook the IVR webhook calls after
it stored a Recording: it marks the call ``received`` and creates the fetch job in one transaction,
then tells the queue. The job row is committed before anything is pushed, so a lost push is only
a delay (the sweeper pushes queued rows Redis does not hold), never a lost call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, sessionmaker

from hotline import pipeline as steps
from hotline.fetch import Download, Fetcher
from hotline.jobs import EmbeddedQueue, NextJob, NullQueue, Queue, Runner
from hotline.rq_queue import RQQueue
from hotline.settings import Settings
from hotline.speech_pool import InlineTranscriber, PoolTranscriber
from speech.types import Transcript
from store import pipeline as repo
from store.db import transaction

if TYPE_CHECKING:
    from qa.score import ScoreResult

log = logging.getLogger(__name__)


class Pipeline:
    """The runner and the queue of one process.

    ``mode``: ``server`` (web app: embedded pool, or RQ pushes), ``worker`` (`hotline worker`), or
    ``client`` (CLI commands that only write rows; with RQ they also push).
    """

    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        *,
        mode: str = "server",
        fetch: Callable[[str, bool], Download] | None = None,
        transcribe: Callable[[Path], Transcript] | None = None,
        redact: Callable[[Transcript], Transcript] | None = None,
        score: Callable[[Transcript, int], ScoreResult] | None = None,
        threads: int | None = None,
    ) -> None:
        self.settings, self.sessions, self.mode = settings, sessions, mode
        self._pool: PoolTranscriber | None = None
        if transcribe is None:
            if mode == "worker":
                transcribe = InlineTranscriber(settings)
            else:
                self._pool = PoolTranscriber(settings, settings.workers)
                transcribe = self._pool
        fetcher = Fetcher(
            settings.twilio_account_sid,
            settings.twilio_auth_token.reveal(),
            hosts=settings.allowed_recording_hosts(),
            max_bytes=settings.recording_max_mb * 1024 * 1024,
        )
        self.ctx = steps.PipelineContext(
            settings=settings,
            fetch=fetch or fetcher.fetch,
            transcribe=transcribe,
            redact=redact or (lambda d: steps.redact_transcript(d, settings)),
            score=score or (lambda d, call_id: steps.score_transcript(d, settings, call_id)),
            read=self._read,
        )
        self.runner = Runner(
            sessions,
            steps.handlers(self.ctx),
            max_attempts=settings.job_attempts,
            lease_s=float(settings.job_lease_s),
            on_failure=steps.on_failure,
        )
        self.queue: Queue
        if settings.redis_url:
            self.queue = RQQueue(self.runner, settings.redis_url, settings.redis_queue, extra_sweep=self.sweep_orphans)
        elif mode == "client":
            self.queue = NullQueue()
        else:
            if mode == "worker":
                raise SystemExit("hotline worker needs HOTLINE_REDIS_URL (without it `hotline serve` runs the jobs)")
            # one runner thread per transcription process, and its own thread for fetch and score
            self.queue = EmbeddedQueue(
                self.runner,
                threads=threads or 1,
                lanes={"transcribe": max(1, settings.workers)},
                extra_sweep=self.sweep_orphans,
            )

    def _read(self, fn: Callable[[Session], Any]) -> Any:
        with transaction(self.sessions) as s:
            return fn(s)

    # -- admitting recordings -----------------------------------------------------------------
    def admit_in(self, s: Session, call_id: int, recording_id: int) -> list[repo.JobRef]:
        """Inside the caller's transaction: call -> received (unless further along), fetch job created."""
        from store.models import Call

        refs = self.runner.add(s, [NextJob(steps.job_key("fetch", recording_id), "fetch", call_id)])
        call = s.get(Call, call_id)
        if refs and call is not None:
            repo.set_call_state(s, call_id, "received")
        return refs

    def admit(self, call_id: int, recording_id: int) -> None:
        """The ``on_recording`` hook. Idempotent: a duplicate callback creates no second job."""
        with transaction(self.sessions) as s:
            refs = self.admit_in(s, call_id, recording_id)
        if refs:
            log.info("call %d recording %d: fetch job %d queued", call_id, recording_id, refs[0].id)
        self.runner.notify(refs)

    def sweep_orphans(self) -> None:
        """Recordings whose fetch job was never created (a process died between the two writes)."""
        with transaction(self.sessions) as s:
            recs = repo.recordings_without_jobs(s, "fetch")
            refs = [r for rec in recs for r in self.admit_in(s, rec.call_id, rec.id)]
        if refs:
            log.warning("admitted %d recording(s) that had no job", len(refs))
            self.runner.notify(refs)

    # -- operations ---------------------------------------------------------------------------
    def retry(self, job_ids: Sequence[int] | None = None) -> list[repo.JobRef]:
        """Failed jobs back to queued with a fresh attempt budget; their calls go back one state."""
        with transaction(self.sessions) as s:
            jobs = repo.reset_for_retry(s, job_ids, repo.now_utc())
            for job in jobs:
                if job.call_id is not None:
                    repo.set_call_state(s, job.call_id, steps.STATE_BEFORE.get(job.step, "received"))
            refs = [repo.ref(j) for j in jobs]
        self.runner.notify(refs)
        return refs

    def pending(self) -> int:
        with transaction(self.sessions) as s:
            counts = repo.count_by_status(s)
        return counts.get(repo.QUEUED, 0) + counts.get(repo.RUNNING, 0)

    def warm(self) -> None:
        """Embedded: start the transcription processes and load their models before work arrives."""
        if self._pool is not None:
            self._pool.warm()

    def start(self) -> None:
        self.queue.start()

    def stop(self) -> None:
        self.queue.stop()
        if self._pool is not None:
            self._pool.close()


def install(app: Any) -> Pipeline:
    """create_app calls this: the hook for the IVR, and the embedded pool resumes unfinished work."""
    ext = app.extensions["hotline"]
    pipe = Pipeline(ext["settings"], ext["sessions"], mode="server")
    ext["pipeline"] = pipe
    ext["on_recording"] = pipe.admit
    from hotline.scheduler import Scheduler

    ext["scheduler"] = Scheduler(ext["settings"], ext["engine"], ext["sessions"])
    ext["scheduler"].start()  # daily retention and analyze, weekly vacuum (docs/archive.md)
    try:
        if pipe.settings.redis_url or pipe.pending():
            pipe.start()  # RQ: only the sweeper runs here; embedded: resume unfinished work
    except Exception as exc:  # the web app must start even if the database is briefly away
        log.warning("could not check for unfinished jobs at start: %s", exc)
    return pipe


def wait_for_calls(
    sessions: sessionmaker[Session],
    call_ids: Sequence[int],
    *,
    desc: str = "calls",
    timeout_s: float | None = None,
    progress: bool = True,
) -> dict[int, tuple[str, str]]:
    """Block until every call is scored or failed (progress bar on stderr); returns id -> (state, error)."""
    import time

    from tqdm import tqdm

    done_states = ("scored", "failed")
    ids = list(call_ids)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    bar = tqdm(total=len(ids), desc=desc, unit="call", disable=not progress, dynamic_ncols=True)
    try:
        while True:
            with transaction(sessions) as s:
                states = repo.call_states(s, ids)
            finished = sum(1 for st, _ in states.values() if st in done_states)
            failed = sum(1 for st, _ in states.values() if st == "failed")
            if finished != bar.n:
                bar.set_postfix(failed=failed, refresh=False)
                bar.update(finished - bar.n)
            if finished == len(ids) or (deadline is not None and time.monotonic() > deadline):
                return states
            time.sleep(0.5)
    finally:
        bar.close()
