"""Issue 12, webhook side: recording URLs, callbacks out of order, non-finite numbers, public URL, PII in events."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from hotline.settings import Settings
from store.models import Call, CallEvent
from store.models_pipeline import Recording

from .helpers import SignedClient

pytestmark = pytest.mark.usefixtures("fixed_clock")  # agents on duty (tests/ivr/conftest.py)

SID = "CA" + "12" * 16
OTHER = "CA" + "34" * 16
REC = "RE" + "56" * 16
TWILIO_URL = "https://api.twilio.com/2010-04-01/Accounts/AC" + "0" * 32 + "/Recordings/" + REC


def _rows(app: Any, model: Any) -> list[Any]:
    with app.extensions["hotline"]["sessions"]() as s:
        return list(s.scalars(select(model).order_by(model.id)))


def _call(app: Any, sid: str = SID) -> Call:
    with app.extensions["hotline"]["sessions"]() as s:
        return s.scalars(select(Call).where(Call.call_sid == sid)).one()


def _recording(url: str, sid: str = SID, rec: str = REC, **extra: str) -> dict[str, str]:
    return {"CallSid": sid, "RecordingSid": rec, "RecordingUrl": url, "RecordingStatus": "completed", **extra}


# --------------------------------------------------------------------------- 1. recording URLs

REFUSED_URLS = [
    "file:///etc/passwd",
    "file:///proc/self/environ",
    "/etc/passwd",  # a bare path
    "etc/passwd",
    "http://127.0.0.1:8000/ivr/voice",  # loopback
    "https://127.0.0.1/x.wav",
    "http://localhost/x.wav",
    "http://[::1]/x.wav",
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "https://10.0.0.5/r.wav",
    "https://example.com/r.wav",  # not Twilio, not listed
    "https://api.twilio.com.evil.example/2010-04-01/Accounts/AC1/Recordings/RE1",
    "https://user:pw@api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1",
    "http://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1",  # Twilio, but not https
    "https://api.twilio.com:8443/2010-04-01/Accounts/AC1/Recordings/RE1",
    "https://api.twilio.com/2010-04-01/Accounts/AC1/Calls.json",  # Twilio, but not a recording
    "https://api.twilio.com\\@127.0.0.1/2010-04-01/Accounts/AC1/Recordings/RE1",
    "ftp://api.twilio.com/x",
    "javascript:x",
    "",  # completed without a URL
]


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_signed_recording_callback_with_a_bad_url_stores_nothing_and_fails_the_call(
    app: Any, tw: SignedClient, url: str
) -> None:
    seen: list[tuple[int, int]] = []
    app.extensions["hotline"]["ivr"].on_recording = lambda c, r: seen.append((c, r))
    r = tw.post("/ivr/recording", _recording(url))
    assert r.status_code == 400 and "RecordingUrl" in r.get_data(as_text=True)
    assert _rows(app, Recording) == [] and seen == []
    call = _call(app)
    assert call.recording_url == "" and call.recording_sid == ""
    assert call.pipeline_state == "failed" and call.pipeline_error.startswith("recording refused: RecordingUrl")
    events = [e.detail for e in _rows(app, CallEvent) if e.kind == "recording"]
    assert events == [{"sid": REC, "status": "refused"}]


def test_twilio_recording_url_and_listed_hosts_are_accepted(settings: Settings) -> None:
    from hotline.app import create_app

    app = create_app(settings.with_(recording_hosts="media.example.com, http://127.0.0.1:8765"))
    tw = SignedClient(app.test_client())
    app.extensions["hotline"]["ivr"].on_recording = lambda c, r: None
    try:
        assert tw.post("/ivr/recording", _recording(TWILIO_URL)).status_code == 200
        ok = ["https://media.example.com/a/b.wav", "http://127.0.0.1:8765/c.wav"]
        for i, url in enumerate(ok):
            assert tw.post("/ivr/recording", _recording(url, sid=f"CA{i}x", rec=f"RE{i}x")).status_code == 200
        for i, url in enumerate(["http://media.example.com/a.wav", "http://127.0.0.1:8766/c.wav"]):  # scheme, port
            assert tw.post("/ivr/recording", _recording(url, sid=f"CA{i}y", rec=f"RE{i}y")).status_code == 400
        assert sorted(r.source_url for r in _rows(app, Recording)) == sorted([TWILIO_URL, *ok])
    finally:
        app.extensions["hotline"]["engine"].dispose()


def test_a_bad_url_later_does_not_fail_a_call_that_has_its_recording(app: Any, tw: SignedClient) -> None:
    app.extensions["hotline"]["ivr"].on_recording = lambda c, r: None
    assert tw.post("/ivr/recording", _recording(TWILIO_URL)).status_code == 200
    assert tw.post("/ivr/recording", _recording("file:///etc/passwd", rec="RE" + "78" * 16)).status_code == 400
    call = _call(app)
    assert call.recording_url == TWILIO_URL and call.pipeline_state != "failed"
    assert [r.recording_sid for r in _rows(app, Recording)] == [REC]


def test_bad_recording_hosts_setting_is_refused_at_start() -> None:
    from hotline.settings import SettingsError

    for bad in ("http://x.example/path", "ftp://x.example", "user@x.example", "x.example:99999"):
        with pytest.raises(SettingsError, match="HOTLINE_RECORDING_HOSTS"):
            Settings.from_env({"HOTLINE_RECORDING_HOSTS": bad})
    with pytest.raises(SettingsError, match="HOTLINE_RECORDING_MAX_MB"):
        Settings.from_env({"HOTLINE_RECORDING_MAX_MB": "0"})


# --------------------------------------------------------------------------- 9. out of order


def test_a_recording_sid_of_another_call_is_refused_not_repointed(app: Any, tw: SignedClient) -> None:
    app.extensions["hotline"]["ivr"].on_recording = lambda c, r: None
    assert tw.post("/ivr/recording", _recording(TWILIO_URL)).status_code == 200
    r = tw.post("/ivr/recording", _recording(TWILIO_URL, sid=OTHER))
    assert r.status_code == 409 and "another call" in r.get_data(as_text=True)
    assert _call(app).recording_sid == REC
    with app.extensions["hotline"]["sessions"]() as s:  # nothing of the refused callback was written
        assert s.scalars(select(Call).where(Call.call_sid == OTHER)).first() is None
    (rec,) = _rows(app, Recording)
    assert rec.call_id == _call(app).id


def test_status_only_moves_forward(app: Any, tw: SignedClient) -> None:
    tw.post("/ivr/voice", {"CallSid": SID, "From": "+8613800000000"})
    assert tw.post("/ivr/status", {"CallSid": SID, "CallStatus": "completed", "CallDuration": "30"}).status_code == 200
    for late in ("ringing", "in-progress", "busy", "queued"):
        assert tw.post("/ivr/status", {"CallSid": SID, "CallStatus": late, "CallDuration": "99"}).status_code == 200
    call = _call(app)
    assert call.status == "completed" and call.duration_s == 30.0 and call.outcome == "abandoned"
    ignored = [e.detail for e in _rows(app, CallEvent) if e.kind == "status" and "ignored" in e.detail]
    assert [d["status"] for d in ignored] == ["ringing", "in-progress", "busy", "queued"]
    # and forward it does move
    tw.post("/ivr/voice", {"CallSid": OTHER})
    tw.post("/ivr/status", {"CallSid": OTHER, "CallStatus": "ringing"})
    tw.post("/ivr/status", {"CallSid": OTHER, "CallStatus": "no-answer"})
    assert _call(app, OTHER).status == "no-answer"


def test_unknown_call_status_is_400(tw: SignedClient) -> None:
    r = tw.post("/ivr/status", {"CallSid": SID, "CallStatus": "rewound"})
    assert r.status_code == 400 and "CallStatus must be one of" in r.get_data(as_text=True)


# --------------------------------------------------------------------------- 2. numbers


@pytest.mark.parametrize("bad", ["inf", "-inf", "nan", "1e999", "-5", "9e9", "12abc", "0x10"])
def test_non_finite_numbers_are_never_stored(app: Any, tw: SignedClient, bad: str) -> None:
    app.extensions["hotline"]["ivr"].on_recording = lambda c, r: None
    tw.post("/ivr/voice", {"CallSid": SID})
    assert tw.post("/ivr/status", {"CallSid": SID, "CallStatus": "completed", "CallDuration": bad}).status_code == 200
    call = _call(app)
    assert call.status == "completed" and call.duration_s is None
    form = _recording(TWILIO_URL, RecordingDuration=bad, RecordingChannels=bad)
    assert tw.post("/ivr/recording", form).status_code == 200
    (rec,) = _rows(app, Recording)
    assert rec.duration_s is None and rec.channels == 0


def test_bad_confidence_is_no_confidence(app: Any, tw: SignedClient) -> None:
    from ivr.flow_types import Event

    seen: list[Event] = []
    flow = app.extensions["hotline"]["ivr"].flow
    real = flow.step

    def spy(state: Any, event: Event, **kw: Any) -> Any:
        seen.append(event)
        return real(state, event, **kw)

    flow.step = spy
    for i, conf in enumerate(("nan", "inf", "1.5", "-0.1", "0.5")):
        sid = f"CA{i}conf"
        r = tw.post("/ivr/voice", {"CallSid": sid})
        action = r.get_data(as_text=True).split('action="')[1].split('"')[0].replace("&amp;", "&")
        assert tw.post(action, {"CallSid": sid, "SpeechResult": "退款", "Confidence": conf}).status_code == 200
    assert [e.confidence for e in seen if e.kind == "speech"] == [None, None, None, None, 0.5]


def test_after_call_duration_inf_every_page_answers_200(app: Any, tw: SignedClient) -> None:
    from store import users as review
    from store.db import transaction

    with transaction(app.extensions["hotline"]["sessions"]) as s:
        review.create_user(s, "boss", "admin", "secret-boss-12")
    tw.post("/ivr/voice", {"CallSid": SID})
    tw.post("/ivr/status", {"CallSid": SID, "CallStatus": "completed", "CallDuration": "inf"})
    c = app.test_client()
    with c.session_transaction() as sess:
        sess["csrf_token"] = "t"
    login = {"name": "boss", "password": "secret-boss-12", "csrf_token": "t"}
    assert c.post("/qa/login", data=login).status_code == 302
    call_id = _call(app).id
    for page in ("/qa/", "/qa/calls", "/qa/calls.csv", f"/qa/calls/{call_id}", "/qa/trends", "/qa/my"):
        assert c.get(page, follow_redirects=True).status_code == 200, page


# --------------------------------------------------------------------------- 7. public URL


def test_a_real_token_without_a_public_url_refuses_to_start(settings: Settings) -> None:
    from hotline.app import create_app
    from hotline.settings import Secret, SettingsError

    with pytest.raises(SettingsError, match="HOTLINE_PUBLIC_URL"):
        create_app(settings.with_(public_url=""))
    dev = create_app(settings.with_(public_url="", twilio_auth_token=Secret("")))  # `make run` on a fresh machine
    dev.extensions["hotline"]["engine"].dispose()
    with pytest.raises(SettingsError, match="HOTLINE_PUBLIC_URL"):
        Settings.from_env({"HOTLINE_PUBLIC_URL": "ivr.example.com"})  # no scheme: not a base URL


def test_serve_says_which_setting_is_missing(tmp_path: Any) -> None:
    from click.testing import CliRunner

    from hotline.cli import cli

    env = {"HOTLINE_DATA_DIR": str(tmp_path), "HOTLINE_TWILIO_AUTH_TOKEN": "real-token", "HOTLINE_PUBLIC_URL": ""}
    result = CliRunner().invoke(cli, ["serve", "--port", "0", "--ws-port", "0"], env=env)
    assert result.exit_code != 0
    assert "refusing to start" in result.output and "HOTLINE_PUBLIC_URL" in result.output
    assert "real-token" not in result.output


def test_a_request_signed_for_another_host_is_refused(settings: Settings) -> None:
    from hotline.app import create_app

    from .helpers import sign

    app = create_app(settings.with_(public_url="https://ivr.example.com"))
    try:
        form = {"CallSid": SID}
        other = sign("https://other-app.example.com/ivr/voice", form)  # same account token, another app
        c = app.test_client()
        r = c.post("/ivr/voice", data=form, headers={"X-Twilio-Signature": other, "Host": "other-app.example.com"})
        assert r.status_code == 403
    finally:
        app.extensions["hotline"]["engine"].dispose()


# --------------------------------------------------------------------------- 5. PII in call events

SPOKEN = "13912345678"


def test_a_spoken_phone_number_is_nowhere_in_the_database(app: Any, tw: SignedClient) -> None:
    from ivr.simulate import Action, Simulator

    sim = Simulator("http://localhost", "test-token", caller="+8613800001111", post=tw.poster())
    res = sim.run(
        [
            Action("say", f"我的手机号是{SPOKEN}"),  # heard at the main menu (not understood)
            Action("say", "我手机是139 嗯 1234 嗯 5678"),  # read out with fillers
            Action("say", "一三九一二三四五六七八"),  # in Chinese numerals
            Action("press", "1"),  # order menu
        ]
    )
    assert res.requests > 3
    sim2 = Simulator("http://localhost", "test-token", caller="+8613800002222", post=tw.poster())
    sim2.run([Action("press", "11"), Action("press", "123456789012#"), Action("press", "1")])  # an order number

    engine = app.extensions["hotline"]["engine"]
    from sqlalchemy import MetaData

    meta = MetaData()
    meta.reflect(engine)
    dump: list[str] = []
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            for row in conn.execute(table.select()):
                dump.extend(json.dumps(v, ensure_ascii=False, default=str) for v in row)
    text = "\n".join(dump)
    for clear in (SPOKEN, "1234 嗯 5678", "一三九一二三四五六七八"):
        assert clear not in text
    speech = [e.detail["text"] for e in _rows(app, CallEvent) if e.kind == "speech"]
    assert speech[:3] == ["我的手机号是[电话]", "我手机是[电话]", "[电话]"]
    assert all("digits" not in e.detail for e in _rows(app, CallEvent) if e.kind == "dtmf")
    collected = [e.detail for e in _rows(app, CallEvent) if e.kind == "collected"]
    assert collected == [{"slot": "order_number", "value": "1234****9012"}]
