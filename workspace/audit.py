"""The audit log page (admins): every login, view, listen, review, export and change, newest first."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from store.audit import list_audit
from store.db import transaction
from workspace import inputs
from workspace.auth import roles_required
from workspace.calls import MAX_PAGE
from workspace.web import sessions

bp = Blueprint("audit", __name__)


@bp.get("/audit")
@roles_required("admin")
def audit_log() -> Any:
    page = inputs.whole(request.args, "page", "页码", 1, MAX_PAGE) or 1
    with transaction(sessions()) as s:
        rows = list_audit(s, limit=100, offset=(page - 1) * 100)
    return render_template("workspace/audit.html", rows=rows, page=page)
