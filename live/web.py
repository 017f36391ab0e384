"""The live calls' own HTTP side: the agent assist page (a signed link per call) and the events API.

- ``/live/assist/<call>?exp=&sig=``: what the agent on that call sees: the transcript as it
  grows, the script items still missing, answer snippets for the customer's request. The link is
  signed with the app's secret key (HMAC of call and expiry): no account needed, good for one call.
- ``/live/assist/<call>/events?exp=&sig=``: the same page's server-sent events.
- ``/live/calls/<call>/events``: the call's stored events as JSON, for ``hotline live replay
  --json`` and tools; signed like Twilio's requests (``X-Twilio-Signature`` over the URL with the
  auth token), because only the holder of the token may read transcripts this way.

The board itself is the workspace's (``workspace.live``, supervisors). Both push with server-sent
events: the response blocks on its queue (no polling); each open page holds one server thread,
so their number is capped (``HOTLINE_LIVE_MAX_VIEWERS``) and each stream ends after
``SSE_MAX_S`` (the browser's EventSource reconnects by itself).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request

from live.board import LiveBoard
from live.knowledge import KnowledgeIndex

bp = Blueprint("live", __name__, url_prefix="/live", template_folder="templates")

SID = re.compile(r"^[A-Za-z]{2}[A-Za-z0-9]{1,62}$")
ASSIST_TTL_S = 4 * 3600


@dataclass
class LiveWeb:
    """What the pages need, set by the composition root."""

    board: LiveBoard
    secret: str
    token: str
    validate: Callable[[str, str], bool]  # (url, X-Twilio-Signature) -> valid
    knowledge: Callable[[], KnowledgeIndex | None]
    topic_words: dict[str, str]  # menu node -> words of that request (routing topic)


def _ctx() -> LiveWeb:
    ctx: LiveWeb | None = current_app.extensions["hotline"].get("live_web")
    if ctx is None:
        abort(404, description="实时通话未开启（HOTLINE_LIVE_CALLS）")
    return ctx


# ------------------------------------------------------------------ signed agent links
def assist_sig(secret: str, call_sid: str, exp: int) -> str:
    return hmac.new(secret.encode(), f"assist:{call_sid}:{exp}".encode(), hashlib.sha256).hexdigest()[:32]


def assist_link(secret: str, call_sid: str, now: float | None = None, ttl_s: int = ASSIST_TTL_S) -> str:
    """The agent's page for one call (relative URL), valid ``ttl_s``."""
    exp = int((time.time() if now is None else now) + ttl_s)
    return f"/live/assist/{call_sid}?exp={exp}&sig={assist_sig(secret, call_sid, exp)}"


def _check_assist(ctx: LiveWeb, call_sid: str) -> None:
    exp_raw, sig = request.args.get("exp", ""), request.args.get("sig", "")
    if not SID.match(call_sid) or not exp_raw.isdigit() or len(exp_raw) > 12:
        abort(404)
    if not hmac.compare_digest(assist_sig(ctx.secret, call_sid, int(exp_raw)), sig):
        abort(403, description="链接无效")
    if int(exp_raw) < time.time():
        abort(403, description="链接已过期")


def snippets(ctx: LiveWeb, detail: dict[str, Any], k: int = 3) -> list[dict[str, Any]]:
    """Answer snippets for the customer's request: the topic's words and their latest turns."""
    index = ctx.knowledge()
    if index is None:
        return []
    said = [t["text"] for t in detail.get("transcript", []) if t.get("speaker") == "customer"][-3:]
    query = " ".join([ctx.topic_words.get(str(detail.get("topic_id", "")), ""), *said])
    return [s.to_dict() for s in index.search(query, k)]


@bp.get("/assist/<call_sid>")
def assist(call_sid: str) -> Any:
    ctx = _ctx()
    _check_assist(ctx, call_sid)
    detail = ctx.board.detail(call_sid) or {"call_sid": call_sid, "status": "waiting", "transcript": [], "missing": []}
    return render_template(
        "live/assist.html",
        call=detail,
        snippets=snippets(ctx, detail),
        events_url=f"/live/assist/{call_sid}/events?{request.query_string.decode()}",
    )


@bp.get("/assist/<call_sid>/events")
def assist_events(call_sid: str) -> Response:
    ctx = _ctx()
    _check_assist(ctx, call_sid)

    def extra(event: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        if event.get("type") == "turn" and event.get("speaker") == "customer":
            detail = ctx.board.detail(call_sid) or {}
            return [("snippets", {"snippets": snippets(ctx, detail)})]
        return []

    return event_stream(ctx.board, call_sid, extra)


def event_stream(
    board: LiveBoard,
    call_sid: str | None,
    extra: Callable[[dict[str, Any]], list[tuple[str, dict[str, Any]]]] | None = None,
) -> Response:
    """Server-sent events of one call (or all): a snapshot first, then each event as it comes."""
    body = board.stream(call_sid, extra)
    if body is None:
        return Response("too many live pages open (HOTLINE_LIVE_MAX_VIEWERS)\n", status=503, mimetype="text/plain")
    return sse_response(body)


def sse_response(body: Iterator[str]) -> Response:
    resp = Response(body, mimetype="text/event-stream")
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return resp


# ------------------------------------------------------------------ the events API (signed)
@bp.get("/calls/<call_sid>/events")
def call_events(call_sid: str) -> Any:
    """The call's kept events in order (``?after=SEQ`` for the ones after), and whether it ended."""
    ctx = _ctx()
    if not SID.match(call_sid):
        abort(404)
    full_path = request.full_path if request.query_string else request.path
    if not ctx.validate(full_path, request.headers.get("X-Twilio-Signature", "")):
        return Response("forbidden: bad or missing X-Twilio-Signature\n", status=403, mimetype="text/plain")
    after_raw = request.args.get("after", "0")
    if not after_raw.isdigit() or len(after_raw) > 9:
        abort(400, description="after: a sequence number")
    from store.live import call_events as stored

    events = stored(current_app.extensions["hotline"]["sessions"], call_sid, int(after_raw))
    detail = ctx.board.detail(call_sid)
    status = detail["status"] if detail else ("ended" if any(e.get("type") == "end" for e in events) else "unknown")
    return jsonify(call_sid=call_sid, status=status, events=events)
