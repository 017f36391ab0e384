"""The supervisors' live board: every live call with agent, team, duration, the customer's
sentiment trend and the alerts as they come; one call's transcript as it grows.

The calls come from the app's live board (``live``, set by the composition root), reached
through the `LiveFeed` protocol: the workspace does not import the live package. Updates are
server-sent events: the response blocks on its queue (no polling loop); each open page holds one
server thread, so the feed caps them (HOTLINE_LIVE_MAX_VIEWERS) and answers 503 beyond.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from flask import Blueprint, Response, abort, current_app, render_template

from workspace.auth import MANAGERS, roles_required

bp = Blueprint("live", __name__)

SID = re.compile(r"^[A-Za-z]{2}[A-Za-z0-9]{1,62}$")


class LiveFeed(Protocol):
    def snapshot(self) -> list[dict[str, Any]]: ...
    def detail(self, call_sid: str) -> dict[str, Any] | None: ...
    def stream(self, call_sid: str | None = None) -> Iterator[str] | None: ...


def _feed() -> LiveFeed | None:
    feed: LiveFeed | None = current_app.extensions["hotline"].get("live")
    return feed


@bp.get("/live")
@roles_required(*MANAGERS)
def board() -> Any:
    feed = _feed()
    return render_template("workspace/live.html", calls=feed.snapshot() if feed else [], enabled=feed is not None)


@bp.get("/live/<call_sid>")
@roles_required(*MANAGERS)
def call(call_sid: str) -> Any:
    feed = _feed()
    if feed is None or not SID.match(call_sid):
        abort(404)
    detail = feed.detail(call_sid)
    if detail is None:
        abort(404)
    link: Callable[[str], str] | None = current_app.extensions["hotline"].get("live_assist_link")
    return render_template("workspace/live_call.html", call=detail, assist=link(call_sid) if link else "")


@bp.get("/live/events")
@roles_required(*MANAGERS)
def board_events() -> Response:
    return _events(None)


@bp.get("/live/<call_sid>/events")
@roles_required(*MANAGERS)
def call_events(call_sid: str) -> Response:
    if not SID.match(call_sid):
        abort(404)
    return _events(call_sid)


def _events(call_sid: str | None) -> Response:
    feed = _feed()
    if feed is None:
        abort(404)
    body = feed.stream(call_sid)
    if body is None:
        return Response("同时打开的实时页面过多，请稍后再试\n", status=503, mimetype="text/plain")
    resp = Response(body, mimetype="text/event-stream")
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Accel-Buffering"] = "no"
    return resp
