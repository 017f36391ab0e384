"""The app factory, the composition root: one store, and each part handed the typed settings it needs.

Parts (the IVR's webhooks, its Media Streams, the QA workspace, the recording pipeline) are
imported here by name and never read ``hotline.settings.Settings`` themselves: each takes its own
small settings type (``ivr.config``, ``workspace.web.WorkspaceSettings``) built below.
``app.extensions["hotline"]`` keeps the shared handles (settings, engine, sessions, pipeline and
the parts' contexts) for the CLI, tests and benchmarks.
"""

from __future__ import annotations

import gc
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from flask import Flask, jsonify, redirect

import workspace
from hotline import live as hotline_live
from hotline import service_levels
from hotline.settings import Settings, SettingsError
from hotline.wsgi import Request
from ivr import webhooks
from ivr.config import IvrSettings, StreamSettings
from ivr.stream import routes as stream_routes
from store.db import make_engine, migrate, session_factory
from workspace.web import WorkspaceSettings

log = logging.getLogger(__name__)

ROLES = ("all", "web", "jobs")  # see create_app


@dataclass(frozen=True)
class Parts:
    """What the app loads from data files at start (menu, hours, router): loaded once by
    `load_parts`, and shared by fork between the processes of ``hotline serve --processes``."""

    ivr: webhooks.IvrParts


def ivr_settings(s: Settings) -> IvrSettings:
    return IvrSettings(
        data_dir=s.data_dir,
        menu_path=s.menu_path,
        hours_path=s.hours_path,
        timezone=s.timezone,
        router=s.ivr_router,
        twilio_auth_token=s.twilio_auth_token.reveal(),
        public_url=s.public_url,
        validate_signatures=s.validate_signatures,
        agent_dial=s.agent_dial,
        recording_hosts=s.allowed_recording_hosts(),
        service_level_s=float(s.kpi_service_level_s),
    )


def stream_settings(s: Settings) -> StreamSettings:
    prompts = s.stream_prompts_dir if str(s.stream_prompts_dir) not in ("", ".") else None
    return StreamSettings(
        data_dir=s.data_dir,
        mode=s.stream_mode,
        url=s.stream_url,
        public_url=s.public_url,
        model=s.stream_model or s.vosk_model or "cn",
        models_dir=s.models_dir,
        tts=s.stream_tts,
        prompts_dir=prompts,
        max_connections=s.stream_max_connections,
        sig_ttl_s=s.stream_sig_ttl_s,
        validate_signatures=s.validate_signatures,
        require_handshake_signature=s.stream_require_handshake_signature,
        twilio_account_sid=s.twilio_account_sid,
        twilio_auth_token=s.twilio_auth_token.reveal(),
        live_calls=s.live_calls,
    )


def workspace_settings(s: Settings) -> WorkspaceSettings:
    return WorkspaceSettings(
        data_dir=s.data_dir,
        public_url=s.public_url,
        timezone=s.timezone,
        caller_channel=s.caller_channel,
        retain_recordings_days=s.retain_recordings_days,
        retain_transcripts_days=s.retain_transcripts_days,
        retain_audit_days=s.retain_audit_days,
        maintenance_hour=s.maintenance_hour,
    )


def load_parts(settings: Settings) -> Parts:
    """Read and check the data files (MenuError, HoursError, RouterError stop start-up with the reason)."""
    return Parts(ivr=webhooks.load_parts(ivr_settings(settings)))


def create_app(
    settings: Settings | None = None, *, run_migrations: bool = True, parts: Parts | None = None, role: str = "all"
) -> Flask:
    """Build the WSGI app. The schema is migrated on start; a broken menu refuses to start.

    ``role``: ``all`` (one process: webhooks, workspace, and the embedded job pool resuming
    unfinished work), ``jobs`` (the one process of several that runs the embedded job pool, started
    at once so it picks up what the others admit) or ``web`` (the others: recordings are admitted
    as job rows, never run here).
    """
    if role not in ROLES:
        raise ValueError(f"role: expected one of {', '.join(ROLES)}, got {role!r}")
    settings = settings or Settings.from_env()
    require_public_url(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    parts = parts or load_parts(settings)
    app = Flask("hotline")
    app.request_class = Request
    app.config["MAX_CONTENT_LENGTH"] = 1 * 1024 * 1024  # webhooks are small; refuse oversized bodies
    app.config["SECRET_KEY"] = settings.secret_key.reveal() if settings.secret_key else secrets.token_hex(32)
    engine = make_engine(settings.database_url)
    if run_migrations:
        migrate(engine)
    sessions = session_factory(engine)
    ext: dict[str, Any] = {"settings": settings, "engine": engine, "sessions": sessions}
    app.extensions["hotline"] = ext

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify(status="ok")

    @app.get("/")
    def home() -> Any:
        """People open the bare address after `make run`: send them to the QA workspace (login first)."""
        return redirect("/qa/")

    ivr = webhooks.register(
        app, ivr_settings(settings), engine=engine, sessions=sessions, parts=parts.ivr, shared=role != "all"
    )
    ext["ivr"] = ivr
    ext["stream"] = stream_routes.register(app, stream_settings(settings), ivr)
    service_levels.register(app)  # the 运营指标 figures the workspace shows
    workspace.register(app, workspace_settings(settings), sessions)
    hotline_live.register(app)  # after the stream hub and the workspace
    _install_pipeline(app, settings, role)
    ivr.on_recording = ext["on_recording"]
    return app


def _install_pipeline(app: Flask, settings: Settings, role: str) -> None:
    """The recording pipeline behind the IVR's ``on_recording``: its embedded job pool runs in one process."""
    from hotline.runtime import Pipeline, install

    ext = app.extensions["hotline"]
    if role == "web":
        pipe = Pipeline(settings, ext["sessions"], mode="client")  # job rows (and RQ pushes), no pool here
        ext["pipeline"], ext["on_recording"] = pipe, pipe.admit
        return
    pipe = install(app)  # the embedded pool resumes unfinished work (RQ: the sweeper)
    if role == "jobs" and not settings.redis_url:
        pipe.start()  # poll for the job rows the web processes commit


def settle() -> None:
    """Before serving: what start-up built (menu, router model, SQLAlchemy's tables, Flask's app)
    lives as long as the process, so move it out of the garbage collector's sight.

    Otherwise each full collection walks all of it again: a quarter of a webhook's CPU. Forked
    processes (``--processes``) also keep sharing those pages instead of copying them.
    """
    gc.collect()
    gc.freeze()


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


def hotline_ext(app: Flask) -> dict[str, Any]:
    return app.extensions["hotline"]
