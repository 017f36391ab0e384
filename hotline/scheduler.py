"""The embedded runner's clock: daily retention and ANALYZE, weekly VACUUM, after the maintenance hour.

Each task is claimed once per day (or week) for the whole installation by inserting a Job row with a
unique key (``maint:retention:2026-11-30``): several `hotline serve` processes, or a server and a
worker machine, never run it twice. The row records the outcome (done, or failed with the error).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from hotline.settings import Settings
from store import maintenance
from store.db import transaction
from store.models_pipeline import Job

log = logging.getLogger(__name__)

CHECK_S = 600.0


def due_keys(now_local: datetime, hour: int) -> list[tuple[str, str]]:
    """(task, claim key) of the tasks due at this local time (pure: the clock is an argument)."""
    if now_local.hour < hour:
        return []
    day = now_local.date().isoformat()
    year, week, _ = now_local.isocalendar()
    return [
        ("retention", f"maint:retention:{day}"),
        ("analyze", f"maint:analyze:{day}"),
        ("vacuum", f"maint:vacuum:{year}-W{week:02d}"),
    ]


def claim(sessions: sessionmaker[Session], key: str, task: str) -> bool:
    """Insert the task's Job row; False when another process already claimed it."""
    try:
        with transaction(sessions) as s:
            # "done" from the start: the job sweeper never requeues it, no runner ever picks it up
            s.add(Job(key=key, step=f"maint-{task}", status="done", call_id=None, max_attempts=1, attempts=1))
        return True
    except IntegrityError:
        return False


def finish(sessions: sessionmaker[Session], key: str, error: str = "") -> None:
    if error:
        with transaction(sessions) as s:
            s.execute(update(Job).where(Job.key == key).values(status="failed", error=error[:500]))


def tasks(settings: Settings, engine: Engine, sessions: sessionmaker[Session]) -> dict[str, Callable[[], Any]]:
    from hotline import retention

    return {
        "retention": lambda: retention.run(settings, sessions, dry_run=False).deleted,
        "analyze": lambda: maintenance.analyze(engine),
        "vacuum": lambda: maintenance.vacuum(engine),
    }


def run_due(
    settings: Settings, engine: Engine, sessions: sessionmaker[Session], now: datetime | None = None
) -> list[str]:
    """Run every task that is due and not yet claimed; returns the tasks this process ran."""
    now_local = (now or datetime.now(ZoneInfo("UTC"))).astimezone(ZoneInfo(settings.timezone))
    ran = []
    jobs = tasks(settings, engine, sessions)
    for task, key in due_keys(now_local, settings.maintenance_hour):
        if not claim(sessions, key, task):
            continue
        try:
            out = jobs[task]()
            finish(sessions, key)
            log.info("maintenance %s done: %s", task, out)
        except Exception as exc:  # logged and recorded; the web app goes on
            log.exception("maintenance %s failed", task)
            finish(sessions, key, f"{type(exc).__name__}: {exc}")
        ran.append(task)
    return ran


class Scheduler:
    """A daemon thread in the server process that calls run_due every CHECK_S seconds."""

    def __init__(self, settings: Settings, engine: Engine, sessions: sessionmaker[Session]) -> None:
        self.settings, self.engine, self.sessions = settings, engine, sessions
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="hotline-scheduler", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(CHECK_S):
            try:
                run_due(self.settings, self.engine, self.sessions)
            except Exception:
                log.exception("maintenance check failed (will retry)")
