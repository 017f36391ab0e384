"""Where transcription runs: in this process (a `hotline worker`), or in a pool of worker processes.

The web process must stay responsive while calls are transcribed, so embedded mode transcribes in
spawned processes, one model each, loaded as the process starts.
"""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from hotline.settings import Settings
from hotline.speech_setup import SpeechSpec, load_transcriber, speech_spec, transcribe_in_process
from speech.types import Transcript

log = logging.getLogger(__name__)


def _warm(spec: SpeechSpec) -> None:
    """Pool initializer: load the model as the worker process starts."""
    try:
        load_transcriber(spec)
    except Exception:  # the first job reports the error with its reason
        log.exception("could not preload the speech model")


def _ping(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


class InlineTranscriber:
    """Transcribe in this process (a `hotline worker` is itself the worker process)."""

    def __init__(self, settings: Settings, threads: int | None = None) -> None:
        self.settings, self.threads = settings, threads or (os.cpu_count() or 1)

    def __call__(self, path: Path) -> Transcript:
        return transcribe_in_process(speech_spec(self.settings, self.threads), str(path))


class PoolTranscriber:
    """Transcribe in a pool of ``workers`` spawned processes, one model each (embedded mode)."""

    def __init__(self, settings: Settings, workers: int = 1) -> None:
        self.settings, self.workers = settings, max(1, workers)
        self.threads = max(1, (os.cpu_count() or 1) // self.workers)
        self._pool: ProcessPoolExecutor | None = None

    def _get_pool(self, spec: SpeechSpec) -> ProcessPoolExecutor:
        if self._pool is None:
            import multiprocessing

            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("spawn"), initializer=_warm, initargs=(spec,)
            )
        return self._pool

    def __call__(self, path: Path) -> Transcript:
        spec = speech_spec(self.settings, self.threads)
        try:
            return self._get_pool(spec).submit(transcribe_in_process, spec, str(path)).result()
        except BrokenProcessPool:
            self._pool = None  # a worker process died (e.g. out of memory): a new pool next time
            raise RuntimeError("transcription worker process died") from None

    def warm(self) -> None:
        """Start the worker processes and load their models now (benchmarks; servers load lazily)."""
        spec = speech_spec(self.settings, self.threads)
        pool = self._get_pool(spec)
        for f in [pool.submit(_ping, 0.5) for _ in range(self.workers)]:
            f.result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
