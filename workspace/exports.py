"""Downloads of the filtered call list: a CSV (streamed) and a zip of recordings, transcripts,
scorecards and summary.csv (at most 500 calls). Supervisors and admins only; both are audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, request, send_file
from flask_login import current_user

from store import search
from store.audit import audit
from store.db import transaction
from workspace import writers
from workspace.auth import MANAGERS, roles_required
from workspace.calls import parse_filter
from workspace.web import sessions, settings, tz

bp = Blueprint("exports", __name__)


@bp.get("/calls.csv")
@roles_required(*MANAGERS)
def calls_csv() -> Any:
    f = parse_filter(request.args)
    zone = tz()
    with transaction(sessions()) as s:
        n = search.list_calls(s, f).total
        audit(s, int(current_user.id), "export", "calls_csv", "", rows=n, query=request.query_string.decode()[:500])

    factory = sessions()

    def gen() -> Any:  # runs after the view returns: no request context needed
        with transaction(factory) as s:
            yield from writers.csv_lines(((r, ()) for r in search.iter_calls(s, f)), zone)

    stamp = datetime.now().strftime("%Y%m%d-%H%M")
    return Response(
        gen(),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename=calls-{stamp}.csv"},
    )


@bp.get("/export.zip")
@roles_required(*MANAGERS)
def export_zip() -> Any:
    """The filtered list (at most 500 calls) as recordings, transcripts, scorecards and summary.csv."""
    f = parse_filter(request.args)
    with transaction(sessions()) as s:
        ids = [r.id for r in search.iter_calls(s, f, limit=writers.MAX_ZIP_CALLS)]
        fh, n_audio = writers.build_zip(s, ids, settings().data_dir, tz())
        audit(s, int(current_user.id), "export", "calls_zip", "", calls=len(ids), recordings=n_audio)
    return send_file(fh, mimetype="application/zip", as_attachment=True, download_name="calls-export.zip")
