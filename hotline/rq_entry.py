"""The worker side of RQ delivery: what an RQ job runs (``rq_run``), on top of the composition.

A `hotline worker` installs its runner with ``set_process_runner``; a job landing in a process that
did not (e.g. a plain `rq worker`) builds one from the environment on first use.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from hotline.jobs import Runner
from hotline.runtime import Pipeline
from hotline.settings import Settings
from store.db import make_engine, session_factory

log = logging.getLogger(__name__)

_PROCESS_RUNNER: Runner | None = None
_PROCESS_FACTORY: Callable[[], Runner] | None = None


def set_process_runner(runner: Runner | None, factory: Callable[[], Runner] | None = None) -> None:
    """The runner RQ jobs of this process use (``hotline worker`` installs it at start)."""
    global _PROCESS_RUNNER, _PROCESS_FACTORY
    _PROCESS_RUNNER, _PROCESS_FACTORY = runner, factory


def worker_runner_from_env() -> Runner:
    """Used when an RQ job lands in a process that did not set up a runner (e.g. plain `rq worker`)."""
    settings = Settings.from_env()
    pipe = Pipeline(settings, session_factory(make_engine(settings.database_url)), mode="worker")
    set_process_runner(pipe.runner)
    pipe.queue.start()
    return pipe.runner


def rq_run(job_id: int) -> str:
    """Entry point of every RQ job: run the Job row ``job_id``. Never raises: the row holds the outcome."""
    global _PROCESS_RUNNER
    if _PROCESS_RUNNER is None:
        _PROCESS_RUNNER = worker_runner_from_env() if _PROCESS_FACTORY is None else _PROCESS_FACTORY()
    try:
        return _PROCESS_RUNNER.run(job_id)
    except Exception:
        log.exception("job %d: runner error; the lease will expire and the job be retried", job_id)
        return "error"
