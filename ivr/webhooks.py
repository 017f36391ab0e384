"""Twilio's voice webhooks: the flow engine at the edge of HTTP and the store.

Each request: check the signature, read the call's state by CallSid, take one flow step,
write state and events in one short transaction, answer TwiML. A retried request (same
CallSid and step number) gets the stored answer again, so nothing is applied twice.
Logs carry CallSids and node ids only, never digits, speech or phone numbers.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from twilio.request_validator import RequestValidator

from ivr import queue_outcome
from ivr.auth import auth_token
from ivr.caller_text import mask_number
from ivr.callstate import record_first_step, record_step, state_of
from ivr.config import IVR_EXTENSION, ROUTERS, IvrSettings
from ivr.flow import Flow
from ivr.flow_types import Event, State, Step
from ivr.hours import Hours, load_hours
from ivr.menu import Menu, load_menu
from ivr.recording_url import AllowedHost, RecordingUrlError
from ivr.recording_url import check as check_recording_url
from ivr.routing import SpeechRouter
from ivr.signature import refuse_unsigned
from ivr.twiml import LiveMode, StreamMode, StreamSpec, Urls, render, render_empty, render_fallback, render_hold
from store import calls as repo
from store.callrows import CallRows
from store.db import transaction
from store.numbers import NumberError, parse_finite
from store.writer import writer_lock

log = logging.getLogger(__name__)

bp = Blueprint("ivr", __name__, url_prefix="/ivr")
EXTENSION = IVR_EXTENSION

SID_RE = re.compile(r"^[A-Za-z]{2}[A-Za-z0-9]{1,62}$")
TERMINAL_STATUSES = ("completed", "busy", "failed", "no-answer", "canceled")
# Twilio's CallStatus values in the order a call goes through them: a status only moves forward,
# so a late or replayed "ringing" cannot undo "completed" (and one end cannot replace another).
STATUS_RANK = {"queued": 0, "initiated": 1, "ringing": 2, "in-progress": 3, **dict.fromkeys(TERMINAL_STATUSES, 4)}
MAX_CALL_S = 24 * 3600.0  # Twilio's longest call (timeLimit) is 24 h
TWIML = "application/xml"


RecordingHook = Callable[[int, int], None]  # (call id, recording id) -> None, e.g. the pipeline's admit


@dataclass(frozen=True)
class IvrParts:
    """What the IVR loads from its data files at start: a broken file stops start-up, never a call.

    Loaded once per server (`load_parts`); ``hotline serve --processes N`` shares them by fork.
    """

    menu: Menu
    hours: Hours
    router: SpeechRouter | None  # None: the menu's keywords


@dataclass
class IvrContext:
    """What the webhooks share: the flow engine, rendering options and the request validator."""

    flow: Flow
    validator: RequestValidator
    sessions: sessionmaker[Session]
    engine: Engine
    rows: CallRows  # the hot path's statements (new call, step, status)
    public_url: str = ""
    validate_signatures: bool = True
    agent_dial: str = ""
    voice: str = ""
    urls: Urls = field(default_factory=Urls)
    recording_hosts: tuple[AllowedHost, ...] = ()  # HOTLINE_RECORDING_HOSTS, besides Twilio's API host
    timezone: str = "Asia/Shanghai"  # the hotline's hours and days (service-level facts)
    service_level_s: float = 20.0  # answered within this many seconds (service-level facts)
    writing: Callable[[], AbstractContextManager[Any]] = contextlib.nullcontext  # SQLite: `store.writer`
    streams: StreamMode | None = None  # HOTLINE_STREAM_MODE (set by ivr.stream.routes.register)
    live: LiveMode | None = None  # HOTLINE_LIVE_CALLS: transfers stream both tracks (set there too)
    on_recording: RecordingHook | None = None  # a stored recording goes on (the pipeline), set by the app

    def answer(self, step: Step, *, opening: bool = False) -> str:
        """The step as TwiML, in the stream mode's form if there is one (``opening``: the call's first
        answer, which opens the stream with empty parameters: `opened` signs them per response)."""
        spec = self.streams.spec(request.host_url, opening=opening) if self.streams else None
        live = self.live.spec(request.host_url) if self.live and step.action == "transfer" else None
        return render(step, urls=self.urls, voice=self.voice, agent_dial=self.agent_dial, stream=spec, live=live)

    def opened(self, twiml: str, call_sid: str) -> str:
        """A first answer as sent: each response, a retried one too, signs a new stream."""
        twiml = self.streams.sign(twiml, call_sid) if self.streams else twiml
        return self.sent(twiml, call_sid)

    def sent(self, twiml: str, call_sid: str) -> str:
        """Any answer as sent: a live stream it starts gets freshly signed parameters."""
        return self.live.sign(twiml, call_sid) if self.live else twiml


def load_parts(settings: IvrSettings) -> IvrParts:
    """Read and check the menu, the hours and the router's data (MenuError, HoursError, RouterError)."""
    menu = load_menu(settings.menu_path)
    hours = load_hours(settings.hours_path, default_tz=settings.timezone)
    return IvrParts(menu, hours, build_router(settings.router, menu))


def register(
    app: Flask,
    settings: IvrSettings,
    *,
    engine: Engine,
    sessions: sessionmaker[Session],
    parts: IvrParts | None = None,
    shared: bool = False,
) -> IvrContext:
    """Mount the webhooks with their context (``parts``: already loaded, else loaded here;
    ``shared``: other processes of this server write to the same database)."""
    parts = parts or load_parts(settings)
    token = auth_token(settings.twilio_auth_token, settings.data_dir)
    if not settings.twilio_auth_token:
        log.warning(
            "HOTLINE_TWILIO_AUTH_TOKEN is not set: webhooks accept only requests signed with the local "
            "development token (hotline simulate); set it before pointing a Twilio number here"
        )
    if not settings.validate_signatures:
        log.warning("HOTLINE_VALIDATE_SIGNATURES=false: webhook signatures are NOT checked")
    repo.background_checkpoints(engine)
    ctx = IvrContext(
        flow=Flow(parts.menu, parts.hours, parts.router),
        validator=RequestValidator(token),
        sessions=sessions,
        engine=engine,
        rows=CallRows(engine),
        public_url=settings.public_url,
        validate_signatures=settings.validate_signatures,
        agent_dial=settings.agent_dial,
        voice=parts.menu.voice,
        recording_hosts=settings.recording_hosts,
        timezone=settings.timezone,
        service_level_s=settings.service_level_s,
        writing=writer_lock(engine, processes=shared),
    )
    app.extensions[EXTENSION] = ctx
    app.register_blueprint(bp)
    return ctx


class RouterError(ValueError):
    """HOTLINE_IVR_ROUTER cannot be built for this menu; the server refuses to start."""


def build_router(choice: str, menu: Menu) -> SpeechRouter | None:
    """``model``: the trained router (ivr/route_data), checked against the menu; ``keywords``: None
    (the flow routes by the menu's own keywords)."""
    if choice == "keywords":
        return None
    if choice != "model":
        raise RouterError(f"HOTLINE_IVR_ROUTER: expected {' or '.join(ROUTERS)}, got {choice!r}")
    from ivr.route import make_router  # the trained model: loaded only when chosen

    try:
        return make_router(menu)
    except (ValueError, OSError) as exc:
        raise RouterError(
            f"HOTLINE_IVR_ROUTER=model: {exc} (retrain with .venv/bin/python scripts/train_router.py "
            "after a menu change, or set HOTLINE_IVR_ROUTER=keywords to route by the menu's keywords only)"
        ) from exc


def context(app: Flask) -> IvrContext:
    """The IVR's context on this app (`register` put it there)."""
    ctx = app.extensions.get(EXTENSION)
    if not isinstance(ctx, IvrContext):
        raise RuntimeError("ivr.webhooks.register has not run on this app")
    return ctx


def _ctx() -> IvrContext:
    ctx: IvrContext = current_app.extensions[EXTENSION]
    return ctx


def _xml(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype=TWIML)


bp.before_request(refuse_unsigned)
queue_outcome.install(bp)  # queue and dial outcomes, hang-ups and the service-level facts


def _call_sid() -> str:
    sid = request.form.get("CallSid", "")
    if not SID_RE.match(sid):
        abort(400, description="CallSid missing or malformed")
    return sid


def _seq() -> int | None:
    raw = request.args.get("s", "")
    return int(raw) if raw.isdigit() and len(raw) < 9 else None


def _input_event() -> Event:
    digits = request.form.get("Digits", "")
    speech = request.form.get("SpeechResult", "")
    if digits:
        clean = "".join(c for c in digits if c in "0123456789*#")[:40]
        return Event("digits", digits=clean) if clean else Event("no_input")
    if speech.strip():
        conf = _number("Confidence", 0.0, 1.0)  # "nan", "inf", "7": no confidence given
        return Event("speech", text=speech.strip()[:500], confidence=conf)
    return Event("no_input")


def _number(name: str, lo: float, hi: float) -> float | None:
    """A numeric form field, or None when absent or bad (not finite, out of range): logged, never stored.

    Twilio's numbers (durations, channels, confidence) describe a callback whose main content
    (a status, speech, a recording) is still worth keeping, so a bad one is ignored, not refused.
    """
    raw = request.form.get(name, "")
    if not raw:
        return None
    try:
        return parse_finite(raw, lo=lo, hi=hi, name=name)
    except NumberError:
        log.warning(
            "ivr: call %s: %s ignored: not a finite number in %g..%g",
            request.form.get("CallSid", "-")[:64],
            name,
            lo,
            hi,
        )
        return None


def _now() -> datetime:
    return datetime.now(UTC)


def advance(kind: str, event_of: Callable[[], Event]) -> Response:
    """One flow step for this call, exactly once per request: the body of /gather and /after, and
    of the streams' redirect targets (``kind`` keys the request; ``event_of()`` makes its event)."""
    ctx = _ctx()
    sid = _call_sid()
    seq = _seq()
    key = f"{kind}:{sid}:{seq}"
    form = request.form
    with ctx.writing(), ctx.rows.begin() as tx:
        call, _ = tx.load_or_create(sid, caller_masked=mask_number(form.get("From", "")))
        state = _state_of(call.flow_state)
        last = call.flow_state.get("_last") or {}
        if state is not None and last.get("key") == key:
            return _xml(ctx.sent(str(last.get("twiml")), sid))  # a retry of the request we last answered
        if state is not None and seq is not None and seq != state.seq and last.get("twiml"):
            log.info("ivr: call %s stale step %s (now %s): repeating the last answer", sid, seq, state.seq)
            return _xml(ctx.sent(str(last["twiml"]), sid))
        now = _now()
        if state is None:
            log.info("ivr: call %s unknown or unreadable at /%s: starting over", sid, kind)
            step = ctx.flow.step(None, Event("start"), now=now)
            restart = ctx.flow.msg("restart")
            step = Step((restart, *step.say[1:]), step.state, step.action, step.gather, notes=step.notes)
        else:
            step = ctx.flow.step(state, event_of(), now=now)
        twiml = ctx.answer(step)
        record_step(tx, call, step, key, twiml=twiml, caller=form.get("From", ""))
    log.info("ivr: call %s step %s -> %s (%s)", sid, seq, step.node, step.action)
    return _xml(ctx.sent(twiml, sid))


def _state_of(data: dict[str, Any] | None) -> State | None:
    return state_of(data, _ctx().flow.menu)


@bp.post("/voice")
def voice() -> Response:
    """A call starts: create its record and answer with the welcome and the main menu.

    A new call is one INSERT with its first state (the welcome does not depend on the store), then
    its events; a call that exists already (a retry, or a status callback came first) is read.
    """
    ctx = _ctx()
    sid = _call_sid()
    key = f"voice:{sid}"
    form = request.form
    step = ctx.flow.step(None, Event("start"), now=_now())
    twiml = ctx.answer(step, opening=True)
    caller, masked = form.get("From", ""), mask_number(form.get("From", ""))
    with ctx.writing(), ctx.rows.begin() as tx:
        if record_first_step(tx, sid, step, key, twiml=twiml, caller_masked=masked, caller=caller) is None:
            call, _ = tx.load_or_create(sid, caller_masked=masked)
            last = call.flow_state.get("_last") or {}
            if last.get("twiml"):
                return _xml(ctx.opened(str(last["twiml"]), sid))  # Twilio retried, or re-fetched the voice URL
            record_step(tx, call, step, key, twiml=twiml, caller=caller)
    log.info("ivr: call %s started", sid)
    return _xml(ctx.opened(twiml, sid))


@bp.post("/gather")
def gather() -> Response:
    """The caller pressed keys, spoke, or stayed silent (actionOnEmptyResult)."""
    return advance("gather", _input_event)


@bp.post("/after")
def after() -> Response:
    """The <Dial>/<Enqueue> leg ended: survey after a conversation, callback offer if it failed."""

    def event() -> Event:
        status = request.form.get("DialCallStatus") or request.form.get("QueueResult") or "completed"
        return Event("transfer_end", text=status[:32])

    return advance("after", event)


@bp.post("/hold")
def hold() -> Response:
    """The queue's waitUrl: a hold message; Twilio repeats it until an agent answers."""
    ctx = _ctx()
    return _xml(render_hold(ctx.flow.msg("hold"), voice=ctx.voice))


@bp.post("/status")
def status() -> Response:
    """Call status callback: end time, duration and final outcome (abandoned if nothing else)."""
    ctx = _ctx()
    sid = _call_sid()
    call_status = request.form.get("CallStatus", "")[:32]
    if call_status and call_status not in STATUS_RANK:
        abort(400, description=f"CallStatus must be one of {', '.join(STATUS_RANK)}")
    parent = request.form.get("ParentCallSid", "")
    key = f"status:{sid}:{call_status}"
    with ctx.writing(), ctx.rows.begin() as tx:
        if parent and SID_RE.match(parent):  # the agent leg of a <Dial>: note it on the caller's call
            pid = tx.call_id(parent)
            if pid is not None and not tx.seen_key(pid, key):
                tx.save_step(pid, {}, [("agent-leg", "", {"status": call_status})], request_key=key)
            return _xml(render_empty())
        call, _ = tx.load_or_create(sid, caller_masked=mask_number(request.form.get("From", "")))
        if tx.seen_key(call.id, key):
            return _xml(render_empty())
        detail: dict[str, Any] = {"status": call_status}
        if call_status and STATUS_RANK[call_status] <= STATUS_RANK.get(call.status, -1):
            detail["ignored"] = f"after {call.status}"  # late or replayed: the call never moves backwards
            tx.save_step(call.id, {}, [("status", "", detail)], request_key=key)
            log.info("ivr: call %s status %s ignored (already %s)", sid, call_status, call.status)
            return _xml(render_empty())
        values: dict[str, Any] = {"status": call_status} if call_status else {}
        if call_status in TERMINAL_STATUSES:
            state = _state_of(call.flow_state)
            outcome = call.outcome or "abandoned"
            if state is not None:
                end = ctx.flow.step(state, Event("hangup"), now=_now())
                outcome = end.outcome or outcome
                values["flow_state"] = {**end.state.to_dict(), "_last": call.flow_state.get("_last")}
            duration = _number("CallDuration", 0.0, MAX_CALL_S)
            if duration is not None:
                values["duration_s"] = duration
            values["outcome"] = call.outcome or outcome
            values["ended_at"] = tx.ended_at(call.id)
            detail["outcome"] = values["outcome"]
        tx.save_step(call.id, values, [("status", "", detail)], request_key=key)
    log.info("ivr: call %s status %s", sid, call_status)
    return _xml(render_empty())


@bp.post("/recording")
def recording() -> Response:
    """Recording status callback: store it once per RecordingSid, then hand it to the pipeline hook.

    The URL must be one the pipeline may fetch (``ivr.recording_url``): a refused one stores no
    recording and marks the call failed with the reason. A RecordingSid already stored for
    another call is refused (409) instead of re-pointing this call at someone else's audio.
    """
    ctx = _ctx()
    sid = _call_sid()
    rec_sid = request.form.get("RecordingSid", "")
    if not SID_RE.match(rec_sid):
        abort(400, description="RecordingSid missing or malformed")
    rec_status = request.form.get("RecordingStatus", "completed")[:32]
    raw_url = request.form.get("RecordingUrl", "")
    url = ""
    if raw_url or rec_status == "completed":
        try:
            url = check_recording_url(raw_url, ctx.recording_hosts)
        except RecordingUrlError as exc:
            return _refuse_recording(sid, rec_sid, rec_status, str(exc))
    key = f"recording:{rec_sid}:{rec_status}"
    ref = None
    try:
        with ctx.writing(), transaction(ctx.sessions) as session:
            call, _ = repo.get_or_create_call(session, sid)
            if rec_status == "completed":
                channels = _number("RecordingChannels", 1, 2)
                ref = repo.save_recording(
                    session,
                    call,
                    recording_sid=rec_sid,
                    url=url,
                    duration_s=_number("RecordingDuration", 0.0, MAX_CALL_S),
                    channels=int(channels) if channels is not None and channels.is_integer() else 0,
                )
            if not repo.seen_request(session, call, key):
                event = ("recording", "", {"sid": rec_sid, "status": rec_status})
                repo.add_events(session, call, [event], request_key=key)
    except repo.RecordingConflict:
        log.warning("ivr: call %s recording %s refused: the RecordingSid belongs to another call", sid, rec_sid)
        return Response("RecordingSid belongs to another call\n", status=409, mimetype="text/plain")
    log.info("ivr: call %s recording %s %s", sid, rec_sid, rec_status)
    hook = ctx.on_recording
    if ref is not None and hook is not None:
        try:
            hook(ref.call_id, ref.recording_id)
        except Exception:
            log.exception("ivr: on_recording hook failed for call %s recording %s", sid, rec_sid)
            return Response("recording stored; processing could not be queued, retry\n", status=503)
    return _xml(render_empty())


def _refuse_recording(sid: str, rec_sid: str, rec_status: str, reason: str) -> Response:
    """A RecordingUrl we will not fetch: nothing stored but the refusal, which the call shows.

    A call that already has a recording keeps its state (a stray callback cannot fail it).
    """
    ctx = _ctx()
    with ctx.writing(), transaction(ctx.sessions) as session:
        call, _ = repo.get_or_create_call(session, sid)
        if not call.recording_sid and call.pipeline_state in ("", "failed"):
            call.pipeline_state, call.pipeline_error = "failed", f"recording refused: {reason}"
        key = f"recording:{rec_sid}:{rec_status}:refused"
        if not repo.seen_request(session, call, key):
            event = ("recording", "", {"sid": rec_sid, "status": "refused"})
            repo.add_events(session, call, [event], request_key=key)
    log.warning("ivr: call %s recording %s refused: RecordingUrl not allowed", sid, rec_sid)
    return Response(f"RecordingUrl refused: {reason}\n", status=400, mimetype="text/plain")


@bp.route("/fallback", methods=["GET", "POST"])
def fallback() -> Response:
    """Twilio's fallback URL (our primary answer failed): apologise and transfer, never silence.

    Works without the store, since the store may be what failed; the event is noted if possible.
    """
    ctx = _ctx()
    sid = request.form.get("CallSid", "")
    twiml = _fallback_twiml(ctx)
    if SID_RE.match(sid):
        try:
            with ctx.writing(), transaction(ctx.sessions) as session:
                call, _ = repo.get_or_create_call(session, sid, caller_masked=mask_number(request.form.get("From", "")))
                call.outcome = call.outcome or "transferred"
                call.skill = call.skill or "general"
                code = request.form.get("ErrorCode", "")[:16]
                repo.add_events(session, call, [("fallback", "", {"error": code})], request_key=f"fallback:{sid}")
        except Exception:
            log.exception("ivr: fallback for call %s could not be recorded", sid)
    log.warning("ivr: fallback used for call %s", sid or "-")
    return _xml(ctx.sent(twiml, sid) if SID_RE.match(sid) else twiml)


def _fallback_twiml(ctx: IvrContext, stream: StreamSpec | None = None) -> str:
    """Apologise and transfer (the fallback URL, and any webhook that failed): needs no store."""
    live = ctx.live.spec(request.host_url) if ctx.live else None
    return render_fallback(
        ctx.flow.msg("fallback"),
        ctx.flow.msg("recording_notice"),
        urls=ctx.urls,
        voice=ctx.voice,
        agent_dial=ctx.agent_dial,
        stream=stream,
        live=live,
    )


@bp.errorhandler(Exception)
def _server_error(exc: Exception) -> Response:
    """Never silence: a caller-facing webhook that fails still apologises and transfers."""
    from werkzeug.exceptions import HTTPException

    if isinstance(exc, HTTPException):
        return _client_error(exc) if (exc.code or 500) < 500 else Response(str(exc), status=exc.code or 500)
    log.exception("ivr: %s failed", request.path)
    if request.path.rstrip("/").endswith(("/status", "/recording")):
        return Response("temporarily unavailable, retry\n", status=503, mimetype="text/plain")
    ctx = _ctx()
    path, sid = request.path.rstrip("/"), request.form.get("CallSid", "")
    opening = path == "/ivr/voice" and bool(SID_RE.match(sid))
    stream = None
    if ctx.streams and path in ("/ivr/voice", "/ivr/gather", "/ivr/after"):  # the answers a stream mode renders
        stream = ctx.streams.spec(request.host_url, opening=opening)
    twiml = _fallback_twiml(ctx, stream)
    if opening:
        return _xml(ctx.opened(twiml, sid))
    return _xml(ctx.sent(twiml, sid) if SID_RE.match(sid) else twiml)


@bp.errorhandler(400)
@bp.errorhandler(404)
@bp.errorhandler(405)
@bp.errorhandler(413)
def _client_error(exc: Any) -> Response:
    code = getattr(exc, "code", 400) or 400
    desc = getattr(exc, "description", "bad request")
    return Response(f"{desc}\n", status=code, mimetype="text/plain")
