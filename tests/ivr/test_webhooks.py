"""The webhooks with signed requests against a real SQLite store."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from sqlalchemy import func, select

from hotline.settings import Settings
from ivr.simulate import Action, Simulator
from store.models import Call, CallbackRequest, CallEvent
from store.models_pipeline import Recording

from .helpers import CLOSED, SignedClient, sign

SID = "CA" + "ab" * 16
FROM = "+8613812345678"

pytestmark = pytest.mark.usefixtures("fixed_clock")  # agents on duty (tests/ivr/conftest.py)


def call_row(app: Any, sid: str = SID) -> Call:
    with app.extensions["hotline"]["sessions"]() as s:
        call = s.scalars(select(Call).where(Call.call_sid == sid)).one()
        call.events  # noqa: B018 - load while the session is open
        return call


def events(app: Any, sid: str = SID) -> list[CallEvent]:
    with app.extensions["hotline"]["sessions"]() as s:
        call = s.scalars(select(Call).where(Call.call_sid == sid)).one()
        return list(s.scalars(select(CallEvent).where(CallEvent.call_id == call.id).order_by(CallEvent.id)))


def gather_action(body: bytes) -> str:
    g = ET.fromstring(body).find("Gather")
    assert g is not None
    return str(g.get("action"))


def start(tw: SignedClient) -> str:
    r = tw.post("/ivr/voice", {"CallSid": SID, "From": FROM, "CallStatus": "ringing"})
    assert r.status_code == 200 and r.mimetype == "application/xml"
    return gather_action(r.data)


def test_full_call_is_recorded(app: Any, tw: SignedClient) -> None:
    action = start(tw)
    r = tw.post(action, {"CallSid": SID, "From": FROM, "Digits": "2"})
    r = tw.post(gather_action(r.data), {"CallSid": SID, "From": FROM, "SpeechResult": "退款进度", "Confidence": "0.92"})
    assert "退款进度查询" in r.get_data(as_text=True)
    r = tw.post(gather_action(r.data), {"CallSid": SID, "From": FROM, "Digits": "9"})
    r = tw.post(gather_action(r.data), {"CallSid": SID, "From": FROM, "Digits": "4"})
    assert ET.fromstring(r.data).find("Hangup") is not None
    tw.post("/ivr/status", {"CallSid": SID, "From": FROM, "CallStatus": "completed", "CallDuration": "61"})
    call = call_row(app)
    assert call.caller_masked == "+86138****5678" and FROM not in str(call.flow_state)
    assert call.menu_path == ["main", "payment", "payment.refund", "survey", "goodbye"]
    assert call.outcome == "self-service" and call.survey_score == 4
    assert call.status == "completed" and call.duration_s == 61.0 and call.ended_at is not None
    kinds = [e.kind for e in events(app)]
    for kind in ("start", "dtmf", "speech", "route", "node", "survey", "status"):
        assert kind in kinds
    speech = next(e for e in events(app) if e.kind == "speech")
    assert speech.detail == {"text": "退款进度", "confidence": 0.92}


def test_forged_or_missing_signature_is_403_and_not_logged(
    app: Any, tw: SignedClient, caplog: pytest.LogCaptureFixture
) -> None:
    c = app.test_client()
    form = {"CallSid": SID, "From": FROM}
    caplog.set_level(logging.INFO)
    assert c.post("/ivr/voice", data=form).status_code == 403
    bad = sign("http://localhost/ivr/voice", form, "wrong-token")
    assert c.post("/ivr/voice", data=form, headers={"X-Twilio-Signature": bad}).status_code == 403
    good = sign("http://localhost/ivr/voice", form)
    tampered = {**form, "From": "+8613900000000"}
    assert c.post("/ivr/voice", data=tampered, headers={"X-Twilio-Signature": good}).status_code == 403
    for path in ("/ivr/gather?s=1", "/ivr/status", "/ivr/recording", "/ivr/fallback", "/ivr/after", "/ivr/hold"):
        assert c.post(path, data=form).status_code == 403, path
    assert FROM not in caplog.text and "13900000000" not in caplog.text and "refused" in caplog.text
    with app.extensions["hotline"]["sessions"]() as s:
        assert s.scalar(select(func.count()).select_from(Call)) == 0


def test_signature_behind_a_proxy(settings: Settings) -> None:
    from hotline.app import create_app

    app = create_app(settings.with_(public_url="https://ivr.example.com"))
    c = app.test_client()
    form = {"CallSid": SID, "From": FROM}
    local = sign("http://localhost/ivr/voice", form)
    assert c.post("/ivr/voice", data=form, headers={"X-Twilio-Signature": local}).status_code == 403
    public = sign("https://ivr.example.com/ivr/voice", form)
    assert c.post("/ivr/voice", data=form, headers={"X-Twilio-Signature": public}).status_code == 200
    app.extensions["hotline"]["engine"].dispose()


def test_retried_webhooks_are_idempotent(app: Any, tw: SignedClient) -> None:
    action = start(tw)
    again = tw.post("/ivr/voice", {"CallSid": SID, "From": FROM, "CallStatus": "ringing"})
    assert gather_action(again.data) == action
    first = tw.post(action, {"CallSid": SID, "From": FROM, "Digits": "2"})
    n_events = len(events(app))
    retry = tw.post(action, {"CallSid": SID, "From": FROM, "Digits": "2"})
    assert retry.data == first.data and len(events(app)) == n_events
    assert call_row(app).flow_state["node"] == "payment"
    stale = tw.post(action.replace("s=1", "s=0"), {"CallSid": SID, "From": FROM, "Digits": "5"})
    assert stale.data == first.data and call_row(app).flow_state["node"] == "payment"
    for _ in range(2):
        tw.post("/ivr/status", {"CallSid": SID, "CallStatus": "completed", "CallDuration": "5"})
    assert [e.kind for e in events(app)].count("status") == 1
    with app.extensions["hotline"]["sessions"]() as s:
        assert s.scalar(select(func.count()).select_from(Call)) == 1


def test_recording_stored_once_and_hook_called(app: Any, tw: SignedClient) -> None:
    start(tw)
    seen: list[tuple[int, int]] = []
    app.extensions["hotline"]["ivr"].on_recording = lambda call_id, rec_id: seen.append((call_id, rec_id))
    form = {
        "CallSid": SID,
        "RecordingSid": "RE" + "cd" * 16,
        "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1",
        "RecordingStatus": "completed",
        "RecordingDuration": "42",
        "RecordingChannels": "2",
    }
    for _ in range(3):
        assert tw.post("/ivr/recording", form).status_code == 200
    with app.extensions["hotline"]["sessions"]() as s:
        recs = s.scalars(select(Recording)).all()
        assert len(recs) == 1 and recs[0].channels == 2 and recs[0].duration_s == 42.0
        rec_id = recs[0].id
    call = call_row(app)
    assert call.recording_sid == form["RecordingSid"] and call.recording_url == form["RecordingUrl"]
    assert seen and set(seen) == {(call.id, rec_id)}
    assert [e.kind for e in events(app)].count("recording") == 1


def test_recording_hook_failure_asks_twilio_to_retry(app: Any, tw: SignedClient) -> None:
    def boom(call_id: int, rec_id: int) -> None:
        raise RuntimeError("queue down")

    app.extensions["hotline"]["ivr"].on_recording = boom
    form = {
        "CallSid": SID,
        "RecordingSid": "RE" + "ef" * 16,
        "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE2",
        "RecordingStatus": "completed",
    }
    assert tw.post("/ivr/recording", form).status_code == 503
    with app.extensions["hotline"]["sessions"]() as s:
        assert s.scalar(select(func.count()).select_from(Recording)) == 1  # stored before the hook


def test_callback_request_stored_outside_hours(app: Any, tw: SignedClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ivr.webhooks._now", lambda: CLOSED)
    action = start(tw)
    r = tw.post(action, {"CallSid": SID, "From": FROM, "Digits": "0"})
    assert "休息时间" in r.get_data(as_text=True)
    r = tw.post(gather_action(r.data), {"CallSid": SID, "From": FROM, "Digits": "1"})
    assert ET.fromstring(r.data).find("Hangup") is not None
    with app.extensions["hotline"]["sessions"]() as s:
        cb = s.scalars(select(CallbackRequest)).one()
        assert cb.number == FROM and cb.skill == "general" and cb.status == "open"
    assert call_row(app).outcome == "callback"


def test_transfer_then_survey(app: Any, tw: SignedClient) -> None:
    action = start(tw)
    r = tw.post(action, {"CallSid": SID, "From": FROM, "Digits": "0"})
    enq = ET.fromstring(r.data).find("Enqueue")
    assert enq is not None
    assert call_row(app).skill == "general" and call_row(app).outcome == "transferred"
    r = tw.post(str(enq.get("action")), {"CallSid": SID, "QueueResult": "bridged"})
    assert "评价" in r.get_data(as_text=True)
    r = tw.post(gather_action(r.data), {"CallSid": SID, "Digits": "5"})
    assert call_row(app).survey_score == 5 and call_row(app).outcome == "transferred"


def test_abandoned_call(app: Any, tw: SignedClient) -> None:
    start(tw)
    tw.post("/ivr/status", {"CallSid": SID, "CallStatus": "completed", "CallDuration": "3"})
    assert call_row(app).outcome == "abandoned"


@pytest.mark.parametrize(
    ("path", "form", "code"),
    [
        ("/ivr/voice", {}, 400),  # no CallSid
        ("/ivr/voice", {"CallSid": "x"}, 400),
        ("/ivr/voice", {"CallSid": "CA<script>"}, 400),
        ("/ivr/gather?s=1", {"From": FROM}, 400),
        ("/ivr/recording", {"CallSid": SID}, 400),  # no RecordingSid
        ("/ivr/recording", {"CallSid": SID, "RecordingSid": "RE1", "RecordingUrl": "javascript:x"}, 400),
        ("/ivr/status", {}, 400),
    ],
)
def test_bad_input_is_4xx(tw: SignedClient, path: str, form: dict[str, str], code: int) -> None:
    assert tw.post(path, form).status_code == code


def test_keys_outside_the_menu_get_a_spoken_retry(app: Any, tw: SignedClient) -> None:
    action = start(tw)
    r = tw.post(action, {"CallSid": SID, "Digits": "8"})
    assert r.status_code == 200 and "没有听懂" in r.get_data(as_text=True)
    r = tw.post(gather_action(r.data), {"CallSid": SID, "Digits": "ABC\x00"})  # junk: no input
    assert r.status_code == 200 and "没有收到" in r.get_data(as_text=True)
    r = tw.post(gather_action(r.data), {"CallSid": SID, "SpeechResult": "x" * 5000, "Confidence": "abc"})
    assert r.status_code == 200 and ET.fromstring(r.data).find("Enqueue") is not None  # third failure: agent


def test_unknown_callsid_starts_over(app: Any, tw: SignedClient) -> None:
    r = tw.post("/ivr/gather?s=7&n=payment", {"CallSid": "CA" + "99" * 16, "Digits": "3"})
    assert r.status_code == 200 and "重新开始" in r.get_data(as_text=True)
    assert call_row(app, "CA" + "99" * 16).flow_state["node"] == "main"


def test_corrupt_state_starts_over(app: Any, tw: SignedClient) -> None:
    action = start(tw)
    with app.extensions["hotline"]["sessions"]() as s:
        call = s.scalars(select(Call)).one()
        call.flow_state = {"node": "no.such.node", "seq": 1}
        s.commit()
    r = tw.post(action, {"CallSid": SID, "Digits": "2"})
    assert r.status_code == 200 and "重新开始" in r.get_data(as_text=True)


def test_oversized_and_binary_bodies(app: Any) -> None:
    c = app.test_client()
    big = c.post(
        "/ivr/voice", data=b"CallSid=" + b"A" * (2 * 1024 * 1024), content_type="application/x-www-form-urlencoded"
    )
    assert big.status_code in (403, 413)
    blob = bytes(range(256)) * 10
    r = c.post("/ivr/gather", data=blob, content_type="application/octet-stream")
    assert 400 <= r.status_code < 500


def test_oversized_signed_body_is_413(app: Any) -> None:
    c = app.test_client()
    form = {"CallSid": SID, "SpeechResult": "话" * 600_000}
    r = c.post(
        "/ivr/gather?s=1", data=form, headers={"X-Twilio-Signature": sign("http://localhost/ivr/gather?s=1", form)}
    )
    assert r.status_code == 413


def test_fallback_apologises_and_transfers(app: Any, tw: SignedClient) -> None:
    r = tw.post("/ivr/fallback", {"CallSid": SID, "From": FROM, "ErrorCode": "11200"})
    root = ET.fromstring(r.data)
    assert r.status_code == 200 and root.find("Enqueue") is not None
    assert "系统暂时遇到问题" in (root.find("Say").text or "")  # type: ignore[union-attr]
    assert "fallback" in [e.kind for e in events(app)]


def test_internal_error_still_answers_with_speech(app: Any, tw: SignedClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*a: Any, **k: Any) -> Any:
        raise RuntimeError("database gone")

    monkeypatch.setattr("store.calls.get_or_create_call", broken)
    monkeypatch.setattr("store.callrows.CallRows.begin", broken)
    r = tw.post("/ivr/voice", {"CallSid": SID, "From": FROM})
    assert r.status_code == 200 and ET.fromstring(r.data).find("Enqueue") is not None
    r = tw.post("/ivr/status", {"CallSid": SID, "CallStatus": "completed"})
    assert r.status_code == 503


def test_simulator_over_the_test_client(tw: SignedClient) -> None:
    sim = Simulator("http://localhost", "test-token", post=tw.poster())
    res = sim.run([Action("press", "2"), Action("press", "3")])
    assert res.ok and "payment.refund" in res.nodes and res.end == "hang-up"


def test_without_a_token_only_the_local_dev_token_signs(settings: Settings) -> None:
    from hotline.app import create_app
    from hotline.settings import Secret
    from ivr.auth import auth_token

    app = create_app(settings.with_(twilio_auth_token=Secret("")))
    token = auth_token("", settings.data_dir, create=False)
    assert len(token) == 32 and (settings.data_dir / "dev-twilio-auth-token").stat().st_mode & 0o077 == 0
    c = app.test_client()
    form = {"CallSid": SID, "From": FROM}
    empty = sign("http://localhost/ivr/voice", form, "")
    assert c.post("/ivr/voice", data=form, headers={"X-Twilio-Signature": empty}).status_code == 403
    dev = sign("http://localhost/ivr/voice", form, token)
    assert c.post("/ivr/voice", data=form, headers={"X-Twilio-Signature": dev}).status_code == 200
    app.extensions["hotline"]["engine"].dispose()


def plug_router(menu: Any) -> Any:
    """A router of our own: everything goes to 会员 > PLUS."""
    from ivr.routing import RouteResult

    return lambda text, node: RouteResult("member.plus", 0.99)


def test_router_plugged_in_by_the_composition_root(settings: Settings) -> None:
    from dataclasses import replace

    from hotline.app import create_app, load_parts

    parts = load_parts(settings.with_(ivr_router="keywords"))
    app = create_app(settings, parts=replace(parts, ivr=replace(parts.ivr, router=plug_router(parts.ivr.menu))))
    tw = SignedClient(app.test_client())
    action = start(tw)
    r = tw.post(action, {"CallSid": SID, "SpeechResult": "随便说点什么", "Confidence": "0.9"})
    assert "PLUS会员权益" in r.get_data(as_text=True)
    app.extensions["hotline"]["engine"].dispose()


@pytest.mark.scaleout
def test_a_call_on_postgresql(settings: Settings, pg_url: str) -> None:
    from hotline.app import create_app

    app = create_app(settings.with_(database_url=pg_url))
    tw = SignedClient(app.test_client())
    sim = Simulator("http://localhost", "test-token", post=tw.poster())
    res = sim.run([Action("say", "我要退款"), Action("say", "退款进度"), Action("press", "9"), Action("press", "5")])
    assert res.ok and "payment.refund" in res.nodes
    with app.extensions["hotline"]["sessions"]() as s:
        call = s.scalars(select(Call)).one()
        assert call.survey_score == 5 and call.outcome == "self-service" and call.status == "completed"
    retry = tw.post("/ivr/status", {"CallSid": sim.call_sid, "CallStatus": "completed"})
    assert retry.status_code == 200
    app.extensions["hotline"]["engine"].dispose()


def test_live_calls_transfer_answers_start_a_freshly_signed_live_stream(settings: Settings) -> None:
    """HOTLINE_LIVE_CALLS: the transfer is rendered with its live stream (no rewrite of sent XML);
    the stored answer stays unsigned and a retried request gets a stream of its own."""
    from hotline.app import create_app
    from ivr.stream.signing import check_signature

    app = create_app(settings.with_(live_calls=True))
    tw = SignedClient(app.test_client())
    try:
        action = start(tw)
        first = tw.post(action, {"CallSid": SID, "From": FROM, "Digits": "0"}).get_data(as_text=True)
        again = tw.post(action, {"CallSid": SID, "From": FROM, "Digits": "0"}).get_data(as_text=True)
        for body in (first, again):
            root = ET.fromstring(body)
            stream = root.find("Start/Stream")
            assert stream is not None and stream.get("track") == "both_tracks"
            assert list(root).index(root.find("Start")) < list(root).index(root.find("Enqueue"))
            params = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
            assert params["topic"] and params["team"] == "general"
            import time

            assert check_signature("test-token", SID, "live", params, time.time()) == ""
        nonce = [dict(ET.fromstring(b).find("Start/Stream").items()) for b in (first, again)]  # type: ignore[union-attr]
        assert nonce[0]["url"].endswith("/ivr/stream")
        assert first != again  # the retry names a new stream (new nonce), same answer otherwise
        stored = call_row(app).flow_state["_last"]["twiml"]
        assert 'name="sig" value=""' in stored  # what is kept for retries carries no signature
    finally:
        app.extensions["hotline"]["engine"].dispose()
