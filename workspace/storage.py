"""Storage page (admins): disk space, database size, what is stored and the retention policy at work."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, render_template

from store import maintenance
from store.db import transaction
from workspace.auth import roles_required
from workspace.web import sessions, settings

bp = Blueprint("storage", __name__)


@bp.get("/storage")
@roles_required("admin")
def storage() -> Any:
    cfg = settings()
    data_dir = Path(cfg.data_dir)
    disk = shutil.disk_usage(data_dir if data_dir.exists() else Path("."))
    engine = current_app.extensions["hotline"]["engine"]
    with transaction(sessions()) as s:
        summary = maintenance.storage_summary(s)
    policy = {
        "recordings": cfg.retain_recordings_days,
        "transcripts": cfg.retain_transcripts_days,
        "audit": cfg.retain_audit_days,
        "hour": cfg.maintenance_hour,
    }
    return render_template(
        "workspace/storage.html",
        disk=disk,
        db_bytes=maintenance.database_bytes(engine),
        dialect=engine.dialect.name,
        counts=summary,
        last=summary["last_retention"],
        upkeep=summary["upkeep"],
        policy=policy,
    )
