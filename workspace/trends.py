"""Weekly trends: mean automatic score per team (or per agent of one team), the score histogram,
customer sentiment shares and the most failed scorecard items."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template, request

from store import search
from store import trends as store_trends
from store.db import transaction
from workspace import inputs
from workspace.auth import roles_required
from workspace.web import sessions, tz

bp = Blueprint("trends", __name__)


@bp.get("/trends")
@roles_required()
def trends() -> Any:
    weeks = min(52, inputs.whole(request.args, "weeks", "周数", 1, 520) or 8)
    team = request.args.get("team", "")
    zone = ZoneInfo(tz())
    today = datetime.now(zone).date()
    monday = today - timedelta(days=today.weekday())
    start_d = monday - timedelta(weeks=weeks - 1)
    start = datetime(start_d.year, start_d.month, start_d.day, tzinfo=zone)
    end = datetime(today.year, today.month, today.day, tzinfo=zone) + timedelta(days=1)
    with transaction(sessions()) as s:
        teams = search.distinct_values(s, "team")
        by = "agent" if team else "team"
        weekly = store_trends.weekly_scores(s, start, end, by=by, team=team)
        hist = store_trends.score_histogram(s, start, end, team)
        share = store_trends.sentiment_share(s, start, end, team)
        failed = [row for row in store_trends.failed_items(s, start, end, team) if row[1] > 0][:10]
        names = store_trends.item_names(s)
    week_labels = [store_trends.iso_week(start_d + timedelta(weeks=i)) for i in range(weeks)]
    return render_template(
        "workspace/trends.html",
        teams=teams,
        team=team,
        weeks=weeks,
        by=by,
        week_labels=week_labels,
        weekly=weekly,
        hist=hist,
        share=share,
        failed=[(names.get(k, k), n, seen) for k, n, seen in failed],
    )
