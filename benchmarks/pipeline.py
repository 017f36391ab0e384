"""The whole pipeline on a batch of 1–3 minute two-channel calls: embedded vs two `hotline worker`s.

For each mode: a real HTTP server (waitress) takes signed recording callbacks; the batch goes
through fetch -> transcribe -> redact -> score; meanwhile a caller loop posts signed `/ivr/voice`
webhooks and records their latency, so we see what the batch leaves for the webhooks.

    .venv/bin/python benchmarks/pipeline.py                  # 3 calls of 1–2 min (a few minutes on 2 cores)
    .venv/bin/python benchmarks/pipeline.py --calls 50 --max-seconds 180
    .venv/bin/python benchmarks/pipeline.py --modes embedded

Prints wall time, audio minutes per wall minute, webhook p50/p99 idle and under load, ratios.
Distributed mode needs PostgreSQL and Redis on localhost (HOTLINE_TEST_PG, HOTLINE_TEST_REDIS).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hotline.settings import Secret, Settings  # noqa: E402

PG = os.environ.get("HOTLINE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("HOTLINE_TEST_REDIS", "redis://127.0.0.1:6379/0")
TOKEN = "bench-token"


def signed(url: str, params: dict[str, str]) -> dict[str, str]:
    from twilio.request_validator import RequestValidator

    return {"X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(url, params)}


def serve(app: Any, port: int) -> Any:
    from waitress.server import create_server

    srv = create_server(app, host="127.0.0.1", port=port, threads=8)
    threading.Thread(target=srv.run, daemon=True).start()
    return srv


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class WebhookLoad:
    """Signed /ivr/voice posts at ``rate`` per second; latencies in ms."""

    def __init__(self, base: str, rate: float = 5.0) -> None:
        import requests

        self.base, self.period = base, 1.0 / rate
        self.http = requests.Session()
        self.lat: list[float] = []
        self.errors = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._loop, daemon=True)

    def one(self) -> None:
        url = self.base + "/ivr/voice"
        params = {
            "CallSid": "CA" + uuid.uuid4().hex,
            "AccountSid": "AC" + "0" * 32,
            "From": "+8613800138000",
            "To": "+86950618",
            "CallStatus": "ringing",
            "Direction": "inbound",
        }
        t0 = time.perf_counter()
        r = self.http.post(url, data=params, headers=signed(url, params), timeout=30)
        self.lat.append((time.perf_counter() - t0) * 1000)
        if r.status_code != 200:
            self.errors += 1

    def _loop(self) -> None:
        while not self._stop.is_set():
            t0 = time.monotonic()
            try:
                self.one()
            except Exception:
                self.errors += 1
            self._stop.wait(max(0.0, self.period - (time.monotonic() - t0)))

    def start(self) -> None:
        self._t.start()

    def stop(self) -> None:
        self._stop.set()
        self._t.join()


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


def idle_latency(base: str, n: int = 60) -> list[float]:
    load = WebhookLoad(base)
    for _ in range(n):
        load.one()
    return load.lat


def make_batch(out: Path, n: int, lo: float, hi: float, shared: Path, seed: int) -> list[tuple[Path, float]]:
    from hotline.simcalls import CallBuilder, speech_sources

    builder = CallBuilder(speech_sources(shared, ROOT / "audio_fixtures"), seed=seed, tts_cache=out / "tts")
    rng = random.Random(seed)
    batch = []
    for i in range(n):
        p = out / f"call{i:03d}.wav"
        batch.append((p, builder.write(p, rng.uniform(lo, hi))))
    return batch


def run_mode(mode: str, batch: list[tuple[Path, float]], base_settings: Settings, work: Path) -> dict[str, Any]:
    from sqlalchemy import text

    from hotline.app import create_app
    from hotline.runtime import wait_for_calls
    from store import pipeline as repo
    from store.db import make_engine, transaction

    workers: list[subprocess.Popen[bytes]] = []
    admin = None
    dbname = ""
    data_dir = work / mode / "var"
    settings = base_settings.with_(data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'hotline.db'}")
    if mode == "distributed":
        dbname = f"hotline_bench_{uuid.uuid4().hex[:8]}"
        admin = make_engine(PG, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{dbname}"'))
        settings = settings.with_(
            database_url=PG.rsplit("/", 1)[0] + "/" + dbname, redis_url=REDIS, redis_queue=f"bench-{dbname}"
        )
    else:
        settings = settings.with_(workers=2)  # two transcription processes, like the two workers
    from hotline.simcalls import media_server

    media = contextlib.ExitStack()
    media_base = media.enter_context(media_server(batch[0][0].parent))  # the recordings, over http like Twilio's
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = settings.with_(public_url=base, recording_hosts=media_base)
    app = create_app(settings)
    if mode == "embedded":  # like the workers below: processes started and models loaded before the batch
        app.extensions["hotline"]["pipeline"].warm()
    srv = serve(app, port)
    try:
        idle = idle_latency(base)
        if mode == "distributed":
            env = dict(os.environ)
            env.update(
                HOTLINE_DATA_DIR=str(settings.data_dir),
                HOTLINE_DATABASE_URL=settings.database_url,
                HOTLINE_REDIS_URL=REDIS,
                HOTLINE_REDIS_QUEUE=settings.redis_queue,
                HOTLINE_RECORDING_HOSTS=media_base,
                HOTLINE_SPEECH_ENGINE=settings.speech_engine,
                HOTLINE_WHISPER_MODEL=settings.whisper_model,
                HOTLINE_VOSK_MODEL=settings.vosk_model,
                HOTLINE_LOG_LEVEL="WARNING",
            )
            exe = str(Path(sys.executable).parent / "hotline")
            for i in range(2):
                workers.append(
                    subprocess.Popen(
                        [exe, "worker", "--threads", "1", "--name", f"{settings.redis_queue}-{i}"],
                        env=env,
                        start_new_session=True,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
            time.sleep(8)  # let both load their model, as long-running workers would have
        import requests

        load = WebhookLoad(base)
        load.start()
        t0 = time.monotonic()
        http = requests.Session()
        for i, (path, dur) in enumerate(batch):
            url = base + "/ivr/recording"
            params = {
                "CallSid": "CA" + uuid.uuid4().hex,
                "AccountSid": "AC" + "0" * 32,
                "RecordingSid": "RE" + uuid.uuid4().hex,
                "RecordingUrl": f"{media_base}/{path.name}",
                "RecordingStatus": "completed",
                "RecordingDuration": str(int(dur)),
                "RecordingChannels": "2",
            }
            r = http.post(url, data=params, headers=signed(url, params), timeout=30)
            assert r.status_code == 200, (i, r.status_code, r.text[:200])
        sessions = app.extensions["hotline"]["sessions"]
        with transaction(sessions) as s:
            from sqlalchemy import select

            from store.models_pipeline import Recording

            ids = list(s.scalars(select(Recording.call_id)).all())
        assert len(ids) == len(batch), f"expected {len(batch)} recordings in a fresh database, found {len(ids)}"
        states = wait_for_calls(sessions, ids, desc=mode, progress=sys.stderr.isatty())
        wall = time.monotonic() - t0
        load.stop()
        with transaction(sessions) as s:
            jobs = repo.count_by_status(s)
    finally:
        srv.close()
        media.close()
        for w in workers:
            os.killpg(w.pid, signal.SIGTERM)
        for w in workers:
            try:
                w.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(w.pid, signal.SIGKILL)
        app.extensions["hotline"]["pipeline"].stop()
        app.extensions["hotline"]["engine"].dispose()
        if admin is not None:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))
            admin.dispose()
            from redis import Redis

            r = Redis.from_url(REDIS)
            keys = list(r.scan_iter(f"*{settings.redis_queue}*"))
            if keys:
                r.delete(*keys)
    audio_min = sum(d for _, d in batch) / 60
    scored = sum(1 for st, _ in states.values() if st == "scored")
    return {
        "mode": mode,
        "calls": len(batch),
        "scored": scored,
        "failed": len(states) - scored,
        "audio_min": audio_min,
        "wall_s": wall,
        "audio_min_per_wall_min": audio_min / (wall / 60),
        "idle_p50": pct(idle, 50),
        "idle_p99": pct(idle, 99),
        "load_p50": pct(load.lat, 50),
        "load_p99": pct(load.lat, 99),
        "load_max": max(load.lat) if load.lat else float("nan"),
        "webhooks": len(load.lat),
        "webhook_errors": load.errors,
        "jobs": jobs,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=3)
    ap.add_argument("--min-seconds", type=float, default=60)
    ap.add_argument("--max-seconds", type=float, default=120)
    ap.add_argument("--modes", default="embedded,distributed")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    import logging

    logging.basicConfig(level=logging.WARNING)
    from hotline.speech_setup import fallback_speech

    base = Settings.from_env(twilio_auth_token=Secret(TOKEN), database_url="", redis_url="")
    base, chosen = fallback_speech(base)
    work = Path(tempfile.mkdtemp(prefix="hotline-bench-"))
    batch = make_batch(work / "incoming", args.calls, args.min_seconds, args.max_seconds, base.shared_dir, args.seed)
    total = sum(d for _, d in batch)
    if base.speech_engine == "whisper":
        chosen += f", beam {base.whisper_beam}, {base.whisper_compute_type}"
    print(f"speech: {chosen}; cores: {os.cpu_count()}")
    print(
        f"batch: {len(batch)} two-channel calls, {total / 60:.1f} audio minutes "
        f"({min(d for _, d in batch):.0f}–{max(d for _, d in batch):.0f} s each)"
    )
    results = []
    for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
        print(f"\n== {mode} ==", flush=True)
        try:
            r = run_mode(mode, batch, base, work)
        except Exception as exc:  # e.g. PostgreSQL/Redis not running
            print(f"{mode}: not run ({type(exc).__name__}: {exc})")
            continue
        results.append(r)
        print(
            f"scored {r['scored']}/{r['calls']} (failed {r['failed']}), wall {r['wall_s']:.1f} s, "
            f"{r['audio_min_per_wall_min']:.2f} audio min per wall min"
        )
        print(
            f"webhook /ivr/voice latency ms: idle p50 {r['idle_p50']:.1f} p99 {r['idle_p99']:.1f}; "
            f"during batch p50 {r['load_p50']:.1f} p99 {r['load_p99']:.1f} max {r['load_max']:.1f} "
            f"({r['webhooks']} requests, {r['webhook_errors']} errors); jobs {r['jobs']}"
        )
    if len(results) == 2:
        a, b = results
        print(
            f"\nthroughput {b['mode']} / {a['mode']}: {b['audio_min_per_wall_min'] / a['audio_min_per_wall_min']:.2f}"
        )
        for r in results:
            print(f"{r['mode']}: webhook p99 under load / idle: {r['load_p99'] / r['idle_p99']:.1f}x")
    print(f"\nwork dir: {work}")


if __name__ == "__main__":
    main()
