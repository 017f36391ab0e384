"""Weekly sampling: a team's policy, running a sample, the sample's page and downloads, and each
reviewer's own tasks (/qa/my)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from sqlalchemy.orm import Session

from qa.sampling import PolicyError
from store import calibration, search, users
from store import sampling as store_sampling
from store.audit import audit
from store.db import transaction
from store.models_review import Sample, SamplePick
from workspace import inputs, writers
from workspace.auth import MANAGERS, roles_required
from workspace.sampling_run import (
    build_policy,
    current_week,
    default_policy_data,
    default_week,
    run_sample,
    team_policy_data,
)
from workspace.web import sessions, settings, tz

log = logging.getLogger(__name__)
bp = Blueprint("sampling", __name__)

# sampling form field -> (label, upper bound); every one is a finite number >= 0
POLICY_FIELDS: dict[str, tuple[str, float]] = {
    "per_agent": ("每位客服随机抽检条数", 1000),
    "max_targeted": ("定向抽检上限", 1000),
    "min_duration_s": ("最短时长（秒）", 86400),
    "lowest_n": ("最低分条数", 1000),
    "lowest_below": ("最低分阈值", 100),
    "negative_below": ("负面情绪阈值", 1),
}
WHOLE_POLICY_FIELDS = ("per_agent", "max_targeted", "lowest_n")


def policy_form(form: Any) -> dict[str, Any]:
    """The sampling form -> a policy dict in the YAML's shape; bad numbers raise InputError."""

    def num(key: str, default: float) -> float:
        label, hi = POLICY_FIELDS[key]
        if key in WHOLE_POLICY_FIELDS:
            v: float | None = inputs.whole(form, key, label, 0, int(hi))
        else:
            v = inputs.number(form, key, label, 0, hi)
        return default if v is None else v

    targeted: list[dict[str, Any]] = []
    if form.get("t_auto_fail"):
        targeted.append({"reason": "auto_fail", "flag": "auto_fail"})
    if form.get("t_angry"):
        targeted.append({"reason": "angry_customer", "flag": "angry_customer"})
    if form.get("t_forbidden"):
        targeted.append({"reason": "forbidden_phrase", "flag": "forbidden_phrase"})
    if form.get("t_lowest"):
        targeted.append(
            {
                "reason": "lowest_score",
                "lowest_per_agent_week": int(num("lowest_n", 1)),
                "total_below": num("lowest_below", 70),
            }
        )
    if form.get("t_negative"):
        targeted.append({"reason": "negative_sentiment", "sentiment_below": -abs(num("negative_below", 0.5))})
    if form.get("t_silence"):
        targeted.append({"reason": "long_silence", "flag": "long_silence"})
    return {
        "random_per_agent_week": int(num("per_agent", 3)),
        "min_duration_s": num("min_duration_s", 60),
        "require_recording": bool(form.get("require_recording")),
        "skip_reviewed": bool(form.get("skip_reviewed")),
        "max_targeted_per_agent_week": int(num("max_targeted", 5)),
        "complaints": bool(form.get("t_complaint")),
        "targeted": targeted,
    }


@bp.get("/sampling")
@roles_required(*MANAGERS)
def sampling() -> Any:
    with transaction(sessions()) as s:
        teams = search.distinct_values(s, "team")
        team = (
            request.args.get("team")
            or (current_user.team if current_user.team in teams else "")
            or (teams[0] if teams else "")
        )
        policy = team_policy_data(s, team)
        try:
            build_policy(policy)
        except PolicyError:  # saved before its numbers were checked: show (and run) the defaults
            log.warning("sampling policy of a team is invalid; showing the defaults")
            flash("本组保存的抽检策略无效，下面显示默认策略，请检查后重新保存。", "error")
            policy = default_policy_data()
        samples = store_sampling.list_samples(s)
        reviewers = users.list_users(s, roles=["qa"])
        this_week = current_week(tz())
        proposed = default_week(tz(), store_sampling.latest_call_start(s, team))
    reasons = {t.get("reason") for t in policy.get("targeted") or []}
    return render_template(
        "workspace/sampling.html",
        teams=teams,
        team=team,
        policy=policy,
        reasons=reasons,
        samples=samples,
        reviewers=reviewers,
        week=request.args.get("week") or proposed,
        this_week=this_week,
        week_note=not request.args.get("week") and proposed != this_week,
        seed=request.args.get("seed") or datetime.now().strftime("%Y%m%d"),
    )


@bp.post("/sampling/policy")
@roles_required(*MANAGERS)
def save_policy() -> Any:
    team = inputs.text(request.form, "team", "班组", 64)
    data = policy_form(request.form)
    try:
        build_policy({**default_policy_data(), **data})
    except PolicyError as exc:
        flash(f"策略无效：{exc}", "error")
        return redirect(url_for("workspace.sampling.sampling", team=team))
    with transaction(sessions()) as s:
        store_sampling.set_policy(s, team, data, int(current_user.id))
        audit(s, int(current_user.id), "change", "sampling_policy", team)
    flash(f"已保存 {team} 的抽检策略。", "ok")
    return redirect(url_for("workspace.sampling.sampling", team=team))


@bp.post("/sampling/run")
@roles_required(*MANAGERS)
def run_sampling() -> Any:
    team = inputs.text(request.form, "team", "班组", 64)
    week = inputs.text(request.form, "week", "周", 10)
    seed = inputs.whole(request.form, "seed", "随机种子", 0, inputs.MAX_ID) or 0
    overrides = policy_form(request.form)
    with transaction(sessions()) as s:
        try:
            res = run_sample(s, team, week, seed=seed, user_id=int(current_user.id), overrides=overrides)
        except (ValueError, PolicyError) as exc:
            flash(f"无法抽检：{exc}", "error")
            return redirect(url_for("workspace.sampling.sampling", team=team))
    flash(f"已抽取 {res.picks} 通（符合条件 {res.audit.get('eligible', 0)} 通，种子 {seed}）。", "ok")
    return redirect(url_for("workspace.sampling.sample_page", sample_id=res.sample_id))


def _picks_or_404(s: Session, sample_id: int) -> tuple[Sample, list[tuple[SamplePick, str]]]:
    smp = store_sampling.get_sample(s, sample_id)
    if smp is None:
        abort(404)
    return smp, store_sampling.sample_picks(s, sample_id)


@bp.get("/samples/<int:sample_id>")
@roles_required()
def sample_page(sample_id: int) -> Any:
    with transaction(sessions()) as s:
        smp, picks = _picks_or_404(s, sample_id)
        rows = {r.id: r for r in search.load_rows(s, [p.call_id for p, _ in picks])}
    load: dict[str, int] = {}
    for _, name in picks:
        load[name or "（未分配）"] = load.get(name or "（未分配）", 0) + 1
    return render_template("workspace/sample.html", smp=smp, picks=picks, rows=rows, load=load)


@bp.get("/samples/<int:sample_id>.zip")
@roles_required(*MANAGERS)
def sample_zip(sample_id: int) -> Any:
    with transaction(sessions()) as s:
        smp, picks = _picks_or_404(s, sample_id)
        notes = {p.call_id: f"{p.detail}（{name or '未分配'}）" for p, name in picks}
        fh, n_audio = writers.build_zip(s, [p.call_id for p, _ in picks], settings().data_dir, tz(), notes)
        audit(s, int(current_user.id), "export", "sample", sample_id, calls=len(picks), recordings=n_audio)
        name = f"sample-{smp.team}-{smp.week}-{smp.id}.zip"
    return send_file(fh, mimetype="application/zip", as_attachment=True, download_name=name)


@bp.get("/samples/<int:sample_id>.csv")
@roles_required(*MANAGERS)
def sample_csv(sample_id: int) -> Any:
    with transaction(sessions()) as s:
        _, picks = _picks_or_404(s, sample_id)
        rows = {r.id: r for r in search.load_rows(s, [p.call_id for p, _ in picks])}
        audit(s, int(current_user.id), "export", "sample_csv", sample_id, calls=len(picks))
    lines = [(rows[p.call_id], [p.detail, name]) for p, name in picks if p.call_id in rows]
    return Response(
        "".join(writers.csv_lines(lines, tz(), ["抽检原因", "质检员"])),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename=sample-{sample_id}.csv"},
    )


@bp.get("/my")
@roles_required()
def my_picks() -> Any:
    me = int(current_user.id)
    with transaction(sessions()) as s:
        picks = store_sampling.my_picks(s, me)
        rows = {r.id: r for r in search.load_rows(s, [p.call_id for p in picks])}
        cals = [c for c in calibration.list_calibrations(s) if me in (c.reviewer_ids or [])]
    return render_template("workspace/my.html", picks=picks, rows=rows, cals=cals)
