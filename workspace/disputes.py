"""Disputes: a supervisor disputes a review on an agent's behalf; another QA reviewer (or an
admin) upholds or revises it. The original and the resolved versions are both kept."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import Session

from store import disputes as store_disputes
from store import reviews, users
from store.audit import audit
from store.db import transaction
from store.errors import ReviewError, ScoreInputError
from store.models_review import Dispute
from workspace import rules
from workspace.auth import MANAGERS, REVIEWERS, roles_required
from workspace.inputs import InputError
from workspace.review import human_scores
from workspace.web import sessions

bp = Blueprint("disputes", __name__)


def settle(
    s: Session, dispute_id: int, user_id: int, role: str, human: dict[str, float | None] | None, resolution: str
) -> Dispute:
    """Uphold (``human`` None) or revise the disputed review; ReviewError if this user may not."""
    d, review = store_disputes.get_open_dispute(s, dispute_id)
    refusal = rules.resolve_refusal(user_id, role, review.reviewer_id, d.raised_by)
    if refusal:
        raise ReviewError(refusal)
    if human is None:
        return store_disputes.uphold_dispute(s, dispute_id, user_id, resolution)
    items = rules.revised_items(d.original_items, human)
    score = reviews.automatic_score(s, review.call_id)
    auto_fail = bool(score.auto_fail) if score is not None else False
    total = rules.human_total(review.auto_total, auto_fail, items, review.auto_fail)
    return store_disputes.revise_dispute(s, dispute_id, user_id, resolution, items, total)


@bp.post("/reviews/<int:review_id>/dispute")
@roles_required(*MANAGERS)
def raise_dispute(review_id: int) -> Any:
    with transaction(sessions()) as s:
        r = reviews.get_review(s, review_id)
        if r is None:
            abort(404)
        call_id = r.call_id
        try:
            d = store_disputes.raise_dispute(s, review_id, int(current_user.id), request.form.get("reason", ""))
        except ReviewError as exc:
            flash(str(exc), "error")
            return redirect(url_for("workspace.calls.call_page", call_id=call_id))
        audit(s, int(current_user.id), "dispute", "review", review_id, dispute=d.id)
        did = d.id
    flash("已代客服提出申诉。", "ok")
    return redirect(url_for("workspace.disputes.dispute_page", dispute_id=did))


@bp.get("/disputes")
@roles_required()
def disputes() -> Any:
    status = request.args.get("status", "open")
    with transaction(sessions()) as s:
        rows = store_disputes.list_disputes(s, None if status == "all" else status)
        names = users.user_names(s)
    return render_template("workspace/disputes.html", rows=rows, users=names, status=status)


@bp.get("/disputes/<int:dispute_id>")
@roles_required()
def dispute_page(dispute_id: int) -> Any:
    with transaction(sessions()) as s:
        got = store_disputes.get_dispute(s, dispute_id)
        if got is None:
            abort(404)
        d, review = got
        names = users.user_names(s)
    me = int(current_user.id)
    can_resolve = (
        d.status == "open"
        and current_user.role in REVIEWERS
        and rules.resolve_refusal(me, current_user.role, review.reviewer_id, d.raised_by) is None
    )
    return render_template("workspace/dispute.html", d=d, review=review, users=names, can_resolve=can_resolve)


@bp.post("/disputes/<int:dispute_id>/resolve")
@roles_required(*REVIEWERS)
def resolve_dispute(dispute_id: int) -> Any:
    human, _ = human_scores(request.form)
    uphold = request.form.get("decision") == "uphold"
    me = int(current_user.id)
    with transaction(sessions()) as s:
        try:
            resolution = request.form.get("resolution", "")
            d = settle(s, dispute_id, me, current_user.role, None if uphold else human, resolution)
        except ScoreInputError as exc:
            raise InputError(str(exc)) from None
        except ReviewError as exc:
            flash(str(exc), "error")
            return redirect(url_for("workspace.disputes.dispute_page", dispute_id=dispute_id))
        audit(s, me, "resolve", "dispute", dispute_id, status=d.status, total=d.resolved_total)
    flash("申诉已处理，原评分与新评分均已保留。", "ok")
    return redirect(url_for("workspace.disputes.dispute_page", dispute_id=dispute_id))
