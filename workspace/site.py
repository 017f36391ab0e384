"""The workspace's parent blueprint under /qa: what every page shares.

Each area is a blueprint of its own (``workspace.calls``, ``workspace.review``...) registered
on this one, so its hooks run for all of them: NUL and CSRF checks and id bounds before the view,
security headers and Server-Timing after it, the error pages, and the template globals.

Roles: qa (质检员) reviews and comments; supervisor (主管) samples, exports and disputes on an
agent's behalf; admin (管理员) may do everything and reads the audit log. Every page needs a
login; recordings and transcripts are audited when opened.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, abort, g, redirect, render_template, request, url_for
from flask_login import current_user

from workspace import (
    audit,
    auth,
    calibration,
    calls,
    disputes,
    exports,
    inputs,
    live,
    present,
    review,
    sampling,
    service_levels,
    storage,
    trends,
)
from workspace.auth import check_csrf, csrf_token, roles_required
from workspace.inputs import InputError
from workspace.sampling_run import REASON_LABELS
from workspace.web import tz

bp = Blueprint("workspace", __name__, url_prefix="/qa", template_folder="templates", static_folder="static")
AREAS = (auth, calls, review, disputes, calibration, sampling, exports, trends, service_levels, live, audit, storage)
for area in AREAS:
    bp.register_blueprint(area.bp)


@bp.before_request
def _before() -> None:
    g.t0 = time.perf_counter()
    if inputs.has_nul([*request.args.values(), *request.form.values(), *request.form.keys()]):
        abort(400, description="请求中含有无效字符（NUL）。")
    check_csrf()
    # ids in the path beyond the integer columns cannot exist (and would overflow the driver)
    if any(isinstance(v, int) and not 0 < v <= inputs.MAX_ID for v in (request.view_args or {}).values()):
        abort(404)


@bp.after_request
def _after(resp: Response) -> Response:
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("X-Frame-Options", "DENY")
    resp.headers.setdefault("Referrer-Policy", "same-origin")
    if request.endpoint != "workspace.static":
        resp.headers.setdefault("Cache-Control", "no-store")
        resp.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - g.get('t0', time.perf_counter())) * 1000:.1f}"
    return resp


@bp.app_context_processor
def _ctx() -> dict[str, Any]:
    return {
        "csrf_token": csrf_token,
        "FLAG_LABELS": present.FLAG_LABELS,
        "OUTCOME_LABELS": present.OUTCOME_LABELS,
        "SENTIMENT_LABELS": present.SENTIMENT_LABELS,
        "SPEAKER_LABELS": present.SPEAKER_LABELS,
        "REASON_LABELS": REASON_LABELS,
        "mmss": present.fmt_time,
        "num": present.fmt_num,
        "gnum": present.fmt_g,
        "finite": present.shown,
        "json_safe": present.json_safe,
        "localtime": lambda dt: present.local_time(dt, tz()),
        "band": present.sentiment_band,
        "note_label": present.note_label,
        "phrase_label": present.phrase_label,
        "is_miss": present.is_miss,
        "review_marks": present.review_marks,
    }


@bp.get("/")
@roles_required()
def home() -> Any:
    """QA staff land on their tasks, everyone else on the call list."""
    if current_user.role == "qa":
        return redirect(url_for("workspace.sampling.my_picks"))
    return redirect(url_for("workspace.calls.calls"))


@bp.errorhandler(403)
def forbidden(_e: Any) -> Any:
    return render_template("workspace/error.html", code=403, message="您的角色无权访问此页面。"), 403


@bp.errorhandler(404)
def not_found(_e: Any) -> Any:
    return render_template("workspace/error.html", code=404, message="没有找到该页面或记录。"), 404


@bp.errorhandler(400)
def bad_request(e: Any) -> Any:
    return render_template("workspace/error.html", code=400, message=getattr(e, "description", "请求无效。")), 400


@bp.errorhandler(InputError)
def bad_input(e: InputError) -> Any:
    return render_template("workspace/error.html", code=400, message=str(e)), 400
