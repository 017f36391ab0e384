"""The app factory: composes blueprints over one store, per Flask's flaskr pattern."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from flask import Flask, jsonify, redirect

from hotline.settings import Settings, SettingsError
from store.db import make_engine, migrate, session_factory

log = logging.getLogger(__name__)

BLUEPRINTS: list[str] = [
    # "module:attribute" of each blueprint factory ``make_blueprint(app_ctx) -> Blueprint``.
    "ivr.webhooks:register",
    "ivr.stream.routes:register",  # after ivr.webhooks: uses its flow
    "hotline.service_levels:register",  # the 运营指标 figures the workspace shows
    "workspace:register",
    "hotline.live:register",  # after ivr.stream.routes (the hub) and workspace
]


def create_app(settings: Settings | None = None, *, run_migrations: bool = True) -> Flask:
    """Build the WSGI app. The schema is migrated on start; a broken menu refuses to start."""
    settings = settings or Settings.from_env()
    require_public_url(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = Flask("hotline")
    app.config["MAX_CONTENT_LENGTH"] = 1 * 1024 * 1024  # webhooks are small; refuse oversized bodies
    app.config["SECRET_KEY"] = settings.secret_key.reveal() if settings.secret_key else secrets.token_hex(32)
    engine = make_engine(settings.database_url)
    if run_migrations:
        migrate(engine)
    ext: dict[str, Any] = {"settings": settings, "engine": engine, "sessions": session_factory(engine)}
    app.extensions["hotline"] = ext

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify(status="ok")

    @app.get("/")
    def home() -> Any:
        """People open the bare address after `make run`: send them to the QA workspace (login first)."""
        return redirect("/qa/")

    for register in _registrars():
        register(app)
    from hotline.runtime import install as install_pipeline

    install_pipeline(app)  # recording pipeline: the IVR's on_recording hook and the embedded job pool
    return app


def require_public_url(settings: Settings) -> None:
    """With a real auth token, Twilio's signatures are checked against HOTLINE_PUBLIC_URL, never the Host header.

    Rebuilt from the Host header, a request signed for another app of the same Twilio account (same
    token, other host) would be accepted here. The development token (no token set) keeps working
    without it, so `make run` works on a fresh machine.
    """
    if settings.twilio_auth_token and settings.validate_signatures and not settings.public_url:
        raise SettingsError(
            "HOTLINE_PUBLIC_URL is not set: with HOTLINE_TWILIO_AUTH_TOKEN set, webhook signatures are checked "
            "against the public base URL Twilio calls (e.g. HOTLINE_PUBLIC_URL=https://ivr.example.com), "
            "not against the request's Host header"
        )


def _registrars() -> list[Any]:
    """Each area exposes ``register(app)``; listed here so the composition root stays explicit."""
    import importlib

    out = []
    for spec in BLUEPRINTS:
        module, attr = spec.split(":")
        out.append(getattr(importlib.import_module(module), attr))
    return out


def hotline_ext(app: Flask) -> dict[str, Any]:
    return app.extensions["hotline"]
