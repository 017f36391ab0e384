"""What the streams of a process share, and the worker that runs one stream's recognizer and effects.

The socket thread (`ivr.stream.transport`) only reads messages, asks the pure session what they
mean and queues the work; it never waits for the recognizer, the database, TTS or Twilio's REST
API. Each stream has one `StreamWorker` thread that feeds its own recognizer (a stream of the
process's one speech engine, `speech.stt`) and carries out the session's actions in order. The
queue is unbounded: a slow recognizer makes a stream late, never lossy, and other streams keep
their own threads. The `StreamHub` holds the flow, the engine, the effects' adapters, the
connection cap and which nonces and calls are in use.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ivr.flow_types import State, Step
from ivr.stream.actions import (
    Action,
    Close,
    Hear,
    Ignored,
    Listen,
    Play,
    Recognize,
    Redirect,
    Send,
    SetGrammar,
    StepTaken,
)
from ivr.stream.grammar import menu_vocabulary
from ivr.stream.session import MediaStreamSession, SessionConfig, mark_message, media_messages
from ivr.stream.signing import handshake_urls
from speech.stream import StreamingRecognizer
from speech.stt import Transcriber, Unsupported

log = logging.getLogger(__name__)

IDLE_TIMEOUT_S = 30.0  # Twilio sends 50 media messages a second; silence this long = dead socket
START_TIMEOUT_S = 5.0  # from connecting to ``start``, whatever else is sent (Twilio: at once)
MAX_CONNECTIONS = 200  # sockets per stream server (HOTLINE_STREAM_MAX_CONNECTIONS)
STATE_POLL_S = 0.5  # Mode 1: how often the worker re-reads the call's state (grammar follows keys)
MAX_FEED_MS = 100  # audio fed to the recognizer per call when the worker is catching up
RATE = 8000  # Twilio's μ-law


# ------------------------------------------------------------------ ports (the effects' adapters)
class CallRedirector(Protocol):
    """Twilio's REST ``calls(sid).update(url=...)`` (tests use a fake that records the calls)."""

    def redirect(self, call_sid: str, url: str) -> None: ...


class StateStore(Protocol):
    """The call's flow state: Mode 1 reads it (the webhooks write it), Mode 2 writes its steps."""

    def load(self, call_sid: str) -> State | None: ...
    def save(self, call_sid: str, step: Step) -> None: ...


class PromptSource(Protocol):
    def audio(self, text: str) -> bytes: ...


class LiveListener(Protocol):
    """One live call's listener (the ``live`` package): both tracks in, transcript and alerts out."""

    def hear(self, track: str, audio: bytes, at_ms: int) -> None: ...
    def flush(self) -> None: ...
    def end(self, reason: str) -> None: ...


class LiveSink(Protocol):
    """Where live-call streams go; ``open`` answers None when the box is full (the call is skipped,
    counted, and the caller never notices). Must not block: it runs on the socket thread."""

    def open(self, call_sid: str, params: dict[str, str]) -> LiveListener | None: ...


class Sender(Protocol):
    """What a worker needs from its stream's socket: text out."""

    def send(self, text: str) -> None: ...


@dataclass
class StreamHub:
    """What all streams of a process share: the flow, the token, the model and the effects."""

    config: SessionConfig
    speech: Transcriber | Callable[[], Transcriber]  # the engine, or how to load it (a model takes seconds)
    redirector: CallRedirector
    states: StateStore | None = None
    prompts: PromptSource | None = None
    idle_timeout: float = IDLE_TIMEOUT_S
    start_timeout: float = START_TIMEOUT_S
    max_connections: int = MAX_CONNECTIONS
    stream_url: str = ""  # the URL our TwiML names, which Twilio signs in the handshake ("" = from Host)
    check_handshake: bool = True  # HOTLINE_VALIDATE_SIGNATURES
    require_handshake_signature: bool = False
    live: LiveSink | None = None  # live calls (mode "live"); None: such streams are closed at start
    active: int = 0
    stats: dict[str, int] = field(default_factory=dict)
    cpu_s: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _engine_lock: threading.Lock = field(default_factory=threading.Lock)
    _engine: Transcriber | None = None
    _live: set[str] = field(default_factory=set)  # CallSids with a started stream
    _nonces: dict[str, int] = field(default_factory=dict)  # nonces seen -> their expiry
    _full_logged_at: float = 0.0

    def engine(self) -> Transcriber:
        """The process's speech engine, loaded on first use; `Unsupported` if it cannot stream."""
        with self._engine_lock:  # not self._lock: loading a model takes seconds
            if self._engine is None:
                engine = self.speech if isinstance(self.speech, Transcriber) else self.speech()
                if not engine.capabilities.streaming:
                    raise Unsupported(f"the {engine.name} engine cannot stream: Media Streams need one that can")
                self._engine = engine
            return self._engine

    def add_cpu(self, seconds: float) -> None:
        """CPU time spent on streams (socket loops and workers): the benchmark's cost per stream."""
        with self._lock:
            self.cpu_s += seconds

    def count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.stats[key] = self.stats.get(key, 0) + n

    def open_socket(self) -> bool:
        """Take a connection slot; False (counted, logged at most every 10 s) when all are taken."""
        with self._lock:
            if self.active < self.max_connections:
                self.active += 1
                return True
            refused = self.stats["refused:full"] = self.stats.get("refused:full", 0) + 1
            now = time.monotonic()
            if now - self._full_logged_at < 10:
                return False
            self._full_logged_at = now
        log.warning(
            "stream: socket refused: all %d taken (HOTLINE_STREAM_MAX_CONNECTIONS); %d refused so far",
            self.max_connections,
            refused,
        )
        return False

    def close_socket(self) -> None:
        with self._lock:
            self.active -= 1

    def admit(self, call_sid: str, nonce: str, expires: int) -> str:
        """A signed stream may start: its nonce never seen before, no other stream of the call live.
        The nonce is spent either way; nonces past their expiry are forgotten (they fail the check)."""
        now = self.config.clock()
        with self._lock:
            self._nonces = {n: e for n, e in self._nonces.items() if e >= now}
            if nonce in self._nonces:
                return "replay"
            self._nonces[nonce] = expires
            if call_sid in self._live:
                return "busy"
            self._live.add(call_sid)
            return ""

    def release(self, call_sid: str) -> None:
        with self._lock:
            self._live.discard(call_sid)

    def handshake_refusal(self, signature: str, host: str, path: str) -> str:
        """Why a WebSocket handshake is refused ("" = go on): Twilio signs the upgrade request with
        ``X-Twilio-Signature`` over the ``wss://`` URL it connects to (no parameters). Checked when
        present, required only with ``require_handshake_signature``; ``start`` is checked anyway."""
        if not self.check_handshake:
            return ""
        if not signature:
            return "missing X-Twilio-Signature" if self.require_handshake_signature else ""
        from twilio.request_validator import RequestValidator

        validator = RequestValidator(self.config.token)
        urls = handshake_urls(self.stream_url, host, path)
        if self.config.token and any(validator.validate(u, {}, signature) for u in urls):
            return ""
        return "bad X-Twilio-Signature"


def report_vocabulary(hub: StreamHub) -> list[str] | None:
    """Start-up check: the menu's words the loaded model cannot recognize (logged, returned)."""
    engine = hub.engine()
    if not engine.capabilities.grammar:
        log.info("stream: the %s engine takes no grammar; grammar words not checked", engine.name)
        return None
    missing = engine.missing_words(menu_vocabulary(hub.config.flow.menu))
    if missing is None:
        log.info("stream: this engine cannot list its vocabulary; grammar words not checked")
    elif missing:
        log.warning(
            "stream: %d of the menu's grammar tokens are not in the speech model's vocabulary "
            "(a Mandarin model is needed for a Mandarin menu): %s",
            len(missing),
            " ".join(missing[:40]),
        )
    else:
        log.info("stream: every grammar word of the menu is in the model's vocabulary")
    return missing


# ------------------------------------------------------------------ one stream
_END = object()


class StreamWorker:
    """Runs one stream's recognizer and effects on its own thread, in message order."""

    def __init__(self, session: MediaStreamSession, hub: StreamHub, ws: Sender) -> None:
        self.session, self.hub, self.ws = session, hub, ws
        self.lock = threading.Lock()  # the session is touched by the socket thread and this one
        self._send_lock = threading.Lock()
        self._q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._rec: StreamingRecognizer | None = None
        self._grammar: tuple[str, ...] = ()
        self._fed_bytes = 0
        self._last_poll = 0.0
        self._listener: LiveListener | None = None
        self._end_reason = "disconnect"
        self.thread = threading.Thread(target=self._run, name="stream-worker", daemon=True)
        self.started = False
        self.lag_max_s = 0.0
        self.error: BaseException | None = None

    def submit(self, actions: list[Action]) -> str:
        """Queue the actions of one message; returns the close reason if the stream must end."""
        for a in actions:
            if isinstance(a, Close):
                return a.reason
            if isinstance(a, Ignored):
                self.hub.count(f"ignored:{a.reason}")
                continue
            if isinstance(a, Listen):  # on the socket thread: a full box closes the stream at once
                self._listener = self.hub.live.open(a.call_sid, dict(a.params)) if self.hub.live else None
                if self._listener is None:
                    self.hub.count("live:skipped")
                    return "live-full"
                self.hub.count("live:opened")
                continue
            if not self.started:
                self.started = True
                self.thread.start()
            self._q.put((time.monotonic(), a.audio) if isinstance(a, Recognize) else a)
        return ""

    def finish(self, wait: float = 0.0, reason: str = "disconnect") -> None:
        self._end_reason = reason
        if self._listener is not None and not self.started:  # opened, no audio came
            self._listener.end(reason)
        if self.started:
            self._q.put(_END)
            if wait:
                self.thread.join(wait)

    # -- the thread ---------------------------------------------------
    def _run(self) -> None:
        t0 = time.thread_time()
        try:
            self._loop()
        except Exception as exc:  # a broken recognizer must not kill the server; the call keeps its keypad
            self.error = exc
            log.exception("stream: worker for call %s failed", self.session.call_sid)
        finally:
            self._close_recognizer()
            if self._listener is not None:  # idempotent: after a failure the call still ends
                with contextlib.suppress(Exception):
                    self._listener.end(self._end_reason)
            self.hub.add_cpu(time.thread_time() - t0)

    def _loop(self) -> None:
        self._poll_state(force=True)
        while True:
            try:
                items = [self._q.get(timeout=STATE_POLL_S)]
            except queue.Empty:
                items = []
            while True:
                try:
                    items.append(self._q.get_nowait())
                except queue.Empty:
                    break
            audio = bytearray()
            oldest = None
            for it in items:
                if isinstance(it, tuple):
                    oldest = oldest or it[0]
                    audio += it[1]
                    continue
                self._feed(audio, oldest)
                audio, oldest = bytearray(), None
                if it is _END:
                    self._flush_final()
                    return
                self._effect(it)
            self._feed(audio, oldest)
            if self._listener is not None:
                self._listener.flush()  # the queue is drained: what came is heard now
            self._poll_state()

    def _feed(self, audio: bytearray, queued_at: float | None) -> None:
        if not audio:
            return
        if queued_at is not None:
            self.lag_max_s = max(self.lag_max_s, time.monotonic() - queued_at)
        step = 8 * MAX_FEED_MS
        for i in range(0, len(audio), step):
            piece = bytes(audio[i : i + step])
            heard = self._rec.feed_mulaw(piece) if self._rec is not None else []
            self._fed_bytes += len(piece)
            self.hub.count("audio_bytes", len(piece))
            with self.lock:
                acts = self.session.recognized(heard, self._fed_bytes // 8)
            self._effects(acts)

    def _flush_final(self) -> None:
        if self._listener is not None:
            self._listener.end(self._end_reason)
        if self._rec is None:
            return
        heard = self._rec.close()
        self._rec = None
        with self.lock:
            acts = self.session.recognized(heard, self._fed_bytes // 8)
        self._effects(acts)

    def _poll_state(self, force: bool = False) -> None:
        if self.session.mode != "1" or self.hub.states is None:
            return
        now = time.monotonic()
        if not force and now - self._last_poll < STATE_POLL_S:
            return
        self._last_poll = now
        try:
            state = self.hub.states.load(self.session.call_sid)
        except Exception:
            log.exception("stream: call %s state could not be read", self.session.call_sid)
            return
        with self.lock:
            acts = self.session.set_state(state)
        self._effects(acts)

    def _effects(self, acts: list[Action]) -> None:
        for a in acts:
            if not isinstance(a, (Close, Ignored)):
                self._effect(a)

    def _effect(self, a: Any) -> None:
        """One action; a failure (database, Twilio's API, TTS) is logged and the stream goes on."""
        try:
            self._do(a)
        except Exception:
            self.hub.count(f"failed:{type(a).__name__}")
            log.exception("stream: call %s: %s failed", self.session.call_sid, type(a).__name__)

    def _do(self, a: Any) -> None:
        hub = self.hub
        if isinstance(a, Hear):
            if self._listener is not None:
                self._listener.hear(a.track, a.audio, a.at_ms)
        elif isinstance(a, Send):
            self._send(a.message)
        elif isinstance(a, SetGrammar):
            self._grammar = a.phrases
            if not a.phrases:  # nothing to listen for (digits, transfer): no recognizer, no CPU
                self._close_recognizer()
            elif self._rec is None:
                self._rec = StreamingRecognizer(hub.engine(), RATE, a.phrases)
            else:
                self._rec.set_grammar(a.phrases)
        elif isinstance(a, Play):
            sid = self.session.stream_sid
            try:
                for text in a.texts:
                    if text and hub.prompts is not None:
                        for m in media_messages(sid, hub.prompts.audio(text)):
                            self._send(m)
            finally:  # even without audio the mark comes back, so the menu listens and times out
                self._send(mark_message(sid, a.mark))
        elif isinstance(a, StepTaken):
            if hub.states is not None:
                hub.states.save(a.call_sid, a.step)
        elif isinstance(a, Redirect):
            hub.count("redirects")
            log.info("stream: call %s redirected (%s)", a.call_sid, a.url.split("?", 1)[0])
            hub.redirector.redirect(a.call_sid, a.url)

    def _send(self, message: Any) -> None:
        with self._send_lock:
            try:
                self.ws.send(json.dumps(message))
            except Exception:  # the caller hung up; the worker finishes its queue quietly
                self.hub.count("send-failed")

    def _close_recognizer(self) -> None:
        if self._rec is not None:
            with contextlib.suppress(Exception):
                self._rec.close()
            self._rec = None
