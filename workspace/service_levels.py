"""运营指标: the hotline's service levels for supervisors — any date range, per team/skill and per
hour with the targets drawn as red lines, the menu funnel, live figures refreshed without reloading,
the 回访 follow-ups of low surveys, and the weekly/monthly report (page and Excel).

The figures come from ``app.extensions["hotline"]["service_levels"]`` (composed in
``hotline.service_levels`` from ``store.kpi`` and ``kpi.definitions``); this module reads inputs
and renders.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import Blueprint, Response, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from workspace import inputs
from workspace.auth import MANAGERS, roles_required

bp = Blueprint("service", __name__)
MAX_DAYS = 366


def _levels() -> Any:
    return current_app.extensions["hotline"]["service_levels"]


def _period() -> tuple[date, date]:
    today = _levels().today()
    start = inputs.day(request.args, "from", "开始日期") or today
    end = inputs.day(request.args, "to", "结束日期") or start
    if end < start:
        raise inputs.InputError("结束日期不能早于开始日期。")
    if (end - start).days >= MAX_DAYS:
        raise inputs.InputError(f"一次最多查看 {MAX_DAYS} 天。")
    return start, end


@bp.get("/service")
@roles_required(*MANAGERS)
def service() -> Any:
    start, end = _period()
    team = inputs.text(request.args, "team", "班组", 64)
    skill = inputs.text(request.args, "skill", "技能组", 64)
    s = _levels().summary(start, end, team=team, skill=skill)
    return render_template(
        "workspace/service.html",
        s=s,
        start=start,
        end=end,
        team=team,
        skill=skill,
        live=_levels().live(),
        presets=_presets(_levels().today()),
    )


def _presets(today: date) -> list[tuple[str, date, date]]:
    monday = today - timedelta(days=today.weekday())
    first = today.replace(day=1)
    return [
        ("今天", today, today),
        ("昨天", today - timedelta(days=1), today - timedelta(days=1)),
        ("本周", monday, today),
        ("近7天", today - timedelta(days=6), today),
        ("本月", first, today),
        ("近30天", today - timedelta(days=29), today),
    ]


@bp.get("/service/live")
@roles_required(*MANAGERS)
def live() -> Any:
    """Now: callers in the IVR, waiting in the queue, the longest current wait (polled by the page)."""
    lv = _levels().live()
    return jsonify(in_ivr=lv.in_ivr, waiting=lv.waiting, longest_wait_s=lv.longest_wait_s)


@bp.get("/service/followups")
@roles_required(*MANAGERS)
def followups() -> Any:
    state = request.args.get("state", "")
    if state not in ("", "open", "overdue", "done"):
        raise inputs.InputError("状态须为 open、overdue 或 done。")
    rows, counts = _levels().followups(state)
    return render_template("workspace/followups.html", rows=rows, counts=counts, state=state)


@bp.post("/service/followups/<int:followup_id>/done")
@roles_required(*MANAGERS)
def followup_done(followup_id: int) -> Any:
    note = inputs.text(request.form, "note", "备注", 500)
    if not _levels().finish_followup(followup_id, by=current_user.name, note=note):
        return render_template("workspace/error.html", code=404, message="没有找到该回访任务。"), 404
    flash("已标记为完成。")
    return redirect(url_for("workspace.service.followups", state=request.form.get("state", "")))


def _report_period() -> tuple[str, date, date, date, date]:
    from workspace.service_period import parse_report_period

    return parse_report_period(request.args.get("week", ""), request.args.get("month", ""), _levels().today())


@bp.get("/service/report")
@roles_required(*MANAGERS)
def report() -> Any:
    """周报/月报 as a printable page."""
    title, start, end, p_start, p_end = _report_period()
    team = inputs.text(request.args, "team", "班组", 64)
    cur = _levels().summary(start, end, team=team)
    prev = _levels().summary(p_start, p_end, team=team)
    return render_template(
        "workspace/service_report.html", title=title, cur=cur, prev=prev, team=team, args=request.args
    )


@bp.get("/service/report.xlsx")
@roles_required(*MANAGERS)
def report_xlsx() -> Any:
    from kpi.report import workbook_bytes

    title, start, end, p_start, p_end = _report_period()
    team = inputs.text(request.args, "team", "班组", 64)
    body = workbook_bytes(title, _levels().summary(start, end, team=team), _levels().summary(p_start, p_end, team=team))
    name = f"hotline-{start.isoformat()}-{end.isoformat()}.xlsx"
    return Response(
        body,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
