"""One SQLite writer at a time, across the threads of a process and the processes of a server.

SQLite allows one writer; a connection that finds the database locked sleeps in SQLite's busy
handler (1, 2, 5 … 100 ms steps), so under load the slowest requests pay for it. Waiting on a
lock instead hands the turn over at once: a ``threading.Lock`` between threads, and an
``flock`` on a file beside the database between the processes of ``hotline serve --processes``.
Other databases need no such lock (PostgreSQL rows are locked by the statements themselves).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows: threads only
    fcntl = None  # type: ignore[assignment]


class WriterLock:
    """A context manager: the thread lock, then the file lock (if any), released in reverse."""

    def __init__(self, path: Path | None = None) -> None:
        self._thread = threading.Lock()
        self._fd: int | None = None
        if path is not None and fcntl is not None:
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with self._thread:
            if self._fd is None:
                yield
                return
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def writer_lock(engine: Engine, *, processes: bool = False) -> Any:
    """The lock a process's webhook transactions take on this engine (a no-op except on SQLite).

    ``processes``: other processes of this server write too (``hotline serve --processes``), so
    the lock file is taken as well; one process needs the thread lock only.
    """
    if engine.dialect.name != "sqlite":
        return contextlib.nullcontext
    db = engine.url.database
    if not processes or not db or db == ":memory:":
        return WriterLock()
    return WriterLock(Path(db).with_name(Path(db).name + ".writer-lock"))
