"""The job queue: a Job row per step is the truth, a queue only delivers ids.

Two deliveries share one ``Runner``:

- ``EmbeddedQueue`` (default, here): threads in the web process poll the database for queued jobs.
- ``hotline.rq_queue.RQQueue`` (``HOTLINE_REDIS_URL``): ids go to a Redis list consumed by
  ``hotline worker`` processes (RQ ``SimpleWorker``: no fork per job, so each worker loads its
  speech model once).

Guarantees, whatever the delivery: enqueue is idempotent (``Job.key``); a job is claimed by one
conditional UPDATE, so it never runs twice at once and completes at most once (the attempt number
fences out a worker presumed dead); a worker that stops heart-beating loses its lease and the job
is requeued; attempts are bounded, after which the job and its call are marked failed.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from store import pipeline as repo
from store.db import transaction
from store.models_pipeline import Job

log = logging.getLogger(__name__)


class PermanentError(Exception):
    """Retrying cannot help (corrupt or silent audio, a recording that does not exist)."""


class LostLease(Exception):
    """This worker was presumed dead and its job handed to another; its writes are rolled back."""


@dataclass(frozen=True)
class NextJob:
    key: str
    step: str
    call_id: int | None


# A step handler does the slow work outside any transaction and returns a writer; the writer runs in
# the same transaction that marks the job done, and returns the jobs to enqueue next.
Writer = Callable[[Session], Sequence[NextJob]]
StepHandler = Callable[[Job], Writer]
FailureHook = Callable[[Session, Job, str, bool], None]  # (session, job, reason, final)


def backoff_s(attempts: int) -> float:
    """Delay before attempt n+1: 1, 2, 4 … seconds, capped at a minute."""
    return float(min(60, 2 ** max(0, attempts - 1)))


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


class Queue(Protocol):
    def notify(self, refs: Sequence[repo.JobRef]) -> None: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...


class Runner:
    """Claims and runs jobs; knows the step handlers, not how ids are delivered."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        handlers: Mapping[str, StepHandler],
        *,
        max_attempts: int = 3,
        lease_s: float = 60.0,
        on_failure: FailureHook | None = None,
    ) -> None:
        self.sessions = sessions
        self.handlers = dict(handlers)
        self.max_attempts = max_attempts
        self.lease_s = lease_s
        self.on_failure = on_failure
        self.queue: Queue | None = None
        self._held: dict[tuple[int, int], str] = {}  # (job id, attempt) -> worker
        self._lock = threading.Lock()

    # -- enqueueing ---------------------------------------------------------------------------
    def add(self, s: Session, jobs: Sequence[NextJob]) -> list[repo.JobRef]:
        """Create jobs inside the caller's transaction; returns the new ones (notify after commit)."""
        out = []
        for nj in jobs:
            job, created = repo.get_or_create_job(
                s, key=nj.key, step=nj.step, call_id=nj.call_id, max_attempts=self.max_attempts
            )
            if created:
                s.flush()
                out.append(repo.ref(job))
        return out

    def notify(self, refs: Sequence[repo.JobRef]) -> None:
        if refs and self.queue is not None:
            try:
                self.queue.notify(refs)
            except Exception as exc:  # the rows are committed; the sweeper delivers them later
                log.warning("queue notify failed for %d job(s), the sweeper will deliver them: %s", len(refs), exc)

    # -- running ------------------------------------------------------------------------------
    def run(self, job_id: int, worker: str | None = None) -> str:
        """Run one job if it is still queued. Returns done|retry|failed|skipped|lost."""
        worker = worker or worker_name()
        with transaction(self.sessions) as s:
            attempt = repo.claim(s, job_id, worker, repo.now_utc())
        if attempt is None:
            return "skipped"
        with self._lock:
            self._held[(job_id, attempt)] = worker
        try:
            return self._run_claimed(job_id, worker, attempt)
        finally:
            with self._lock:
                self._held.pop((job_id, attempt), None)

    def _run_claimed(self, job_id: int, worker: str, attempt: int) -> str:
        with transaction(self.sessions) as s:
            job = s.get(Job, job_id)
            assert job is not None
            s.expunge(job)
        log.info(
            "job %d %s call=%s attempt %d/%d on %s", job.id, job.step, job.call_id, attempt, job.max_attempts, worker
        )
        started = time.monotonic()
        try:
            handler = self.handlers.get(job.step)
            if handler is None:
                raise PermanentError(f"no handler for step {job.step!r}")
            writer = handler(job)
            new: list[repo.JobRef] = []
            with transaction(self.sessions) as s:
                nexts = writer(s)
                new = self.add(s, nexts)
                if not repo.complete(s, job_id, worker, attempt, repo.now_utc()):
                    raise LostLease(f"job {job_id} attempt {attempt} no longer held by {worker}")
        except LostLease as exc:
            log.warning("%s; its writes were rolled back", exc)
            return "lost"
        except Exception as exc:
            return self._fail(job, worker, attempt, exc)
        log.info("job %d %s done in %.2fs", job.id, job.step, time.monotonic() - started)
        self.notify(new)
        return "done"

    def _fail(self, job: Job, worker: str, attempt: int, exc: Exception) -> str:
        permanent = isinstance(exc, PermanentError)
        reason = str(exc) or type(exc).__name__
        if not permanent:
            reason = f"{type(exc).__name__}: {reason}"
        with transaction(self.sessions) as s:
            status = repo.record_failure(s, job.id, worker, attempt, reason, permanent=permanent, now=repo.now_utc())
            if status is not None and self.on_failure is not None:
                job.attempts = attempt
                self.on_failure(s, job, reason, status == repo.FAILED)
        if status is None:
            return "lost"
        log.warning(
            "job %d %s call=%s attempt %d/%d %s: %s",
            job.id,
            job.step,
            job.call_id,
            attempt,
            job.max_attempts,
            "failed for good" if status == repo.FAILED else "will be retried",
            reason,
        )
        return "failed" if status == repo.FAILED else "retry"

    # -- upkeep -------------------------------------------------------------------------------
    def heartbeat(self) -> None:
        """Extend the lease of every job this process is running."""
        with self._lock:
            held = dict(self._held)
        by_worker: dict[str, list[tuple[int, int]]] = {}
        for lease, worker in held.items():
            by_worker.setdefault(worker, []).append(lease)
        for worker, leases in by_worker.items():
            with transaction(self.sessions) as s:
                repo.heartbeat(s, leases, worker, repo.now_utc())

    def reap(self) -> list[repo.JobRef]:
        """Requeue the jobs of workers that stopped heart-beating; returns the requeued ones."""
        now = repo.now_utc()
        with transaction(self.sessions) as s:
            jobs = repo.reap_stale(s, now - timedelta(seconds=self.lease_s), now)
            requeued = []
            for job in jobs:
                final = job.status == repo.FAILED
                log.warning(
                    "job %d %s call=%s: %s%s", job.id, job.step, job.call_id, job.error, " (final)" if final else ""
                )
                if self.on_failure is not None:
                    self.on_failure(s, job, job.error, final)
                if not final:
                    requeued.append(repo.ref(job))
        return requeued

    def claimable(self, steps: Sequence[str] | None = None, not_steps: Sequence[str] = ()) -> list[repo.JobRef]:
        with transaction(self.sessions) as s:
            return repo.claimable(s, repo.now_utc(), backoff_s, steps=steps, not_steps=not_steps)


class Maintenance:
    """One background thread per process: heartbeats every ``lease/4`` s, sweeps every ``lease/2`` s."""

    def __init__(self, runner: Runner, sweep: Callable[[], None], lease_s: float) -> None:
        self.runner, self.sweep, self.lease_s = runner, sweep, lease_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="hotline-jobs-upkeep", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        beat = max(0.5, self.lease_s / 4)
        next_sweep = 0.0
        while not self._stop.wait(beat):
            try:
                self.runner.heartbeat()
                if time.monotonic() >= next_sweep:
                    self.sweep()
                    next_sweep = time.monotonic() + max(1.0, self.lease_s / 2)
            except Exception:
                log.exception("job upkeep failed (will retry)")


class NullQueue:
    """For CLI processes on the embedded setup: rows are committed, the server's pool polls for them."""

    def notify(self, refs: Sequence[repo.JobRef]) -> None:
        pass

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


class EmbeddedQueue:
    """In-process delivery: runner threads poll the database; notify wakes them at once.

    ``lanes`` gives steps their own threads (step name -> threads), so quick steps never wait
    behind slow ones: e.g. ``{"transcribe": 2}`` plus ``threads`` for every other step.
    """

    def __init__(
        self,
        runner: Runner,
        *,
        threads: int = 2,
        lanes: Mapping[str, int] | None = None,
        poll_s: float = 1.0,
        extra_sweep: Callable[[], Any] | None = None,
    ) -> None:
        self.runner, self.threads, self.poll_s = runner, max(1, threads), poll_s
        self.lanes = dict(lanes or {})
        self.extra_sweep = extra_sweep
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []
        self._start_lock = threading.Lock()
        self.upkeep = Maintenance(runner, self._sweep, runner.lease_s)
        runner.queue = self

    @property
    def running(self) -> bool:
        return bool(self._workers) and not self._stop.is_set()

    def notify(self, refs: Sequence[repo.JobRef]) -> None:
        self.start()
        self._wake.set()

    def start(self) -> None:
        with self._start_lock:
            if self._workers:
                return
            plan: list[tuple[str, list[str] | None, list[str]]] = [
                (step, [step], []) for step, n in self.lanes.items() for _ in range(max(1, n))
            ]
            plan += [("other", None, list(self.lanes)) for _ in range(self.threads)]
            for i, (lane, steps, not_steps) in enumerate(plan):
                t = threading.Thread(
                    target=self._loop, args=(steps, not_steps), name=f"hotline-jobs-{lane}-{i}", daemon=True
                )
                t.start()
                self._workers.append(t)
            self.upkeep.start()
        log.info("embedded job pool started: %d runner thread(s) %s", len(self._workers), self.lanes or "")

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self.upkeep.stop()
        for t in self._workers:
            t.join(timeout=30)

    def _sweep(self) -> None:
        if self.extra_sweep is not None:
            self.extra_sweep()
        if self.runner.reap():
            self._wake.set()

    def _loop(self, steps: list[str] | None, not_steps: list[str]) -> None:
        worker = worker_name()
        while not self._stop.is_set():
            ran = False
            try:
                for r in self.runner.claimable(steps, not_steps):
                    if self._stop.is_set():
                        break
                    if self.runner.run(r.id, worker) != "skipped":
                        ran = True
                        break  # re-read the queue: oldest first
            except Exception:
                log.exception("embedded job runner error (continuing)")
                time.sleep(self.poll_s)
            if not ran:
                self._wake.wait(self.poll_s)
                self._wake.clear()


def job_table(jobs: Sequence[Job]) -> list[dict[str, Any]]:
    """Plain rows for `hotline jobs list`."""
    return [
        {
            "id": j.id,
            "key": j.key,
            "call_id": j.call_id,
            "step": j.step,
            "status": j.status,
            "attempts": f"{j.attempts}/{j.max_attempts}",
            "worker": j.worker,
            "updated_at": repo.aware(j.updated_at).isoformat(timespec="seconds"),
            "error": j.error,
        }
        for j in jobs
    ]
