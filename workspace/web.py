"""What every area's views reach through the running app: its settings and the store's sessions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flask import Flask, current_app
from sqlalchemy.orm import Session, sessionmaker

EXTENSION = "hotline.workspace"  # app.extensions key of the WorkspaceContext


@dataclass(frozen=True)
class WorkspaceSettings:
    """The few settings the workspace uses (built by the composition root, ``hotline.app``)."""

    data_dir: Path  # recordings (and the zips built from them) are under it
    public_url: str = ""  # https: cookies are marked Secure
    timezone: str = "Asia/Shanghai"  # pages show local times, list filters take local days
    caller_channel: int = 0  # which channel of a two-channel recording is the caller
    retain_recordings_days: int = 180  # the retention policy the storage page states (0: kept for ever)
    retain_transcripts_days: int = 365
    retain_audit_days: int = 1095
    maintenance_hour: int = 3


@dataclass(frozen=True)
class WorkspaceContext:
    settings: WorkspaceSettings
    sessions: sessionmaker[Session]


def install(app: Flask, ctx: WorkspaceContext) -> None:
    app.extensions[EXTENSION] = ctx


def context() -> WorkspaceContext:
    ctx = current_app.extensions.get(EXTENSION)
    if not isinstance(ctx, WorkspaceContext):
        raise RuntimeError("workspace.register has not run on this app")
    return ctx


def settings() -> WorkspaceSettings:
    return context().settings


def sessions() -> sessionmaker[Session]:
    """The store's session factory, for ``store.db.transaction``."""
    return context().sessions


def tz() -> str:
    """The hotline's time zone: pages show local times, list filters take local days."""
    return settings().timezone
