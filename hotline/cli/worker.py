"""`hotline worker`: consume pipeline jobs from Redis (RQ), on any number of machines."""

from __future__ import annotations

import logging
import os
import socket

import click

from hotline.settings import Settings

log = logging.getLogger(__name__)


@click.command()
@click.option("--name", default=None, help="worker name shown by `rq info` (default: host.pid)")
@click.option("--burst", is_flag=True, help="exit when the queue is empty")
@click.option("--preload/--no-preload", default=True, show_default=True, help="load the speech model at start")
@click.option("--threads", type=int, default=None, help="CPU threads for transcription (default: all cores)")
def worker(name: str | None, burst: bool, preload: bool, threads: int | None) -> None:
    """Run pipeline jobs from HOTLINE_REDIS_URL; each worker process loads its speech model once."""
    from hotline.rq_entry import set_process_runner
    from hotline.rq_queue import RQQueue
    from hotline.runtime import Pipeline
    from hotline.speech_pool import InlineTranscriber
    from hotline.speech_setup import SpeechNotConfigured, load_transcriber, speech_spec
    from store.db import make_engine, migrate, session_factory

    settings = Settings.from_env()
    if not settings.redis_url:
        raise click.ClickException("HOTLINE_REDIS_URL is not set: without Redis, `hotline serve` runs the jobs itself")
    engine = make_engine(settings.database_url)
    migrate(engine)
    threads = threads or os.cpu_count() or 1
    transcriber = InlineTranscriber(settings, threads)
    pipe = Pipeline(settings, session_factory(engine), mode="worker", transcribe=transcriber)
    assert isinstance(pipe.queue, RQQueue)
    set_process_runner(pipe.runner)
    if preload:
        try:
            spec = speech_spec(settings, threads)
            load_transcriber(spec)
            log.info("speech model loaded: %s %s", spec.engine, spec.model_dir)
        except SpeechNotConfigured as exc:
            log.warning("%s (transcription jobs will fail until it is set)", exc)
    pipe.start()  # heartbeats, dead-worker reaping, re-pushing lost jobs
    name = name or f"{socket.gethostname()}.{os.getpid()}"
    log.info(
        "worker %s consuming queue %s (database %s)", name, settings.redis_queue, settings.describe()["database_url"]
    )
    try:
        pipe.queue.worker(name).work(burst=burst, logging_level=settings.log_level.upper())
    finally:
        pipe.stop()
