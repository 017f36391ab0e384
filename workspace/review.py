"""A reviewer's scores on a call (overrides of the automatic items, with notes) and comments."""

from __future__ import annotations

import math
from typing import Any

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_login import current_user
from sqlalchemy.orm import Session

from store import calibration, reviews, search
from store.audit import audit
from store.db import transaction
from store.errors import ReviewError, ScoreInputError
from store.models_review import Review
from workspace import inputs, rules
from workspace.auth import REVIEWERS, roles_required
from workspace.inputs import InputError
from workspace.web import sessions

bp = Blueprint("review", __name__)


def record_review(
    s: Session,
    call_id: int,
    reviewer_id: int,
    human: dict[str, float | None],
    notes: dict[str, str] | None = None,
    comment: str = "",
    *,
    auto_fail: bool | None = None,
    kind: str = "review",
    calibration_id: int | None = None,
) -> Review:
    """Merge the reviewer's scores with the call's automatic score (which stays untouched) and
    store the review; ``kind="calibration"`` scores in a calibration session. ReviewError when a
    rule is broken, ScoreInputError (naming the item) for a score out of range."""
    score = reviews.automatic_score(s, call_id)
    if score is None:
        raise ReviewError(f"call {call_id} has no automatic score to review")
    if kind == "calibration":
        cal = calibration.get_calibration(s, calibration_id) if calibration_id else None
        scored = cal is not None and calibration.has_scored(s, cal.id, reviewer_id)
        refusal = rules.calibration_refusal(cal, call_id, reviewer_id, scored)
        if refusal:
            raise ReviewError(refusal)
    items = rules.merge_items(dict(score.items or {}), human, notes or {})
    fail = bool(score.auto_fail if auto_fail is None else auto_fail)
    return reviews.add_review(
        s,
        call_id,
        reviewer_id,
        items=items,
        auto_total=score.total,
        total=rules.human_total(score.total, bool(score.auto_fail), items, fail),
        auto_fail=fail,
        comment=comment,
        kind=kind,
        calibration_id=calibration_id,
    )


def human_scores(form: Any, prefix: str = "item.") -> tuple[dict[str, float | None], dict[str, str]]:
    """Overrides per item; empty confirms the automatic score. Anything that is not a number
    becomes NaN here, which ``rules.merge_items`` refuses with the item's name (it knows the names)."""
    human: dict[str, float | None] = {}
    notes: dict[str, str] = {}
    for k, v in form.items():
        if k.startswith(prefix):
            raw = v.strip()
            try:
                human[k[len(prefix) :]] = float(raw) if raw else None
            except ValueError:
                human[k[len(prefix) :]] = math.nan
        elif k.startswith("note."):
            notes[k[5:]] = v.strip()[:500]
    return human, notes


@bp.post("/calls/<int:call_id>/review")
@roles_required(*REVIEWERS)
def submit_review(call_id: int) -> Any:
    human, notes = human_scores(request.form)
    with transaction(sessions()) as s:
        try:
            r = record_review(
                s,
                call_id,
                int(current_user.id),
                human,
                notes,
                request.form.get("comment", "").strip()[:2000],
                auto_fail=request.form.get("auto_fail") == "on",
            )
        except ScoreInputError as exc:
            raise InputError(str(exc)) from None
        except ReviewError as exc:
            flash(str(exc), "error")
            return redirect(url_for("workspace.calls.call_page", call_id=call_id))
        changed = [k for k, v in r.items.items() if not v["confirmed"]]
        audit(s, int(current_user.id), "review", "call", call_id, review=r.id, overridden=changed, total=r.total)
    flash(f"已提交复核：人工总分 {r.total:.1f}（修改 {len(changed)} 项）。", "ok")
    return redirect(url_for("workspace.calls.call_page", call_id=call_id) + "#review")


@bp.post("/calls/<int:call_id>/comments")
@roles_required()
def add_comment(call_id: int) -> Any:
    at_s = inputs.number(request.form, "at", "时间点（秒）", 0, reviews.MAX_COMMENT_AT_S)
    turn = inputs.whole(request.form, "turn", "句子序号", 0, reviews.MAX_TURN - 1)
    with transaction(sessions()) as s:
        if not search.has_call(s, call_id):
            abort(404)
        try:
            c = reviews.add_comment(
                s, call_id, int(current_user.id), request.form.get("text", ""), at_s=at_s, turn=turn
            )
        except ReviewError as exc:
            flash(str(exc), "error")
            return redirect(url_for("workspace.calls.call_page", call_id=call_id))
        audit(s, int(current_user.id), "comment", "call", call_id, comment=c.id)
    return redirect(url_for("workspace.calls.call_page", call_id=call_id) + "#comments")
