"""The app factory: composes blueprints over one store, per Flask's flaskr pattern."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from flask import Flask, jsonify, redirect

from hotline.settings import Settings
from store.db import make_engine, migrate, session_factory

log = logging.getLogger(__name__)

BLUEPRINTS: list[str] = [
    # "module:attribute" of each blueprint factory ``make_blueprint(app_ctx) -> Blueprint``.
    "ivr.webhooks:register",
    "ivr.stream.routes:register",  # after ivr.webhooks: uses its flow
    "qa.review:register",
]


def create_app(settings: Settings | None = None, *, run_migrations: bool = True) -> Flask:
    """Build the WSGI app. The schema is migrated on start; a broken menu refuses to start."""
    settings = settings or Settings.from_env()
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
