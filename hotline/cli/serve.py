"""`hotline serve` and `hotline settings`."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
from typing import TYPE_CHECKING, Any

import click

from hotline.settings import Settings, SettingsError

if TYPE_CHECKING:
    from flask import Flask

    from hotline.app import Parts

log = logging.getLogger(__name__)
WAITRESS = {"ident": "hotline", "channel_timeout": 30, "connection_limit": 1000}


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--threads", default=16, show_default=True, type=click.IntRange(1, 1024), help="WSGI worker threads")
@click.option(
    "--processes",
    default=None,
    type=click.IntRange(1, 64),
    help="processes answering HTTP on the port, one core each (default: HOTLINE_WEB_PROCESSES, 1); "
    "the recording pipeline's job pool and the stream socket run in the first only",
)
@click.option(
    "--ws-port",
    default=None,
    type=click.IntRange(0, 65535),
    help="Media Streams WebSocket port (default: port+1; 0 = off)",
)
def serve(host: str, port: int, threads: int, processes: int | None, ws_port: int | None) -> None:
    """Serve the webhooks and the QA workspace under waitress (a production WSGI server)."""
    from hotline.app import create_app, load_parts, require_public_url, settle
    from ivr.hours import HoursError
    from ivr.menu import MenuError
    from ivr.webhooks import RouterError

    try:
        settings = Settings.from_env()
        require_public_url(settings)
        parts = load_parts(settings)  # once: forked processes share it
        n = processes or settings.web_processes
        app = create_app(settings, parts=parts) if n == 1 else None
    except (MenuError, HoursError, RouterError, SettingsError) as exc:  # broken menu, hours or router data: say why
        raise click.ClickException(f"refusing to start: {exc}") from None
    log.info("serving on http://%s:%d (database %s)", host, port, settings.describe()["database_url"])
    if app is None:
        _serve_processes(settings, parts, n, host, port, threads, ws_port)
        return
    _warn_without_users(app, host, port)
    if ws_port != 0:
        _start_streams(app, host, ws_port or port + 1)
    settle()
    _waitress(app, threads=threads, host=host, port=port)


def _waitress(app: Any, **kwargs: Any) -> None:
    from waitress import serve as waitress_serve

    waitress_serve(app, **kwargs, **WAITRESS)


def _start_streams(app: Flask, host: str, port: int) -> None:
    """waitress cannot carry WebSockets: /ivr/stream gets its own small server (one, in one process)."""
    from ivr.stream.transport import start_ws_server

    start_ws_server(app, host, port)


def _serve_processes(
    settings: Settings, parts: Parts, n: int, host: str, port: int, threads: int, ws_port: int | None
) -> None:
    """``n`` forked processes accept on one listening socket; this one only watches them.

    The schema is migrated and the data files loaded here, once, before the fork. Process 0 is the
    ``jobs`` role (the embedded job pool, resumed and polling for rows the others commit; the Media
    Streams socket); the others are ``web`` (a stored recording becomes a job row, run by process 0
    or by RQ workers). If one process dies the others are stopped, so a supervisor (systemd,
    docker) restarts the whole server instead of it running short-handed unnoticed.
    """
    if not hasattr(os, "fork"):
        raise click.ClickException("--processes needs os.fork (Linux, macOS): run one process per port instead")
    from store.db import make_engine, migrate

    engine = make_engine(settings.database_url)
    migrate(engine)
    engine.dispose()  # no connection crosses the fork
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    from ivr.auth import auth_token

    auth_token(settings.twilio_auth_token.reveal(), settings.data_dir)  # the dev token: made once, read by all
    listener = socket.create_server((host, port), backlog=1024, reuse_port=False)
    log.info("%d processes on http://%s:%d", n, host, listener.getsockname()[1])
    from hotline.app import settle

    settle()  # start-up objects frozen before the fork: the processes share those pages
    children: dict[int, int] = {}
    stopping = _on_stop_signal(children)  # before the fork: no window where a SIGTERM leaves orphans
    for index in range(n):
        pid = os.fork()
        if pid == 0:
            _child(index, settings, parts, listener, host, port, threads, ws_port)  # never returns
        children[pid] = index
    listener.close()
    _supervise(children, stopping)


def _child(
    index: int,
    settings: Settings,
    parts: Parts,
    listener: socket.socket,
    host: str,
    port: int,
    threads: int,
    ws_port: int | None,
) -> None:
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        from hotline.app import create_app, settle

        app = create_app(settings, run_migrations=False, parts=parts, role="jobs" if index == 0 else "web")
        if index == 0:
            _warn_without_users(app, host, port)
            if ws_port != 0:
                _start_streams(app, host, ws_port or port + 1)
        settle()
        log.info("process %d (pid %d, %s) serving", index, os.getpid(), "jobs" if index == 0 else "web")
        _waitress(app, sockets=[listener], threads=threads)
    except BaseException:
        log.exception("process %d failed", index)
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _on_stop_signal(children: dict[int, int]) -> list[bool]:
    """SIGTERM/SIGINT: pass SIGTERM on to every process. Returns the flag the handler sets."""
    stopping = [False]

    def stop(_signum: int, _frame: Any) -> None:
        stopping[0] = True
        for pid in list(children):
            _kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return stopping


def _supervise(children: dict[int, int], stopping: list[bool]) -> None:
    """Wait for the processes; when one ends unasked, stop the others and exit 1."""
    failed = False
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        index = children.pop(pid, None)
        if index is None or stopping[0]:
            continue
        failed = True
        log.error("process %d (pid %d) ended (status %d): stopping the others", index, pid, status)
        stopping[0] = True
        for other in list(children):
            _kill(other, signal.SIGTERM)
    if failed:
        raise SystemExit(1)


def _kill(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _warn_without_users(app: Flask, host: str, port: int) -> None:
    if not _has_users(app):
        log.warning(
            "no QA workspace account yet: create one with "
            "`hotline users add NAME --role admin --password ...`, then open http://%s:%d/",
            host,
            port,
        )


def _has_users(app: Flask) -> bool:
    from store.db import transaction
    from store.users import list_users

    with transaction(app.extensions["hotline"]["sessions"]) as s:
        return bool(list_users(s))


@click.command("settings")
def show_settings() -> None:
    """Print the effective settings; secrets show only whether they are set."""
    for key, value in Settings.from_env().describe().items():
        click.echo(f"HOTLINE_{key.upper()}={value}")
