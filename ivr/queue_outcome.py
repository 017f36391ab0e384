"""What the service levels need from Twilio's callbacks, kept beside the webhooks without changing them.

Hooks on the webhook blueprint (`install`):

- before ``/ivr/after``: the ``<Enqueue>`` action's ``QueueResult`` and ``QueueTime`` or the
  ``<Dial>`` action's ``DialCallStatus`` and ``DialCallDuration``, stored as a ``queue-leg`` /
  ``dial-leg`` event once per request (a retry of the same step finds its key and adds nothing);
- before a final ``/ivr/status``: where the caller hung up, if the IVR had not ended the call
  (``caller-hangup`` with the node; the event's time is the hang-up time), once per call;
- once ``/ivr/after``, a final ``/ivr/status`` or any answer that transfers is final: the call's facts
  (``kpi.facts``) rebuilt from all its stored events, and a 回访 task for a survey below 4.

Rebuilding from all events is what makes retried and out-of-order callbacks harmless: the facts
depend on which events exist, not on the order they came in. A failure here is logged and never
changes the caller's answer (`hotline kpi --rebuild` recomputes every call's facts).
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, request, request_finished

from ivr.config import IVR_EXTENSION
from ivr.flow_types import State
from kpi.definitions import (
    LOW_SURVEY,
    SL_THRESHOLD_S,
    contribution,
    followup_due,
    funnel_marks,
    rollup_changes,
    stored_class,
)
from kpi.facts import DIAL_STATUSES, QUEUE_RESULTS, CallFacts, EventRow, facts_of
from store import kpi as kpi_store
from store.numbers import NumberError, parse_finite

if TYPE_CHECKING:
    from ivr.webhooks import IvrContext  # the webhooks import this module

log = logging.getLogger(__name__)

SID_RE = re.compile(r"^[A-Za-z]{2}[A-Za-z0-9]{1,62}$")
TERMINAL = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
MAX_S = 24 * 3600.0
_TRANSFERS = ("<Enqueue", "<Dial")
_WATCHED = frozenset({"/ivr/voice", "/ivr/gather", "/ivr/after", "/ivr/status", "/ivr/fallback"})


def install(bp: Blueprint) -> None:
    """Attach the hooks: before the view (after the blueprint's signature check, which runs first),
    and once the answer is final (Flask's ``request_finished``: no after_request hook, so nothing
    here can change what Twilio gets)."""
    bp.before_request(_before)
    name = bp.name

    def finished(_sender: Any, response: Response, **_extra: Any) -> None:
        if request.blueprint == name:
            _after(response)

    def connect(state: Any) -> None:
        request_finished.connect(finished, state.app, weak=False)

    bp.record_once(connect)


def _ctx() -> IvrContext:
    ctx: IvrContext = current_app.extensions[IVR_EXTENSION]
    return ctx


def _path() -> str:
    return request.path.rstrip("/")


def _sid() -> str:
    sid = request.form.get("CallSid", "")
    return sid if SID_RE.match(sid) else ""


def _seconds(name: str) -> float | None:
    raw = request.form.get(name, "")
    if not raw:
        return None
    try:
        return parse_finite(raw, lo=0.0, hi=MAX_S, name=name)
    except NumberError:
        log.warning("ivr: call %s: %s ignored: not a number of seconds", _sid() or "-", name)
        return None


def leg_of(form: Any) -> tuple[str, dict[str, Any]] | None:
    """The leg event (kind, detail) an ``/ivr/after`` request carries, or None."""
    if "QueueResult" in form:
        result = str(form.get("QueueResult", ""))[:32]
        return "queue-leg", {
            "result": result if result in QUEUE_RESULTS else "unknown",
            "wait_s": _seconds("QueueTime"),
        }
    if "DialCallStatus" in form:
        status = str(form.get("DialCallStatus", ""))[:32]
        return "dial-leg", {
            "status": status if status in DIAL_STATUSES else "unknown",
            "talk_s": _seconds("DialCallDuration"),
        }
    return None


def _before() -> None:
    path, sid = _path(), _sid()
    if not sid or request.method != "POST":
        return
    try:
        if path == "/ivr/after":
            _record_leg(sid)
        elif (
            path == "/ivr/status"
            and request.form.get("CallStatus", "") in TERMINAL
            and not request.form.get("ParentCallSid")
        ):
            _record_hangup(sid)
    except Exception:  # never in the caller's way: the facts can be rebuilt
        log.exception("ivr: call %s: service-level event not recorded at %s", sid, path)


def _record_leg(sid: str) -> None:
    leg = leg_of(request.form)
    if leg is None:
        return
    kind, detail = leg
    seq = request.args.get("s", "")
    key = f"leg:{sid}:{seq if seq.isdigit() and len(seq) < 9 else '-'}"
    ctx = _ctx()
    with ctx.writing(), ctx.rows.begin() as tx:
        call, _ = tx.load_or_create(sid)
        if tx.seen_key(call.id, key):
            return
        node = str(call.flow_state.get("node") or "")
        tx.save_step(call.id, {}, [(kind, node[:64], detail)], request_key=key)
    log.info("ivr: call %s %s %s", sid, kind, detail.get("result") or detail.get("status"))


def _record_hangup(sid: str) -> None:
    ctx = _ctx()
    key = f"hangup:{sid}"
    with ctx.writing(), ctx.rows.begin() as tx:
        call = tx.state(sid)
        if call is None or tx.seen_key(call.id, key):
            return
        cid = call.id
        data = call.flow_state or {}
        try:
            state = State.from_dict(data) if data.get("node") else None
        except (KeyError, TypeError, ValueError):
            state = None
        if state is None or state.phase == "ended":
            return  # the IVR ended the call (or never began it): not a caller's hang-up
        tx.save_step(cid, {}, [("caller-hangup", state.node[:64], {"phase": state.phase})], request_key=key)


def _after(resp: Response) -> Response:
    path = _path()
    if resp.status_code != 200 or request.method != "POST" or path not in _WATCHED:
        return resp  # before reading the form: a refused request's body is not parsed
    sid = _sid()
    if not sid:
        return resp
    final_status = path == "/ivr/status" and request.form.get("CallStatus", "") in TERMINAL
    transfers = path in ("/ivr/voice", "/ivr/gather", "/ivr/fallback") and any(
        t in resp.get_data(as_text=True) for t in _TRANSFERS
    )
    if path == "/ivr/status" and request.form.get("ParentCallSid"):
        final_status = False
    if not (path == "/ivr/after" or final_status or transfers):
        return resp
    try:
        refresh(sid)
    except Exception:
        log.exception("ivr: call %s: service-level facts not updated at %s", sid, path)
    return resp


def refresh(sid: str) -> None:
    """Rebuild one call's facts (and its 回访 task) from its stored row and events."""
    ctx = _ctx()
    kinds = {nid: node.kind for nid, node in ctx.flow.menu.nodes.items()}
    with ctx.writing(), ctx.engine.begin() as conn:
        cid = kpi_store.call_id_of(conn, sid)
        if cid is not None:
            refresh_call(conn, cid, kinds, tz=ZoneInfo(ctx.timezone), sl_threshold_s=ctx.service_level_s)


def refresh_call(
    conn: Any, call_id: int, node_kinds: dict[str, str], *, tz: ZoneInfo, sl_threshold_s: float = SL_THRESHOLD_S
) -> bool:
    """Rebuild the facts of one call on this connection (also used by `hotline kpi --rebuild`):
    the facts, their class for the sums (category, within the service level, local day and hour),
    the funnel rows, and a 回访 task for a survey below 4."""
    got = kpi_store.call_and_events(conn, call_id)
    if got is None:
        return False
    row, evs = got
    before = kpi_store.facts_row(conn, call_id)
    events = [EventRow(e["at"], e["kind"], e["node"] or "", e["detail"] or {}) for e in evs]
    facts = facts_of(row, events, node_kinds=node_kinds)
    values = {**facts.to_row(), **stored_class(facts, tz, sl_threshold_s)}
    marks = funnel_marks(facts)
    kpi_store.save_facts(conn, values, marks)
    new = (_hour(values), contribution(facts, values["category"], values["in_sl"]), marks)
    old = None
    if before is not None:  # the call's previous share, taken out of the rollups as the new one goes in
        prev = CallFacts.from_row(before)
        old = (_hour(before), contribution(prev, before["category"], bool(before["in_sl"])), funnel_marks(prev))
    for hour, sums, nodes in rollup_changes(old, new):
        kpi_store.add_to_rollups(conn, dict(zip(kpi_store.HOUR_KEYS, hour, strict=True)), sums, nodes)
    if facts.survey_score is not None and facts.survey_score < LOW_SURVEY and facts.surveyed_at is not None:
        kpi_store.ensure_followup(conn, call_id, facts.survey_score, facts.surveyed_at, followup_due(facts.surveyed_at))
    return True


def _hour(row: dict[str, Any]) -> tuple[str, int, str, str]:
    return (str(row["local_day"]), int(row["local_hour"]), str(row["team"] or ""), str(row["skill"] or ""))
