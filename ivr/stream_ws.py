"""The Media Streams edge: a WebSocket receive loop per call, recognition on a worker thread.

The socket thread only reads messages, asks the pure `MediaStreamSession` what they mean and
queues the work; it never waits for Vosk, the database, TTS or Twilio's REST API. Each stream
has one worker thread that feeds its own recognizer (one Vosk model per process, shared) and
carries out the session's actions in order. The queue is unbounded: a slow recognizer makes a
stream late, never lossy, and other streams keep their own threads.

Served two ways: a flask-sock route ``/ivr/stream`` (werkzeug, gunicorn, eventlet, gevent) and,
because waitress cannot hand a socket to a WebSocket library, a small `websockets` server that
``hotline serve`` starts on its own port. The HTTP side adds ``/ivr/stream/speech`` and
``/ivr/stream/resume`` (where redirected calls re-enter the webhooks' flow) and rewrites the
IVR's TwiML for the configured mode (``HOTLINE_STREAM_MODE`` = 1 or 2); with no mode there is
no socket at all.

Who may hold a socket: a handshake that carries ``X-Twilio-Signature`` must carry a valid one
(Twilio signs the ``wss://`` URL it connects to); the ``start`` message must name a stream our
TwiML signed (call, mode, one-time nonce, expiry) within ``start_timeout`` of connecting; one
live stream per call; at most ``max_connections`` sockets at once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Protocol

from flask import Blueprint, Flask, Response, request

from ivr.flow import Event, Flow, State, Step
from ivr.stream import (
    SIG_TTL_S,
    Action,
    Close,
    Heard,
    Ignored,
    MediaStreamSession,
    Play,
    Recognize,
    Redirect,
    Send,
    SessionConfig,
    SetGrammar,
    StepTaken,
    mark_message,
    media_messages,
    menu_vocabulary,
    out_of_vocabulary,
    stream_parameters,
)

log = logging.getLogger(__name__)

IDLE_TIMEOUT_S = 30.0  # Twilio sends 50 media messages a second; silence this long = dead socket
START_TIMEOUT_S = 5.0  # from connecting to ``start``, whatever else is sent (Twilio: at once)
MAX_CONNECTIONS = 200  # sockets per stream server (HOTLINE_STREAM_MAX_CONNECTIONS)
STREAM_PATH = "/ivr/stream"
STATE_POLL_S = 0.5  # Mode 1: how often the worker re-reads the call's state (grammar follows keys)
MAX_FEED_MS = 100  # audio fed to the recognizer per call when the worker is catching up


# ------------------------------------------------------------------ ports (protocols)
class StreamRecognizer(Protocol):
    """One caller's recognizer: μ-law in, hypotheses out; grammar switchable mid-stream."""

    def feed(self, ulaw: bytes) -> list[Heard]: ...
    def set_grammar(self, phrases: Sequence[str]) -> None: ...
    def close(self) -> list[Heard]: ...


class RecognizerFactory(Protocol):
    def open(self, grammar: Sequence[str]) -> StreamRecognizer: ...


class CallRedirector(Protocol):
    """Twilio's REST ``calls(sid).update(url=...)`` (tests use a fake that records the calls)."""

    def redirect(self, call_sid: str, url: str) -> None: ...


class StateStore(Protocol):
    def load(self, call_sid: str) -> State | None: ...
    def save(self, call_sid: str, step: Step) -> None: ...


class PromptSource(Protocol):
    def audio(self, text: str) -> bytes: ...


class Socket(Protocol):
    """What the loop needs from a WebSocket: text in (None on timeout), text out, close."""

    def receive(self, timeout: float) -> str | bytes | None: ...
    def send(self, text: str) -> None: ...
    def close(self) -> None: ...


class Disconnected(Exception):
    """The peer closed the socket (or it broke)."""


# ------------------------------------------------------------------ Vosk through speech
class VoskFactory:
    """One model per process (speech's cache), one recognizer per stream, 8 kHz."""

    def __init__(self, model_dir: str) -> None:
        from speech.engines.vosk import VoskTranscriber

        self.engine = VoskTranscriber(model_dir, sample_rate=8000, vad=False)
        self.model_dir = model_dir

    def open(self, grammar: Sequence[str]) -> StreamRecognizer:
        return _VoskStream(self.engine, grammar)

    def missing_words(self, phrases: Sequence[str]) -> list[str] | None:
        """Grammar tokens the model lacks; None when the engine cannot tell."""
        from speech.engines.vosk import grammar_json

        model = getattr(self.engine, "_model", None)
        find = getattr(model, "vosk_model_find_word", None)
        if find is None:
            return None

        def split(ph: str) -> list[str]:
            return [t for p in json.loads(grammar_json([ph], unk=False)) for t in str(p).split()]

        return out_of_vocabulary(phrases, lambda w: int(find(w)) >= 0, split)


class _VoskStream:
    """A new Vosk recognizer per grammar: Vosk aborts the process (KaldiFatalError) when
    SetGrammar is called on a recognizer that has already been fed audio."""

    def __init__(self, engine: Any, grammar: Sequence[str]) -> None:
        self._engine = engine
        self._rec = self._open(grammar)

    def _open(self, grammar: Sequence[str]) -> Any:
        from speech.stream import StreamingRecognizer

        return StreamingRecognizer(self._engine, 8000, list(grammar) or None)

    def feed(self, ulaw: bytes) -> list[Heard]:
        return [_heard(r) for r in self._rec.feed_mulaw(ulaw)]

    def set_grammar(self, phrases: Sequence[str]) -> None:
        self._rec.close()  # what was said under the old grammar is moot once the node changed
        self._rec = self._open(phrases)

    def close(self) -> list[Heard]:
        return [_heard(r) for r in self._rec.close()]


def _heard(r: Any) -> Heard:
    conf = min((w.conf for w in r.words), default=None) if r.words else None
    return Heard(r.text, bool(r.is_final), conf)


class TwilioRedirector:
    """Redirect a live call with Twilio's REST API; URLs are made absolute with the public base.

    ``client``: a ready ``twilio.rest.Client`` (or anything with ``calls(sid).update(...)``);
    by default one is built on first use from the account SID and the auth token.
    """

    def __init__(self, account_sid: str, token: str, public_url: str, client: Any = None) -> None:
        self.account_sid, self._token, self.public_url = account_sid, token, public_url.rstrip("/")
        self._client: Any = client

    def __repr__(self) -> str:  # never the token
        return f"TwilioRedirector(account_sid={self.account_sid!r}, public_url={self.public_url!r})"

    def redirect(self, call_sid: str, url: str) -> None:
        if not self.account_sid or not self.public_url:
            log.error(
                "stream: call %s cannot be redirected: set HOTLINE_TWILIO_ACCOUNT_SID and HOTLINE_PUBLIC_URL", call_sid
            )
            return
        if self._client is None:
            from twilio.rest import Client

            self._client = Client(self.account_sid, self._token)
        self._client.calls(call_sid).update(url=self.public_url + url, method="POST")


class SqlStateStore:
    """The call's flow state in the store: the same column and writer lock the webhooks use."""

    def __init__(self, ivr_ctx: Any) -> None:
        self.ctx = ivr_ctx  # ivr.webhooks.IvrContext
        self.flow: Flow = ivr_ctx.flow

    def load(self, call_sid: str) -> State | None:
        from store import calls as repo

        with self.ctx.engine.connect() as conn:
            call_id = repo.find_call_id(conn, call_sid)
            if call_id is None:
                return None
            data = dict(conn.execute(_flow_state_query(call_id)).scalar() or {})
        if not data.get("node"):
            return None
        try:
            state = State.from_dict(data)
        except (KeyError, TypeError, ValueError):
            return None
        return state if state.node in self.flow.menu.nodes else None

    def save(self, call_sid: str, step: Step) -> None:
        from store import calls as repo

        st = step.state
        with self.ctx.writing(), self.ctx.engine.begin() as conn:
            call, _ = repo.load_state(conn, call_sid)
            values: dict[str, Any] = {"flow_state": {**st.to_dict(), "_last": None}, "menu_path": list(st.path)}
            if st.outcome and st.outcome != call.outcome:
                values["outcome"] = st.outcome
            if step.action == "transfer" and step.skill:
                values["skill"] = step.skill
            if step.survey_score is not None:
                values["survey_score"] = step.survey_score
            if step.callback is not None:
                repo.add_callback_request(conn, call.id, number="", skill=step.callback)
            notes = ((n.kind, n.node, n.detail) for n in step.notes)
            repo.save_step(conn, call.id, values, notes, request_key=f"stream:{call_sid}:{st.seq}")


def _flow_state_query(call_id: int) -> Any:
    from sqlalchemy import select

    from store.calls import CALLS

    return select(CALLS.c.flow_state).where(CALLS.c.id == call_id)


# ------------------------------------------------------------------ the hub
@dataclass
class StreamHub:
    """What all streams of a process share: the flow, the token, the model and the effects."""

    config: SessionConfig
    recognizers: RecognizerFactory | Callable[[], RecognizerFactory]
    redirector: CallRedirector
    states: StateStore | None = None
    prompts: PromptSource | None = None
    idle_timeout: float = IDLE_TIMEOUT_S
    start_timeout: float = START_TIMEOUT_S
    max_connections: int = MAX_CONNECTIONS
    stream_url: str = ""  # the URL our TwiML names, which Twilio signs in the handshake ("" = from Host)
    check_handshake: bool = True  # HOTLINE_VALIDATE_SIGNATURES
    require_handshake_signature: bool = False
    active: int = 0
    stats: dict[str, int] = field(default_factory=dict)
    cpu_s: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _factory_lock: threading.Lock = field(default_factory=threading.Lock)
    _factory: RecognizerFactory | None = None
    _live: set[str] = field(default_factory=set)  # CallSids with a started stream
    _nonces: dict[str, int] = field(default_factory=dict)  # nonces seen -> their expiry
    _full_logged_at: float = 0.0

    def factory(self) -> RecognizerFactory:
        with self._factory_lock:  # not self._lock: loading a model takes seconds
            if self._factory is None:
                rec: Any = self.recognizers
                self._factory = rec if hasattr(rec, "open") else rec()
            return self._factory

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


def handshake_urls(configured: str, host: str, path: str) -> list[str]:
    """URLs Twilio may have signed: the stream URL our TwiML names, else this request's host as
    ``wss://`` (behind TLS) or ``ws://`` (local). Twilio's validator also tries them with and
    without the default port."""
    urls = [configured] if configured else []
    if host:
        urls += [f"wss://{host}{path}", f"ws://{host}{path}"]
    return urls


def report_vocabulary(hub: StreamHub) -> list[str] | None:
    """Start-up check: the menu's words the loaded model cannot recognize (logged, returned)."""
    factory = hub.factory()
    missing_fn = getattr(factory, "missing_words", None)
    if missing_fn is None:
        return None
    words = menu_vocabulary(hub.config.flow.menu)
    missing: list[str] | None = missing_fn(words)
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

    def __init__(self, session: MediaStreamSession, hub: StreamHub, ws: Socket) -> None:
        self.session, self.hub, self.ws = session, hub, ws
        self.lock = threading.Lock()  # the session is touched by the socket thread and this one
        self._send_lock = threading.Lock()
        self._q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._rec: StreamRecognizer | None = None
        self._grammar: tuple[str, ...] = ()
        self._fed_bytes = 0
        self._last_poll = 0.0
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
            if not self.started:
                self.started = True
                self.thread.start()
            self._q.put((time.monotonic(), a.audio) if isinstance(a, Recognize) else a)
        return ""

    def finish(self, wait: float = 0.0) -> None:
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
            self._poll_state()

    def _feed(self, audio: bytearray, queued_at: float | None) -> None:
        if not audio:
            return
        if queued_at is not None:
            self.lag_max_s = max(self.lag_max_s, time.monotonic() - queued_at)
        step = 8 * MAX_FEED_MS
        for i in range(0, len(audio), step):
            piece = bytes(audio[i : i + step])
            heard = self._rec.feed(piece) if self._rec is not None else []
            self._fed_bytes += len(piece)
            self.hub.count("audio_bytes", len(piece))
            with self.lock:
                acts = self.session.recognized(heard, self._fed_bytes // 8)
            self._effects(acts)

    def _flush_final(self) -> None:
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
        if isinstance(a, Send):
            self._send(a.message)
        elif isinstance(a, SetGrammar):
            self._grammar = a.phrases
            if not a.phrases:  # nothing to listen for (digits, transfer): no recognizer, no CPU
                self._close_recognizer()
            elif self._rec is None:
                self._rec = hub.factory().open(a.phrases)
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


def run_stream(ws: Socket, hub: StreamHub, *, wait: float = 0.0) -> MediaStreamSession:
    """The receive loop of one WebSocket: parse, ask the session, queue. Returns the session."""
    session = MediaStreamSession(hub.config, admit=hub.admit)
    if not hub.open_socket():  # over the cap: closed before a thread or a recognizer is spent on it
        session.closed = True
        with contextlib.suppress(Exception):
            ws.close()
        return session
    worker = StreamWorker(session, hub, ws)
    reason = "disconnect"
    t0 = time.thread_time()
    deadline = time.monotonic() + hub.start_timeout  # ``start`` by then, whatever else is sent
    try:
        while True:
            timeout = hub.idle_timeout if session.started else deadline - time.monotonic()
            if timeout <= 0:
                reason = "no-start"
                break
            try:
                raw = ws.receive(timeout=timeout)
            except Disconnected:
                break
            if raw is None:
                reason = "idle" if session.started else "no-start"
                break
            try:
                message = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                message = None
            with worker.lock:
                actions = session.handle(message)
            closing = worker.submit(actions)
            if closing:
                reason = closing
                break
    finally:
        with worker.lock:
            session.closed = True  # the caller is gone: late recognition results decide nothing
        if session.started:
            hub.release(session.call_sid)
        hub.close_socket()
        worker.finish(wait)
        hub.add_cpu(time.thread_time() - t0)
        hub.count(f"closed:{reason}")
        if reason in REFUSED:
            log.warning("stream: refused (%s) call %s", reason, session.call_sid or "-")
        else:
            log.info("stream: call %s ended (%s, %d frames)", session.call_sid or "-", reason, session.frames)
        if reason != "disconnect":
            with contextlib.suppress(Exception):
                ws.close()
    return session


REFUSED = ("auth", "expired", "mode", "replay", "busy", "no-start", "format", "track", "malformed")


# ------------------------------------------------------------------ socket adapters
class FlaskSockSocket:
    def __init__(self, ws: Any) -> None:
        self.ws = ws

    def receive(self, timeout: float) -> str | bytes | None:
        from simple_websocket import ConnectionClosed

        try:
            data: str | bytes | None = self.ws.receive(timeout=timeout)
        except ConnectionClosed:
            raise Disconnected() from None
        return data

    def send(self, text: str) -> None:
        self.ws.send(text)

    def close(self) -> None:
        self.ws.close()


class WebsocketsSocket:
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def receive(self, timeout: float) -> str | bytes | None:
        from websockets.exceptions import ConnectionClosed

        try:
            data: str | bytes = self.conn.recv(timeout=timeout)
        except TimeoutError:
            return None
        except ConnectionClosed:
            raise Disconnected() from None
        return data

    def send(self, text: str) -> None:
        self.conn.send(text)

    def close(self) -> None:
        self.conn.close()


def serve_websockets(hub: StreamHub, host: str, port: int) -> Any:
    """A `websockets` server for ``/ivr/stream`` on its own port (thread per connection).

    Returns the server; call ``serve_forever()`` in a thread and ``shutdown()`` to stop it.
    """
    from websockets.sync.server import serve

    def check(conn: Any, req: Any) -> Any:
        """Before the upgrade: the one path, and a valid X-Twilio-Signature when there is one."""
        if req.path.split("?", 1)[0].rstrip("/") != STREAM_PATH:
            return conn.respond(HTTPStatus.NOT_FOUND, f"not found: the Media Streams socket is {STREAM_PATH}\n")
        why = hub.handshake_refusal(req.headers.get("X-Twilio-Signature", ""), req.headers.get("Host", ""), req.path)
        if why:
            hub.count("refused:handshake")
            log.warning("stream: handshake refused: %s", why)
            return conn.respond(HTTPStatus.FORBIDDEN, f"forbidden: {why}\n")
        return None

    def handler(conn: Any) -> None:
        run_stream(WebsocketsSocket(conn), hub)

    return serve(handler, host, port, compression=None, max_size=2**20, ping_interval=None, process_request=check)


def start_ws_server(app: Flask, host: str, port: int) -> Any:
    """Start `serve_websockets` in a daemon thread for this app's hub (used by ``hotline serve``)."""
    hub: StreamHub = app.extensions["hotline"]["stream"]
    if not hub.config.modes:
        log.info("stream: Media Streams are off (HOTLINE_STREAM_MODE is empty): no WebSocket server")
        return None
    try:
        server = serve_websockets(hub, host, port)
    except OSError as exc:  # the webhooks must keep working without speech menus
        log.error("stream: cannot listen on %s:%d (%s): Media Streams are off", host, port, exc.strerror or exc)
        return None
    threading.Thread(target=server.serve_forever, name="stream-ws", daemon=True).start()
    log.info("stream: Media Streams WebSocket on ws://%s:%d/ivr/stream", host, port)
    return server


# ------------------------------------------------------------------ Flask side
bp = Blueprint("ivr_stream", __name__, url_prefix="/ivr/stream")


def register(app: Flask) -> None:
    """Build the hub from the settings, mount the WebSocket route, the redirect targets and the
    TwiML rewrite of the configured mode. Needs ``ivr.webhooks:register`` to have run first."""
    from flask_sock import Sock

    from ivr.auth import auth_token
    from ivr.prompts_audio import PromptAudio, prompt_texts

    ext = app.extensions["hotline"]
    settings = ext["settings"]
    flow: Flow = ext["ivr"].flow
    configured = settings.twilio_auth_token.reveal() if settings.twilio_auth_token else ""
    token = auth_token(configured, settings.data_dir)
    model_spec = str(settings.stream_model or settings.vosk_model or "cn")

    def factory() -> RecognizerFactory:
        from speech.models import find_model

        return VoskFactory(str(find_model(model_spec, settings.models_dir)))

    recorded = settings.stream_prompts_dir if str(settings.stream_prompts_dir) not in ("", ".") else None
    prompts = PromptAudio(settings.data_dir / "prompts", str(settings.stream_tts), recorded)
    prompts.remember(prompt_texts(flow))  # only the menu's own texts are cached, never a read-back
    mode = str(settings.stream_mode or "")
    if mode not in ("", "1", "2"):
        raise ValueError(f"HOTLINE_STREAM_MODE must be 1, 2 or empty, not {mode!r}")
    hub = StreamHub(
        config=SessionConfig(flow=flow, token=token, modes=(mode,) if mode else ()),
        recognizers=factory,
        redirector=TwilioRedirector(str(settings.twilio_account_sid), token, str(settings.public_url)),
        states=SqlStateStore(ext["ivr"]),
        prompts=prompts,
        max_connections=int(settings.stream_max_connections),
        stream_url=_configured_stream_url(settings),
        check_handshake=bool(settings.validate_signatures),
        require_handshake_signature=bool(settings.stream_require_handshake_signature),
    )
    ext["stream"] = hub
    app.before_request(lambda: _handshake_here(hub))
    if mode:  # no mode, no socket: the route does not exist
        sock = Sock(app)

        @sock.route(STREAM_PATH)
        def stream_socket(ws: Any) -> None:
            run_stream(FlaskSockSocket(ws), hub)

    app.register_blueprint(bp)
    if mode:
        _install_rewrite(app, mode, token, settings)
        threading.Thread(target=_warm_up, args=(hub, mode), name="stream-warm-up", daemon=True).start()


# the WSGI servers simple_websocket (flask-sock) can take a socket from; waitress is not one
_SOCKET_KEYS = ("werkzeug.socket", "gunicorn.socket", "eventlet.input")


def _handshake_here(hub: StreamHub) -> Response | None:
    """``/ivr/stream`` on the HTTP port: a clear 4xx instead of a failed upgrade (a 500)."""
    if request.path.rstrip("/") != STREAM_PATH:
        return None
    env = request.environ
    if not hub.config.modes:
        return _text(404, "not found: Media Streams are off (HOTLINE_STREAM_MODE is empty)")
    if env.get("HTTP_UPGRADE", "").lower() != "websocket":
        # not 426: its Upgrade header is hop-by-hop, which a WSGI app may not send (waitress answers 500)
        return _text(400, f"bad request: {STREAM_PATH} is the Twilio Media Streams WebSocket, not an HTTP page")
    if not any(k in env for k in _SOCKET_KEYS) and not env.get("SERVER_SOFTWARE", "").startswith("gevent"):
        return _text(
            400,
            "this HTTP server cannot carry WebSockets: Media Streams connect to the stream server "
            "(hotline serve --ws-port, default the HTTP port + 1; HOTLINE_STREAM_URL)",
        )
    path = request.full_path if request.query_string else request.path
    why = hub.handshake_refusal(request.headers.get("X-Twilio-Signature", ""), request.host, path)
    if why:
        hub.count("refused:handshake")
        log.warning("stream: handshake refused: %s", why)
        return _text(403, f"forbidden: {why}")
    return None


def _text(status: int, message: str) -> Response:
    return Response(message + "\n", status=status, mimetype="text/plain")


def _warm_up(hub: StreamHub, mode: str) -> None:
    """Start-up, off the serving path: load the model, report OOV words, render the prompts."""
    try:
        report_vocabulary(hub)
        render_all = getattr(hub.prompts, "render_all", None)
        if mode == "2" and render_all is not None:
            from ivr.prompts_audio import prompt_texts

            n = render_all(prompt_texts(hub.config.flow))
            log.info("stream: %d prompts rendered or found in the cache", n)
    except Exception:
        log.exception("stream: warm-up failed (streams will retry on first use)")


REWRITTEN = ("/ivr/voice", "/ivr/gather", "/ivr/after", "/ivr/stream/speech", "/ivr/stream/resume")


def _install_rewrite(app: Flask, mode: str, token: str, settings: Any) -> None:
    @app.after_request
    def _rewrite(resp: Response) -> Response:
        path = request.path.rstrip("/")
        if path not in REWRITTEN or resp.status_code != 200 or resp.mimetype != "application/xml":
            return resp
        if mode == "2" and path != "/ivr/voice":
            return resp
        sid = request.form.get("CallSid", "") if path == "/ivr/voice" else ""
        body = resp.get_data(as_text=True)
        url, ttl = _stream_url(settings), int(settings.stream_sig_ttl_s)
        try:
            resp.set_data(stream_twiml(body, mode=mode, call_sid=sid, token=token, stream_url=url, ttl_s=ttl))
        except ET.ParseError:
            log.error("stream: TwiML of %s could not be rewritten for mode %s", path, mode)
        return resp


@bp.before_request
def _signed() -> Response | None:
    from ivr.webhooks import _check_signature

    return _check_signature()


@bp.post("/speech")
def speech() -> Response:
    """Mode 1: a request our recognizer heard enters the webhooks' flow, exactly like a Gather."""
    from ivr.webhooks import _advance

    said = request.args.get("said", "").strip()[:100]
    try:
        conf: float | None = min(1.0, max(0.0, float(request.args.get("c", ""))))
    except ValueError:
        conf = None
    return _advance("speech", lambda: Event("speech", text=said, confidence=conf) if said else Event("no_input"))


@bp.post("/resume")
def resume() -> Response:
    """Mode 2: the call leaves the stream; the stored state says transfer or goodbye."""
    from ivr.webhooks import _advance

    return _advance("resume", lambda: Event("no_input"))


def _configured_stream_url(settings: Any) -> str:
    """The stream URL from the settings alone ("" when only a request's host could tell)."""
    if settings.stream_url:
        return str(settings.stream_url)
    if not settings.public_url:
        return ""
    base = str(settings.public_url).rstrip("/")
    return base.replace("https://", "wss://").replace("http://", "ws://") + STREAM_PATH


def _stream_url(settings: Any) -> str:
    if url := _configured_stream_url(settings):
        return url
    base = request.host_url.rstrip("/")
    return base.replace("https://", "wss://").replace("http://", "ws://") + STREAM_PATH


def stream_twiml(twiml: str, *, mode: str, call_sid: str, token: str, stream_url: str, ttl_s: int = SIG_TTL_S) -> str:
    """Rewrite the IVR's TwiML for a stream mode.

    Mode 1 (first answer of a call): ``<Start><Stream>`` first; every ``<Gather>`` listens to keys
    only (speech goes to our recognizer, not Twilio's). Mode 2: the call goes into
    ``<Connect><Stream>``; if the stream fails, the fallback webhook transfers to an agent.
    Each stream gets its own nonce and expiry (``stream_parameters``) as ``<Parameter>``s.
    """
    root = ET.fromstring(twiml)
    params = stream_parameters(token, call_sid, mode, ttl_s=ttl_s)
    if mode == "2":
        resp = ET.Element("Response")
        connect = ET.SubElement(resp, "Connect")
        stream = ET.SubElement(connect, "Stream", url=stream_url)
        for name, value in params.items():
            ET.SubElement(stream, "Parameter", name=name, value=value)
        ET.SubElement(resp, "Redirect", method="POST").text = "/ivr/fallback"
        return '<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(resp, encoding="unicode")
    if any(root.find(f".//{tag}") is not None for tag in ("Enqueue", "Dial", "Hangup")):
        stop = ET.Element("Stop")  # leaving the menu: stop listening (no stream during agent talk)
        ET.SubElement(stop, "Stream", name="nav")
        root.insert(0, stop)
    for g in root.iter("Gather"):
        g.set("input", "dtmf")
        for attr in ("language", "speechTimeout", "hints"):
            g.attrib.pop(attr, None)
    if call_sid:
        start = ET.Element("Start")
        stream = ET.SubElement(start, "Stream", url=stream_url, track="inbound_track", name="nav")
        for name, value in params.items():
            ET.SubElement(stream, "Parameter", name=name, value=value)
        root.insert(0, start)
    return '<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(root, encoding="unicode")
