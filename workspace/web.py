"""What every area's views reach through the running app: its settings and the store's sessions."""

from __future__ import annotations

from typing import Any

from flask import current_app


def settings() -> Any:
    return current_app.extensions["hotline"]["settings"]


def sessions() -> Any:
    """The store's session factory, for ``store.db.transaction``."""
    return current_app.extensions["hotline"]["sessions"]


def tz() -> str:
    """The hotline's time zone: pages show local times, list filters take local days."""
    return str(getattr(settings(), "timezone", "Asia/Shanghai"))
