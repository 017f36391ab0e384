"""Queue mechanics on a real SQLite store with fake speech/QA steps: idempotence, retries, leases, failures."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from hotline.fetch import Download, Fetcher
from hotline.jobs import PermanentError
from hotline.runtime import Pipeline
from hotline.settings import Settings
from hotline.storage import store_audio
from ivr.recording_url import parse_hosts
from qa.score import ItemScore, ScoreResult
from speech.types import Transcript, Utterance
from store import pipeline as repo
from store.db import make_engine, migrate, session_factory, transaction
from store.models_pipeline import Job, Recording, ScoreRow, TranscriptRow

from .util import add_call, call_state, pipeline_snapshot, wait_for, write_wav


def fake_transcribe(path: Path) -> Transcript:
    if path.stat().st_size < 2000:
        return Transcript(duration=0.1, engine="fake", model="m", language="zh")
    return Transcript(
        duration=1.0,
        engine="fake",
        model="m",
        language="zh",
        utterances=(
            Utterance("agent", 0.0, 0.5, "您好很高兴为您服务"),
            Utterance("customer", 0.5, 1.0, "我的电话是13812345678"),
        ),
    )


def fake_redact(t: Transcript) -> Transcript:
    utterances = tuple(replace(u, text=u.text.replace("13812345678", "[电话]")) for u in t.utterances)
    return replace(t, utterances=utterances, redacted=True)


def fake_score(t: Transcript, call_id: int) -> ScoreResult:
    greeting = ItemScore("greeting", "问候", "script", 1.0, 10.0, (), {})
    return ScoreResult(str(call_id), "default", "", 80.0, False, (greeting,), 0.0, 0.0, (), {})


@pytest.fixture
def sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(settings.database_url)
    migrate(engine)
    yield session_factory(engine)
    engine.dispose()


def make_pipe(settings: Settings, sessions: sessionmaker[Session], **kw: Any) -> Pipeline:
    kw.setdefault("transcribe", fake_transcribe)
    kw.setdefault("redact", fake_redact)
    kw.setdefault("score", fake_score)
    return Pipeline(settings.with_(job_lease_s=2), sessions, threads=2, **kw)


def test_call_goes_through_all_steps_and_duplicate_admit_is_one_job(
    settings: Settings, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    wav = write_wav(tmp_path / "a.wav", seconds=1.0)
    pipe = make_pipe(settings, sessions)
    call_id, rec_id = add_call(sessions, "1", wav.as_uri())
    pipe.admit(call_id, rec_id)
    pipe.admit(call_id, rec_id)  # Twilio retried the callback
    try:
        wait_for(lambda: call_state(sessions, call_id)[0] == "scored", describe=lambda: pipeline_snapshot(sessions))
    finally:
        pipe.stop()
    with transaction(sessions) as s:
        jobs = s.scalars(select(Job).order_by(Job.id)).all()
        assert [(j.step, j.status, j.attempts) for j in jobs] == [
            ("fetch", "done", 1),
            ("transcribe", "done", 1),
            ("score", "done", 1),
        ]
        rec = s.get(Recording, rec_id)
        assert rec is not None and rec.channels == 2 and rec.duration_s == pytest.approx(1.0)
        assert rec.audio_path == f"recordings/{rec.sha256[:2]}/{rec.sha256}.wav"
        assert (settings.data_dir / rec.audio_path).read_bytes() == wav.read_bytes()
        tr = s.scalars(select(TranscriptRow)).one()
        assert "13812345678" not in str(tr.data) and "[电话]" in tr.text
        assert s.scalars(select(ScoreRow.total)).one() == 80.0


def test_failures_are_bounded_and_the_queue_goes_on(
    settings: Settings, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    flaky = {"n": 0}

    def flaky_score(t: Transcript, call_id: int) -> ScoreResult:
        if call_id == flaky_id:
            flaky["n"] += 1
            if flaky["n"] == 1:
                raise TimeoutError("QA service hiccup")
        return fake_score(t, call_id)

    def always_broken(t: Transcript, call_id: int) -> ScoreResult:
        if call_id == broken_id:
            raise RuntimeError("bug")
        return flaky_score(t, call_id)

    good = write_wav(tmp_path / "good.wav")
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt " + b"\x01" * 60)
    silent = write_wav(tmp_path / "silent.wav", seconds=0.05)
    missing = tmp_path / "missing.wav"
    ok_id, r1 = add_call(sessions, "ok", good.as_uri())
    flaky_id, r2 = add_call(sessions, "flaky", str(good))  # a plain path works too
    broken_id, r3 = add_call(sessions, "broken", good.as_uri())
    corrupt_id, r4 = add_call(sessions, "corrupt", corrupt.as_uri())
    silent_id, r5 = add_call(sessions, "silent", silent.as_uri())
    missing_id, r6 = add_call(sessions, "missing", missing.as_uri())
    pipe = make_pipe(settings, sessions, score=always_broken)
    for c, r in [(corrupt_id, r4), (silent_id, r5), (missing_id, r6), (broken_id, r3), (flaky_id, r2), (ok_id, r1)]:
        pipe.admit(c, r)
    try:
        wait_for(
            lambda: (
                all(call_state(sessions, c)[0] in ("scored", "failed") for c in (ok_id, flaky_id, broken_id))
                and all(call_state(sessions, c)[0] == "failed" for c in (corrupt_id, silent_id, missing_id))
            ),
            timeout=120,  # seconds of work at most; the margin is for a loaded CI machine
            describe=lambda: pipeline_snapshot(sessions),
        )
    finally:
        pipe.stop()
    assert call_state(sessions, ok_id) == ("scored", "")
    assert call_state(sessions, flaky_id) == ("scored", "")
    state, err = call_state(sessions, broken_id)
    assert state == "failed" and "score: RuntimeError: bug (attempt 3/3)" in err
    assert "corrupt recording" in call_state(sessions, corrupt_id)[1]
    assert "silent recording" in call_state(sessions, silent_id)[1]
    assert "recording not found" in call_state(sessions, missing_id)[1]
    with transaction(sessions) as s:
        failed = Job.call_id.in_([corrupt_id, silent_id, missing_id]) & (Job.status == "failed")
        permanent = s.scalars(select(Job.attempts).where(failed)).all()
        assert permanent == [1, 1, 1]  # retrying cannot fix these: one attempt each

    # `hotline jobs retry`: the broken step runs again, with a fixed scorer
    pipe2 = make_pipe(settings, sessions)
    retried = pipe2.retry()
    assert len(retried) == 4
    try:
        wait_for(lambda: call_state(sessions, broken_id)[0] == "scored", describe=lambda: pipeline_snapshot(sessions))
    finally:
        pipe2.stop()


def test_dead_worker_lease_expires_and_zombie_cannot_complete(
    settings: Settings, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    wav = write_wav(tmp_path / "a.wav")
    pipe = make_pipe(settings, sessions)
    call_id, rec_id = add_call(sessions, "1", wav.as_uri())
    try:
        with transaction(sessions) as s:
            refs = pipe.admit_in(s, call_id, rec_id)
        job_id = refs[0].id
        with transaction(sessions) as s:  # a worker claims it ... and dies
            attempt = repo.claim(s, job_id, "dead-worker", repo.now_utc())
            assert attempt == 1
            assert repo.claim(s, job_id, "other", repo.now_utc()) is None  # nobody else can take it
        assert pipe.runner.reap() == []  # lease still fresh
        with transaction(sessions) as s:
            s.execute(update(Job).values(updated_at=repo.now_utc() - timedelta(seconds=10)))
        requeued = pipe.runner.reap()
        assert [r.id for r in requeued] == [job_id]
        assert "stopped responding" in call_state(sessions, call_id)[1]
        assert pipe.runner.run(job_id, "w2") == "done"
        with transaction(sessions) as s:  # the zombie wakes up: its completion is refused
            assert repo.complete(s, job_id, "dead-worker", 1, repo.now_utc()) is False
            job = s.get(Job, job_id)
            assert job is not None and job.status == "done" and job.attempts == 2 and job.worker == "w2"
    finally:
        pipe.stop()  # run() started the pool for the next steps


def test_orphan_recording_is_admitted_by_the_sweeper(
    settings: Settings, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    wav = write_wav(tmp_path / "a.wav")
    call_id, _ = add_call(sessions, "1", wav.as_uri())  # stored, but the hook never ran
    pipe = make_pipe(settings, sessions)
    pipe.sweep_orphans()
    try:
        wait_for(lambda: call_state(sessions, call_id)[0] == "scored", describe=lambda: pipeline_snapshot(sessions))
    finally:
        pipe.stop()


WAV_HEAD = b"RIFF\x00\x00\x00\x00WAVEfmt "  # what a WAV file starts with


class _Handler(BaseHTTPRequestHandler):
    hits: ClassVar[list[tuple[str, str]]] = []

    def _send(self, code: int, body: bytes = b"", ctype: str = "audio/x-wav", **headers: str) -> None:
        self.send_response(code)
        if ctype:
            self.send_header("Content-Type", ctype)
        for k, v in headers.items():
            self.send_header(k.replace("_", "-"), v)
        if "Content_Length" not in headers and body is not None:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        _Handler.hits.append((self.path, self.headers.get("Authorization", "")))
        port = self.server.server_address[1]
        if self.path.startswith("/flaky") and sum(p.startswith("/flaky") for p, _ in _Handler.hits) < 3:
            return self._send(503)
        routes = {
            "/gone": lambda: self._send(404),
            "/html": lambda: self._send(200, WAV_HEAD + b"<html>", ctype="text/html"),
            "/notaudio": lambda: self._send(200, b"root:x:0:0:root:/root:/bin/bash\n" * 4, ctype=""),
            "/toolong": lambda: self._send(200, WAV_HEAD, Content_Length=str(10**9)),
            "/redir-same": lambda: self._send(302, ctype="", Location="/wav"),
            "/redir-other": lambda: self._send(302, ctype="", Location=f"http://localhost:{port}/wav"),
            "/redir-file": lambda: self._send(302, ctype="", Location="file:///etc/passwd"),
            "/redir-loop": lambda: self._send(302, ctype="", Location="/redir-loop"),
        }
        if self.path == "/big":  # no length: streamed until the connection closes
            self.send_response(200)
            self.end_headers()
            self.wfile.write(WAV_HEAD)
            for _ in range(40):
                self.wfile.write(b"\x00" * 65536)
            return None
        return routes.get(self.path, lambda: self._send(200, WAV_HEAD + b"\x00" * 88))()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def http_base() -> Iterator[str]:
    _Handler.hits = []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def test_fetcher_http_retries_404_and_auth(http_base: str) -> None:
    sleeps: list[float] = []
    listed = parse_hosts(http_base)
    f = Fetcher("AC123", "s3cr3t", hosts=listed, backoff_s=0.5, auth_hosts=("127.0.0.1",), sleep=sleeps.append)
    got = f.fetch(http_base + "/flaky/RE1")
    assert got.ext == "wav" and len(got.data) == 104 and sleeps == [0.5, 1.0]
    assert all(a.startswith("Basic ") for _, a in _Handler.hits)
    with pytest.raises(PermanentError, match="HTTP 404"):
        f.fetch(http_base + "/gone")
    assert sleeps == [0.5, 1.0, 0.5, 1.0, 2.0]  # bounded: 4 tries
    plain = Fetcher("AC123", "s3cr3t", hosts=listed, sleep=sleeps.append)  # credentials never go to other hosts
    _Handler.hits = []
    plain.fetch(http_base + "/x")
    assert _Handler.hits == [("/x", "")]
    with pytest.raises(PermanentError, match="Twilio credentials missing"):
        Fetcher().fetch("https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1")
    assert "s3cr3t" not in repr(f)


def test_store_audio_is_content_addressed(tmp_path: Path) -> None:
    a = store_audio(tmp_path, b"RIFF1234", "wav")
    b = store_audio(tmp_path, b"RIFF1234", "wav")
    assert a == b and (tmp_path / a[0]).read_bytes() == b"RIFF1234"
    assert len(list((tmp_path / "recordings").rglob("*"))) == 2  # one dir, one file


def test_store_audio_same_recording_from_many_threads_at_once(tmp_path: Path) -> None:
    """Runner threads fetching calls with identical audio must neither fail nor leave a torn file."""
    data = b"RIFF" + bytes(range(256)) * 4000  # ~1 MB: writes take long enough to overlap
    errors: list[BaseException] = []

    def store(root: Path, barrier: threading.Barrier) -> None:
        barrier.wait()
        try:
            store_audio(root, data, "wav")
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    for round_ in range(5):
        barrier = threading.Barrier(8)
        threads = [threading.Thread(target=store, args=(tmp_path / f"r{round_}", barrier)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) == 5 and all(p.read_bytes() == data for p in files)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "a local file"),
        ("/etc/passwd", "a local file"),
        ("http://127.0.0.1:9/x.wav", "neither api.twilio.com nor listed"),  # loopback, not listed
        ("http://localhost:9/x.wav", "neither api.twilio.com nor listed"),
        ("https://api.twilio.com/2010-04-01/Accounts/AC1/Calls.json", "not a recording"),
    ],
)
def test_fetcher_refuses_what_a_webhook_may_not_name(url: str, reason: str) -> None:
    with pytest.raises(PermanentError, match=f"recording URL refused: .*{reason}"):
        Fetcher("AC1", "tok", sleep=lambda s: None).fetch(url)


def test_fetcher_reads_local_files_only_when_the_cli_stored_them(tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "a.wav", seconds=0.1)
    with pytest.raises(PermanentError, match="local file"):
        Fetcher().fetch(wav.as_uri())
    assert Fetcher().fetch(wav.as_uri(), True) == Download(wav.read_bytes(), "wav")
    assert Fetcher().fetch(str(wav), True).ext == "wav"


def test_fetcher_download_is_capped_checked_and_kept_on_its_host(http_base: str) -> None:
    f = Fetcher(hosts=parse_hosts(http_base), max_bytes=1024 * 1024, retries=0, sleep=lambda s: None)
    assert f.fetch(http_base + "/redir-same").ext == "wav"  # a redirect within the host is followed
    refusals = {
        "/redir-other": "redirected to another host",
        "/redir-file": "redirected to another host",
        "/redir-loop": "more than 3 redirects",
        "/big": "larger than 1 MB .HOTLINE_RECORDING_MAX_MB.",  # streamed, no Content-Length
        "/toolong": "larger than 1 MB",  # refused on the Content-Length alone
        "/html": "not audio .Content-Type text/html.",
        "/notaudio": "does not look like audio",
    }
    for path, reason in refusals.items():
        _Handler.hits = []
        with pytest.raises(PermanentError, match=reason):
            f.fetch(http_base + path)
        assert all(not p.startswith("/wav") for p, _ in _Handler.hits), path  # nothing fetched elsewhere


def test_fetcher_checks_the_address_it_connects_to(http_base: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Twilio's host name resolving to a loopback address (DNS rebinding, a poisoned resolver) is refused."""
    import socket

    port = int(http_base.rsplit(":", 1)[1])
    real = socket.getaddrinfo

    def fake(host: Any, *args: Any, **kw: Any) -> Any:
        if host == "api.twilio.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    _Handler.hits = []
    url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1"
    with pytest.raises(PermanentError, match=r"api\.twilio\.com resolved to a loopback/private address"):
        Fetcher("AC1", "tok", retries=0, sleep=lambda s: None).fetch(url)
    assert _Handler.hits == []  # no request was sent, so the credentials never left


def test_a_stored_row_with_a_bad_url_fails_and_is_not_fetched(
    settings: Settings, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """Defence in depth: rows a webhook stored before URLs were checked fail at the fetch step."""
    secret = tmp_path / "secret.wav"
    write_wav(secret, seconds=0.5)  # even a real WAV: a webhook may never make us read a local file
    bad = {
        "file": add_call(sessions, "file", secret.as_uri(), trusted=False),
        "path": add_call(sessions, "path", str(secret), trusted=False),
        "loopback": add_call(sessions, "loopback", "http://127.0.0.1:9/x.wav", trusted=False),
    }
    pipe = make_pipe(settings, sessions)
    for call_id, rec_id in bad.values():
        pipe.admit(call_id, rec_id)
    try:
        wait_for(
            lambda: all(call_state(sessions, c)[0] == "failed" for c, _ in bad.values()),
            describe=lambda: pipeline_snapshot(sessions),
        )
    finally:
        pipe.stop()
    for call_id, rec_id in bad.values():
        assert "fetch: recording URL refused" in call_state(sessions, call_id)[1]
        with transaction(sessions) as s:
            rec = s.get(Recording, rec_id)
            assert rec is not None and rec.audio_path == "" and rec.sha256 == ""
    assert not (settings.data_dir / "recordings").exists()


def test_fetcher_retries_a_refused_connection_then_leaves_it_to_the_job() -> None:
    """Connection errors are retried with back-off (urllib3 Retry), then raised as retryable, not permanent."""
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        base = f"http://127.0.0.1:{s.getsockname()[1]}"
    sleeps: list[float] = []
    f = Fetcher(hosts=parse_hosts(base), retries=2, backoff_s=0.5, sleep=sleeps.append)
    with pytest.raises(ConnectionError, match="after 3 tries") as err:
        f.fetch(base + "/x.wav")
    assert not isinstance(err.value, PermanentError) and sleeps == [0.5, 1.0]
