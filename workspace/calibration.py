"""Calibration: a supervisor asks several reviewers to score one call blind; each sees the
others' scores, and the spread, only after scoring (managers always see it)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from store import calibration, search, users
from store.audit import audit
from store.db import transaction
from store.errors import ReviewError, ScoreInputError
from workspace import inputs, present, rules
from workspace.auth import MANAGERS, roles_required
from workspace.inputs import InputError
from workspace.review import human_scores, record_review
from workspace.web import sessions

bp = Blueprint("calibration", __name__)


@bp.get("/calibration")
@roles_required()
def calibrations() -> Any:
    with transaction(sessions()) as s:
        rows = calibration.list_calibrations(s)
        counts = {c.id: len(calibration.calibration_reviews(s, c.id)) for c in rows}
        reviewers = users.list_users(s, roles=["qa", "admin", "supervisor"])
    return render_template("workspace/calibrations.html", rows=rows, counts=counts, reviewers=reviewers)


@bp.post("/calibration")
@roles_required(*MANAGERS)
def create_calibration() -> Any:
    call_id = inputs.whole(request.form, "call_id", "通话ID", 1, inputs.MAX_ID)
    if call_id is None:
        flash("请填写通话ID。", "error")
        return redirect(url_for("workspace.calibration.calibrations"))
    ids = [inputs.whole({"r": x}, "r", "评分人", 1, inputs.MAX_ID) for x in request.form.getlist("reviewer")]
    with transaction(sessions()) as s:
        try:
            cal = calibration.create_calibration(
                s, call_id, [i for i in ids if i is not None], int(current_user.id), request.form.get("title", "")[:128]
            )
        except ReviewError as exc:
            flash(str(exc), "error")
            return redirect(url_for("workspace.calibration.calibrations"))
        audit(s, int(current_user.id), "calibration", "call", call_id, session=cal.id, reviewers=ids)
        cid = cal.id
    return redirect(url_for("workspace.calibration.calibration_page", cal_id=cid))


@bp.get("/calibration/<int:cal_id>")
@roles_required()
def calibration_page(cal_id: int) -> Any:
    me = int(current_user.id)
    with transaction(sessions()) as s:
        cal = calibration.get_calibration(s, cal_id)
        if cal is None:
            abort(404)
        d = search.call_detail(s, cal.call_id)
        reviews = calibration.calibration_reviews(s, cal_id)
        names = users.user_names(s)
    mine = next((r for r, _ in reviews if r.reviewer_id == me), None)
    participant = me in (cal.reviewer_ids or [])
    # blind: a participant sees the others only after scoring; managers always see the spread
    show_spread = current_user.role in MANAGERS or mine is not None or cal.status == "closed"
    if not participant and current_user.role not in MANAGERS:
        abort(403)
    spread = rules.calibration_spread([r for r, _ in reviews]) if show_spread else None
    return render_template(
        "workspace/calibration.html",
        cal=cal,
        d=d,
        items=present.clean_items(d.score.items) if d and d.score else {},
        reviews=reviews if show_spread else [],
        n_reviews=len(reviews),
        spread=spread,
        mine=mine,
        participant=participant,
        users=names,
    )


@bp.post("/calibration/<int:cal_id>/score")
@roles_required()
def calibration_score(cal_id: int) -> Any:
    human, notes = human_scores(request.form)
    with transaction(sessions()) as s:
        cal = calibration.get_calibration(s, cal_id)
        if cal is None:
            abort(404)
        if int(current_user.id) not in (cal.reviewer_ids or []):
            abort(403)
        try:
            r = record_review(
                s,
                cal.call_id,
                int(current_user.id),
                human,
                notes,
                request.form.get("comment", "")[:2000],
                auto_fail=request.form.get("auto_fail") == "on",
                kind="calibration",
                calibration_id=cal_id,
            )
        except ScoreInputError as exc:
            raise InputError(str(exc)) from None
        except ReviewError as exc:
            flash(str(exc), "error")
            return redirect(url_for("workspace.calibration.calibration_page", cal_id=cal_id))
        audit(s, int(current_user.id), "calibration_score", "calibration", cal_id, review=r.id)
    return redirect(url_for("workspace.calibration.calibration_page", cal_id=cal_id))


@bp.post("/calibration/<int:cal_id>/close")
@roles_required(*MANAGERS)
def calibration_close(cal_id: int) -> Any:
    with transaction(sessions()) as s:
        if not calibration.close_calibration(s, cal_id):
            abort(404)
        audit(s, int(current_user.id), "calibration_close", "calibration", cal_id)
    return redirect(url_for("workspace.calibration.calibration_page", cal_id=cal_id))
