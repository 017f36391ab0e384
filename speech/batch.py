"""Batch transcription over worker processes: each worker loads its model once, files stream through.

Resumable: an input whose ``<out>/<stem>.json`` already holds a transcript is skipped. A file that
fails (corrupt, empty, unsupported) is reported and the batch goes on. Redaction runs in the
worker before the JSON is written, so unredacted text never reaches the disk.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import resource
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from speech.audio import AUDIO_SUFFIXES, AudioError
from speech.redact import Policy, redact_transcript
from speech.stt import Transcriber
from speech.transcribe import build_transcriber, transcribe_file


class BatchError(ValueError):
    """Bad arguments (a path that does not exist, no audio found)."""


@dataclass(frozen=True)
class EngineSpec:
    """Everything a worker needs to build its transcriber (plain values: it is pickled)."""

    engine: str
    model_dir: str
    language: str = "zh"
    threads: int = 1
    options: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class FileResult:
    path: str
    out: str
    ok: bool
    audio_seconds: float = 0.0
    compute_seconds: float = 0.0  # wall time in the worker
    error: str = ""
    skipped: bool = False
    cpu_seconds: float = 0.0  # CPU time of the worker process for this file
    peak_rss_mb: float = 0.0  # the worker's peak resident memory so far
    worker: int = 0  # pid of the worker process
    model_loads: int = 0  # transcribers (models) this worker has built so far: 1 when loaded once
    started_at: float = 0.0  # wall clock (time.time) when the worker began this file
    finished_at: float = 0.0  # and when it was done: spans across workers, model loads excluded


@dataclass
class BatchSummary:
    results: list[FileResult] = field(default_factory=list)
    wall_seconds: float = 0.0
    workers: int = 0  # worker processes started (0 when every input was already done)

    @property
    def done(self) -> list[FileResult]:
        return [r for r in self.results if r.ok and not r.skipped]

    @property
    def skipped(self) -> list[FileResult]:
        return [r for r in self.results if r.skipped]

    @property
    def failed(self) -> list[FileResult]:
        return [r for r in self.results if not r.ok]

    @property
    def audio_seconds(self) -> float:
        return sum(r.audio_seconds for r in self.done)

    @property
    def compute_seconds(self) -> float:
        return sum(r.compute_seconds for r in self.done)

    @property
    def cpu_seconds(self) -> float:
        return sum(r.cpu_seconds for r in self.done)

    @property
    def busy_seconds(self) -> float:
        """Wall time from the first file's start to the last file's end: spawn and model load excluded."""
        done = self.done
        if not done:
            return 0.0
        return max(r.finished_at for r in done) - min(r.started_at for r in done)

    @property
    def peak_rss_mb(self) -> float:
        return max((r.peak_rss_mb for r in self.done), default=0.0)

    @property
    def all_failed(self) -> bool:
        return bool(self.results) and not any(r.ok for r in self.results)


def collect_inputs(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given (any extension) and audio files found under folders, sorted, no duplicates."""
    out: list[Path] = []
    seen: set[Path] = set()
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES)
        elif p.is_file():
            found = [p]
        else:
            raise BatchError(f"{p}: no such file or directory")
        for f in found:
            key = f.resolve()
            if key not in seen:
                seen.add(key)
                out.append(f)
    return out


def output_paths(inputs: Sequence[Path], out_dir: Path) -> list[Path]:
    """``<out>/<stem>.json``; a stem seen before gets ``<stem>-2.json``, ``-3``… (stable order)."""
    counts: dict[str, int] = {}
    outs = []
    for f in inputs:
        n = counts.get(f.stem, 0) + 1
        counts[f.stem] = n
        outs.append(out_dir / (f"{f.stem}.json" if n == 1 else f"{f.stem}-{n}.json"))
    return outs


def already_done(out: Path) -> bool:
    try:
        data = json.loads(out.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and "utterances" in data


# --- worker side ---------------------------------------------------------------------------

_WORKER: dict[str, Any] = {}


def _init_worker(spec: EngineSpec, policy: Policy | None, caller_channel: int) -> None:
    """Runs once per worker process: the model is loaded here, not per file."""
    _WORKER["transcriber"] = build_transcriber(
        spec.engine, spec.model_dir, spec.language, spec.threads, **dict(spec.options)
    )
    _WORKER["model_loads"] = int(_WORKER.get("model_loads", 0)) + 1
    _WORKER["policy"] = policy
    _WORKER["caller_channel"] = caller_channel
    _WORKER["pid"] = os.getpid()


def process_file(path: str, out: str) -> FileResult:
    """Transcribe one file in this worker and write its JSON atomically."""
    transcriber: Transcriber = _WORKER["transcriber"]
    t0, c0, started_at = time.perf_counter(), time.process_time(), time.time()
    pid = worker_pid()
    loads = int(_WORKER.get("model_loads", 0))
    try:
        transcript = transcribe_file(path, transcriber, _WORKER["caller_channel"])
    except AudioError as exc:
        return FileResult(path, out, False, error=exc.reason, worker=pid, model_loads=loads)
    except Exception as exc:  # an engine failure on one file must not stop the batch
        return FileResult(path, out, False, error=f"{type(exc).__name__}: {exc}", worker=pid, model_loads=loads)
    policy = _WORKER["policy"]
    if policy is not None:
        transcript = redact_transcript(transcript, policy)
    tmp = Path(out + ".tmp")
    tmp.write_text(transcript.to_json() + "\n", encoding="utf-8")
    tmp.replace(out)
    return FileResult(
        path,
        out,
        True,
        transcript.duration,
        time.perf_counter() - t0,
        cpu_seconds=time.process_time() - c0,
        peak_rss_mb=peak_rss_mb(),
        worker=pid,
        model_loads=loads,
        started_at=started_at,
        finished_at=time.time(),
    )


def peak_rss_mb() -> float:
    """This process's own peak resident memory. ``ru_maxrss`` is not it: Linux keeps the parent's
    figure across fork + exec, so a spawned worker would report its parent's peak. VmHWM is per
    address space."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_pid() -> int:
    return int(_WORKER.get("pid", os.getpid()))


# --- driver --------------------------------------------------------------------------------

Progress = Callable[[FileResult], None]


def run_batch(
    inputs: Sequence[Path],
    out_dir: Path,
    spec: EngineSpec,
    jobs: int = 1,
    policy: Policy | None = Policy(),  # noqa: B008
    caller_channel: int = 0,
    progress: Progress | None = None,
    on_start: Callable[[int], None] | None = None,
) -> BatchSummary:
    """Transcribe ``inputs`` into ``out_dir`` with ``jobs`` worker processes.

    ``progress`` is called in this process after each file (done, skipped or failed);
    ``on_start`` gets the number of files that will actually be processed.
    ``policy=None`` disables redaction.
    """
    if jobs < 1:
        raise BatchError("jobs must be >= 1")
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = BatchSummary()
    t0 = time.perf_counter()
    todo: list[tuple[str, str]] = []
    for f, out in zip(inputs, output_paths(inputs, out_dir), strict=True):
        if already_done(out):
            r = FileResult(str(f), str(out), True, skipped=True)
            summary.results.append(r)
            if progress:
                progress(r)
        else:
            todo.append((str(f), str(out)))
    if on_start:
        on_start(len(todo))
    if todo:
        workers = summary.workers = min(jobs, len(todo))
        ctx = mp.get_context("spawn")  # clean children: no inherited threads or model copies
        with ProcessPoolExecutor(workers, ctx, _init_worker, (spec, policy, caller_channel)) as pool:
            pending: dict[Future[FileResult], tuple[str, str]] = {}
            queue = list(reversed(todo))
            # keep a bounded number of tasks in flight so a huge batch does not sit in memory
            while queue or pending:
                while queue and len(pending) < workers * 4:
                    src, dst = queue.pop()
                    pending[pool.submit(process_file, src, dst)] = (src, dst)
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    if fut not in pending:  # reported already: the pool broke on an earlier one
                        continue
                    src, dst = pending.pop(fut)
                    try:
                        results = [fut.result()]
                    except BrokenProcessPool:  # a worker died (out of memory, a crash in the engine)
                        lost = [(src, dst), *pending.values(), *reversed(queue)]
                        pending.clear()
                        queue.clear()
                        results = [FileResult(a, b, False, error="worker process died") for a, b in lost]
                    for r in results:
                        summary.results.append(r)
                        if progress:
                            progress(r)
    summary.wall_seconds = time.perf_counter() - t0
    return summary
