"""The SQLite writer lock: threads always, a lock file only when several server processes write."""

from __future__ import annotations

import contextlib
import multiprocessing
import time
from pathlib import Path

from store.db import make_engine
from store.writer import WriterLock, writer_lock


def test_one_process_needs_no_lock_file(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'h.db'}")
    lock = writer_lock(engine)
    with lock():
        pass
    assert isinstance(lock, WriterLock) and not list(tmp_path.glob("*.writer-lock"))
    assert writer_lock(make_engine("postgresql://u@localhost/db")) is contextlib.nullcontext


def _hold(path: str, seconds: float, ready: object) -> None:
    lock = WriterLock(Path(path))
    with lock():
        ready.set()  # type: ignore[attr-defined]
        time.sleep(seconds)


def test_processes_take_turns(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'h.db'}")
    lock = writer_lock(engine, processes=True)
    path = tmp_path / "h.db.writer-lock"
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    other = ctx.Process(target=_hold, args=(str(path), 0.5, ready))
    other.start()
    assert ready.wait(10) and path.exists()
    t0 = time.monotonic()
    with lock():  # waits for the other process to let go
        waited = time.monotonic() - t0
    other.join(10)
    assert waited > 0.3
