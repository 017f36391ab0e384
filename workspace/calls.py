"""The call list (filters, sort, full-text search, pages) and one call's page with its recording."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, render_template, request, send_file, url_for
from flask_login import current_user

from store import search, users
from store.audit import audit, audited_since
from store.db import transaction
from workspace import inputs, present
from workspace.auth import MANAGERS, REVIEWERS, roles_required
from workspace.web import sessions, settings, tz

bp = Blueprint("calls", __name__)

LISTEN_WINDOW = timedelta(minutes=10)  # a user's listens to one call within this are logged once
MAX_PAGE = 100_000


def _local_day(args: Any, key: str, label: str) -> datetime | None:
    d = inputs.day(args, key, label)
    return None if d is None else datetime(d.year, d.month, d.day, tzinfo=ZoneInfo(tz()))


def parse_filter(args: Any) -> search.CallFilter:
    """Query string -> CallFilter; dates are local days (end inclusive). Bad numbers or dates
    raise InputError (400), they are not silently dropped."""
    end = _local_day(args, "to", "结束日期")
    reviewed = {"yes": True, "no": False}.get(args.get("reviewed", ""))
    page = inputs.whole(args, "page", "页码", 1, MAX_PAGE) or 1
    per_page = min(200, max(10, inputs.whole(args, "per_page", "每页条数", 1, 10_000) or 50))
    sort = args.get("sort", "-started_at") if args.get("sort", "").lstrip("-") in search.SORTS else "-started_at"
    after = None
    if sort.lstrip("-") in search.KEYSET_SORTS:
        after = inputs.cursor(args, "after", "time" if sort.lstrip("-") == "started_at" else "number")
    return search.CallFilter(
        start=_local_day(args, "from", "开始日期"),
        end=end + timedelta(days=1) if end else None,
        agent=args.get("agent", "").strip(),
        team=args.get("team", "").strip(),
        menu=args.get("menu", "").strip(),
        outcome=args.get("outcome", "").strip(),
        score_min=inputs.number(args, "score_min", "最低分", 0, 100),
        score_max=inputs.number(args, "score_max", "最高分", 0, 100),
        sentiment=args.get("sentiment", ""),
        flags=[f for f in args.getlist("flag") if f in search.FLAGS],
        q=args.get("q", "").strip()[:100],
        reviewed=reviewed,
        sort=sort,
        page=page,
        per_page=per_page,
        after=after,
    )


@bp.get("/calls")
@roles_required()
def calls() -> Any:
    f = parse_filter(request.args)
    with transaction(sessions()) as s:
        page = search.list_calls(s, f)
        choices = {k: _choices(s, k) for k in ("agent", "team", "outcome")}
    args = request.args.to_dict(flat=False)

    def url_with(**changes: Any) -> str:
        a = {k: list(v) for k, v in args.items() if k != "after"}  # a cursor belongs to one page only
        for k, v in changes.items():
            a[k] = [inputs.cursor_text(v) if k == "after" else str(v)]
        return (
            url_for("workspace.calls.calls")
            + "?"
            + "&".join(f"{k}={quote(str(x), safe='')}" for k, vs in a.items() for x in vs if x != "")
        )

    return render_template(
        "workspace/calls.html", page=page, f=f, choices=choices, url_with=url_with, args=request.args
    )


_CHOICES: dict[tuple[int, str], tuple[float, list[str]]] = {}
CHOICES_TTL_S = 120.0


def _choices(s: Any, column: str) -> list[str]:
    """Drop-down values (agents, teams, outcomes), cached briefly: they change rarely, cost a scan."""
    key = (id(current_app._get_current_object()), column)  # type: ignore[attr-defined]
    hit = _CHOICES.get(key)
    now = time.monotonic()
    if hit is None or now - hit[0] > CHOICES_TTL_S:
        hit = (now, search.distinct_values(s, column))
        _CHOICES[key] = hit
    return hit[1]


@bp.get("/calls/<int:call_id>")
@roles_required()
def call_page(call_id: int) -> Any:
    with transaction(sessions()) as s:
        d = search.call_detail(s, call_id)
        if d is None:
            abort(404)
        audit(s, int(current_user.id), "view", "call", call_id)
        events = [
            {"kind": e.kind, "node": e.node, "at": e.at, "detail": e.detail}
            for e in d.call.events
            if e.kind in ("node", "dtmf", "speech", "transfer", "survey")
        ]
        reviewers = users.list_users(s, roles=["qa", "admin"])
        names = users.user_names(s)
    items = present.clean_items(d.score.items) if d.score else {}
    details = dict(d.score.details or {}) if d.score else {}
    lines = present.transcript_lines(d.transcript.data if d.transcript else None, items, details)
    caller_ch = settings().caller_channel
    return render_template(
        "workspace/call.html",
        d=d,
        items=items,
        details=details,
        lines=lines,
        events=events,
        series=present.sentiment_series(details),
        metrics=present.metrics_rows(details),
        channel_labels=["客户", "客服"] if caller_ch == 0 else ["客服", "客户"],
        reviewers=reviewers,
        users=names,
        can_review=current_user.role in REVIEWERS,
        can_dispute=current_user.role in MANAGERS,
    )


@bp.get("/calls/<int:call_id>/audio")
@roles_required()
def audio(call_id: int) -> Any:
    """The recording with HTTP range support (seeking). A listen is audited when the file is read
    from its start (the player's and the waveform's requests), once per user and call in 10 min."""
    data_dir = settings().data_dir.resolve()
    with transaction(sessions()) as s:
        rec = search.recording_for(s, call_id)
        if rec is None:
            abort(404)
        path = (data_dir / rec.audio_path).resolve()
        if data_dir not in path.parents or not path.is_file():
            abort(404)
        rng = request.headers.get("Range", "")
        me = int(current_user.id)
        since = datetime.now(ZoneInfo("UTC")) - LISTEN_WINDOW
        if (not rng or rng.startswith("bytes=0-")) and not audited_since(s, me, "listen", "call", call_id, since):
            audit(s, me, "listen", "call", call_id, recording=rec.id)
    mime = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".flac": "audio/flac"}.get(
        path.suffix.lower(), "application/octet-stream"
    )
    resp = send_file(path, mimetype=mime, conditional=True, max_age=0)
    resp.headers["Accept-Ranges"] = "bytes"
    return resp
