"""Queue and dial outcomes, hang-ups and the service-level facts from signed webhooks:
retried and out-of-order callbacks count once, hostile numbers are dropped, never stored."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from kpi.facts import CallFacts
from store.models import Call, CallEvent
from store.models_kpi import CallKpi, Followup

from .helpers import SignedClient

SID = "CA" + "cd" * 16
FROM = "+8613812345678"

pytestmark = pytest.mark.usefixtures("fixed_clock")


def _gather(body: bytes) -> str:
    g = ET.fromstring(body).find("Gather")
    assert g is not None
    return str(g.get("action"))


def _facts(app: Any, sid: str = SID) -> CallFacts:
    with app.extensions["hotline"]["sessions"]() as s:
        cid = s.scalars(select(Call.id).where(Call.call_sid == sid)).one()
        row = s.get(CallKpi, cid)
        assert row is not None, "no facts row"
        return CallFacts.from_row({c.name: getattr(row, c.name) for c in CallKpi.__table__.columns})


def _events(app: Any, kind: str, sid: str = SID) -> list[CallEvent]:
    with app.extensions["hotline"]["sessions"]() as s:
        cid = s.scalars(select(Call.id).where(Call.call_sid == sid)).one()
        return list(s.scalars(select(CallEvent).where(CallEvent.call_id == cid, CallEvent.kind == kind)))


def _to_queue(tw: SignedClient, sid: str = SID) -> str:
    r = tw.post("/ivr/voice", {"CallSid": sid, "From": FROM, "CallStatus": "ringing"})
    r = tw.post(_gather(r.data), {"CallSid": sid, "From": FROM, "Digits": "0"})
    enq = ET.fromstring(r.data).find("Enqueue")
    assert enq is not None
    return str(enq.get("action"))


def test_answered_call_with_a_low_survey(app: Any, tw: SignedClient) -> None:
    after = _to_queue(tw)
    f = _facts(app)  # the transfer already wrote the facts: the call is waiting
    assert f.offered and not f.answered and f.enqueued_at is not None
    r = tw.post(after, {"CallSid": SID, "QueueResult": "bridged", "QueueTime": "42", "QueueSid": "QU" + "0" * 32})
    assert "评价" in r.get_data(as_text=True)
    r2 = tw.post(after, {"CallSid": SID, "QueueResult": "bridged", "QueueTime": "42", "QueueSid": "QU" + "0" * 32})
    assert r2.data == r.data  # Twilio's retry: same answer
    tw.post(_gather(r.data), {"CallSid": SID, "Digits": "2"})
    tw.post("/ivr/status", {"CallSid": SID, "CallStatus": "completed", "CallDuration": "300"})
    tw.post("/ivr/status", {"CallSid": SID, "CallStatus": "completed", "CallDuration": "300"})
    assert len(_events(app, "queue-leg")) == 1
    f = _facts(app)
    assert f.answered and f.wait_s == 42.0 and f.leg_result == "bridged" and f.survey_score == 2 and f.ended
    assert f.talk_s is not None and 250 < f.talk_s <= 258  # 300 s less the wait and a few ms of IVR
    assert [n for n, _ in f.path] == ["main", "agent", "survey", "goodbye"]
    with app.extensions["hotline"]["sessions"]() as s:
        tasks = list(s.scalars(select(Followup)))
    assert len(tasks) == 1 and tasks[0].score == 2
    assert tasks[0].due_at - tasks[0].surveyed_at == timedelta(hours=48)


def test_caller_hangs_up_in_the_queue_status_first(app: Any, tw: SignedClient) -> None:
    after = _to_queue(tw)
    tw.post("/ivr/status", {"CallSid": SID, "CallStatus": "completed", "CallDuration": "80"})
    f = _facts(app)
    assert f.abandoned and not f.answered and f.wait_s is not None  # estimated until Twilio's figure comes
    tw.post(after, {"CallSid": SID, "QueueResult": "hangup", "QueueTime": "70"})
    f = _facts(app)
    assert f.abandoned and f.wait_s == 70.0 and f.hangup_node == ""


def test_hang_up_in_a_menu_is_where_the_caller_left(app: Any, tw: SignedClient) -> None:
    r = tw.post("/ivr/voice", {"CallSid": SID, "From": FROM, "CallStatus": "ringing"})
    tw.post(_gather(r.data), {"CallSid": SID, "Digits": "1"})
    for _ in range(2):  # retried
        tw.post("/ivr/status", {"CallSid": SID, "CallStatus": "completed", "CallDuration": "20"})
    assert len(_events(app, "caller-hangup")) == 1
    f = _facts(app)
    assert f.hangup_node == "order" and not f.contained and not f.offered and f.outcome == "abandoned"


def test_self_service_to_goodbye_is_contained(app: Any, tw: SignedClient) -> None:
    r = tw.post("/ivr/voice", {"CallSid": SID, "From": FROM, "CallStatus": "ringing"})
    r = tw.post(_gather(r.data), {"CallSid": SID, "Digits": "1"})
    r = tw.post(_gather(r.data), {"CallSid": SID, "Digits": "2"})  # order.modify: an answer
    r = tw.post(_gather(r.data), {"CallSid": SID, "Digits": "9"})  # nothing else: the survey
    r = tw.post(_gather(r.data), {"CallSid": SID, "Digits": "5"})  # goodbye, the IVR hangs up
    tw.post("/ivr/status", {"CallSid": SID, "CallStatus": "completed", "CallDuration": "40"})
    assert _events(app, "caller-hangup") == []
    f = _facts(app)
    assert f.contained and f.hangup_node == "" and f.survey_score == 5


@pytest.mark.parametrize("bad", ["nan", "-5", "1e99", "inf", "四十", "4" * 400])
def test_hostile_queue_numbers_are_dropped(app: Any, tw: SignedClient, bad: str) -> None:
    after = _to_queue(tw)
    r = tw.post(after, {"CallSid": SID, "QueueResult": "<script>", "QueueTime": bad})
    assert r.status_code == 200
    (leg,) = _events(app, "queue-leg")
    assert leg.detail == {"result": "unknown", "wait_s": None}


def test_dial_leg(settings: Any) -> None:
    from hotline.app import create_app

    app = create_app(settings.with_(agent_dial="+861012345678"))
    tw = SignedClient(app.test_client())
    try:
        r = tw.post("/ivr/voice", {"CallSid": SID, "From": FROM, "CallStatus": "ringing"})
        r = tw.post(_gather(r.data), {"CallSid": SID, "Digits": "0"})
        dial = ET.fromstring(r.data).find("Dial")
        assert dial is not None
        tw.post(str(dial.get("action")), {"CallSid": SID, "DialCallStatus": "completed", "DialCallDuration": "120"})
        f = _facts(app)
        assert f.answered and f.talk_s == 120.0 and f.leg_result == "completed"
    finally:
        app.extensions["hotline"]["engine"].dispose()
