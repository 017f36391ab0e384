"""`hotline serve` and `hotline settings`."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import click

from hotline.settings import Settings, SettingsError

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger(__name__)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--threads", default=16, show_default=True, type=click.IntRange(1, 1024), help="WSGI worker threads")
@click.option(
    "--ws-port",
    default=None,
    type=click.IntRange(0, 65535),
    help="Media Streams WebSocket port (default: port+1; 0 = off)",
)
def serve(host: str, port: int, threads: int, ws_port: int | None) -> None:
    """Serve the webhooks and the QA workspace under waitress (a production WSGI server)."""
    from waitress import serve as waitress_serve

    from hotline.app import create_app
    from ivr.hours import HoursError
    from ivr.menu import MenuError
    from ivr.webhooks import RouterError

    try:
        settings = Settings.from_env()
        app = create_app(settings)
    except (
        MenuError,
        HoursError,
        RouterError,
        SettingsError,
    ) as exc:  # broken menu, hours or router data: refuse, say why
        raise click.ClickException(f"refusing to start: {exc}") from None
    log.info("serving on http://%s:%d (database %s)", host, port, settings.describe()["database_url"])
    if not _has_users(app):
        log.warning(
            "no QA workspace account yet: create one with "
            "`hotline users add NAME --role admin --password ...`, then open http://%s:%d/",
            host,
            port,
        )
    if ws_port != 0:  # waitress cannot carry WebSockets: /ivr/stream gets its own small server
        from ivr.stream.transport import start_ws_server

        start_ws_server(app, host, ws_port or port + 1)
    waitress_serve(
        app, host=host, port=port, threads=threads, ident="hotline", channel_timeout=30, connection_limit=1000
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
