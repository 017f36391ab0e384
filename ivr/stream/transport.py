"""The Media Streams socket: a receive loop per WebSocket, on either of the two servers that carry one.

Served two ways: a flask-sock route ``/ivr/stream`` (werkzeug, gunicorn, eventlet, gevent) and,
because waitress cannot hand a socket to a WebSocket library, a small `websockets` server that
``hotline serve`` starts on its own port. Both hand each socket to `run_stream`, which reads,
asks the session (`ivr.stream.session`) and queues the work for the stream's worker
(`ivr.stream.hub`); it never waits for recognition or effects.

Who may hold a socket: a handshake that carries ``X-Twilio-Signature`` must carry a valid one
(Twilio signs the ``wss://`` URL it connects to); the ``start`` message must name a stream our
TwiML signed (call, mode, one-time nonce, expiry) within ``start_timeout`` of connecting; one
live stream per call; at most ``max_connections`` sockets at once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from http import HTTPStatus
from typing import Any, Protocol

from flask import Flask, Response, request

from ivr.stream.hub import StreamHub, StreamWorker
from ivr.stream.session import MediaStreamSession
from ivr.stream.signing import STREAM_PATH

log = logging.getLogger(__name__)


class Socket(Protocol):
    """What the loop needs from a WebSocket: text in (None on timeout), text out, close."""

    def receive(self, timeout: float) -> str | bytes | None: ...
    def send(self, text: str) -> None: ...
    def close(self) -> None: ...


class Disconnected(Exception):
    """The peer closed the socket (or it broke)."""


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
            hub.release(session.slot)
        hub.close_socket()
        worker.finish(wait, reason)
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


REFUSED = ("auth", "expired", "mode", "replay", "busy", "no-start", "format", "track", "malformed", "live-full")


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
    hub = app.extensions.get("hotline.stream")
    if not isinstance(hub, StreamHub):
        raise RuntimeError("ivr.stream.routes.register has not run on this app")
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


# ------------------------------------------------------------------ flask-sock, on the HTTP port
def mount(app: Flask, hub: StreamHub) -> None:
    """The flask-sock route ``/ivr/stream`` (only with a stream mode) and, on this HTTP port, a clear
    4xx for what cannot become a socket here (a failed upgrade would be a 500)."""
    from flask_sock import Sock

    app.before_request(lambda: _handshake_here(hub))
    if not hub.config.modes:  # no mode, no socket: the route does not exist
        return
    sock = Sock(app)

    @sock.route(STREAM_PATH)
    def stream_socket(ws: Any) -> None:
        run_stream(FlaskSockSocket(ws), hub)


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
