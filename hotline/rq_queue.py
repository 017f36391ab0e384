"""Delivery of job ids over Redis with RQ (``HOTLINE_REDIS_URL``), consumed by ``hotline worker``.

The job row in the database is the truth; Redis only carries ids. RQ names the function a job
runs by its dotted path, ``RQ_ENTRY``: the worker side lives in ``hotline.rq_entry``, above the
composition (``hotline.runtime``), so this module does not import it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from hotline.jobs import Maintenance, Runner
from store import pipeline as repo

log = logging.getLogger(__name__)

RQ_ENTRY = "hotline.rq_entry.rq_run"  # what every RQ job runs, with the Job row id
ACTIVE_RQ = ("queued", "started", "scheduled", "deferred")


class RQQueue:
    """Delivery over Redis with RQ. Pushing is idempotent per (job, attempt)."""

    def __init__(
        self, runner: Runner, redis_url: str, name: str = "hotline", extra_sweep: Callable[[], Any] | None = None
    ) -> None:
        from redis import Redis
        from rq import Queue as RQ

        self.runner, self.name = runner, name
        self.redis = Redis.from_url(redis_url, socket_connect_timeout=5, socket_timeout=30)
        self.rq = RQ(name, connection=self.redis)
        self.extra_sweep = extra_sweep
        self.upkeep = Maintenance(runner, self.sweep, runner.lease_s)
        runner.queue = self

    def rq_id(self, r: repo.JobRef) -> str:
        """One RQ job per (row, attempt); the queue name keeps installations sharing a Redis apart."""
        return f"{self.name}-{r.id}-{r.attempts}"

    def notify(self, refs: Sequence[repo.JobRef]) -> None:
        for r in refs:
            self.rq.enqueue(
                RQ_ENTRY,
                r.id,
                job_id=self.rq_id(r),
                job_timeout=-1,  # our lease, not a signal, decides when a job is abandoned
                result_ttl=0,
                failure_ttl=24 * 3600,
                description=f"{r.step} {r.key}",
            )

    def start(self) -> None:
        """Used by web processes: only the sweeper runs here, jobs run in ``hotline worker``."""
        self.upkeep.start()

    def stop(self) -> None:
        self.upkeep.stop()

    def sweep(self) -> None:
        """Reap dead workers' jobs and (re)push any queued job Redis does not hold (lost push, retry)."""
        from rq.job import Job as RQJob

        if self.extra_sweep is not None:
            self.extra_sweep()
        self.runner.reap()
        missing = []
        for r in self.runner.claimable():
            try:
                status = RQJob.fetch(self.rq_id(r), connection=self.redis).get_status(refresh=False)
            except Exception:
                status = None
            if status is None or str(getattr(status, "value", status)) not in ACTIVE_RQ:
                missing.append(r)
        if missing:
            log.info("sweeper pushes %d queued job(s) to %s", len(missing), self.name)
            self.notify(missing)

    def worker(self, name: str | None = None) -> Any:
        from rq import SimpleWorker

        return SimpleWorker([self.rq], connection=self.redis, name=name)
