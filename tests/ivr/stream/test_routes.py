"""The stream layer inside the app: TwiML for each mode, the flask-sock route under a real
werkzeug server, the redirect targets re-entering the webhooks' flow, Mode 2 state in the store."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from hotline.settings import Secret, Settings
from ivr.stream.adapters import TwilioRedirector
from ivr.stream.replay import load_fixture, prepare, replay
from ivr.stream.signing import check_signature
from tests.ivr.helpers import SignedClient
from tests.ivr.stream.conftest import STREAMS, TOKEN, FakeTwilioHttp, always_open, ko_model_dir, write_ko_menu

CALL = "CA" + "7" * 32
ACCOUNT = "AC" + "7" * 32
BASE = "http://localhost"


@pytest.fixture
def served(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Any, str, FakeTwilioHttp]]:
    from werkzeug.serving import make_server

    from hotline.app import create_app

    settings = Settings(
        data_dir=tmp_path / "var",
        twilio_auth_token=Secret(TOKEN),
        public_url=BASE,
        twilio_account_sid=ACCOUNT,
        menu_path=write_ko_menu(tmp_path / "ko.yaml"),
        hours_path=always_open(tmp_path / "hours.yaml"),
        stream_mode=request.param,
        stream_model=str(ko_model_dir()),
    )
    app = create_app(settings)
    hub = app.extensions["hotline"]["stream"]
    # the app's own redirector (account SID, token, public URL from the settings) with the real
    # twilio.rest.Client; only its HTTP layer is fake, so the REST request itself is checked
    assert isinstance(hub.redirector, TwilioRedirector)
    http = FakeTwilioHttp()
    hub.redirector._client = http.client(ACCOUNT, TOKEN)
    for warm_up in [t for t in threading.enumerate() if t.name == "stream-warm-up"]:
        warm_up.join(180)  # the start-up work (model, Mode 2's prompts) runs in the background: wait for it here
    hub.engine()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"ws://127.0.0.1:{server.port}/ivr/stream", http
    server.shutdown()
    thread.join(5)
    app.extensions["hotline"]["engine"].dispose()


def wait_for(cond: Any, timeout: float = 8.0) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if got := cond():
            return got
        time.sleep(0.05)
    return cond()


def stream_params(twiml: str) -> dict[str, str]:
    """The ``<Parameter>``s of the TwiML's ``<Stream>``: what Twilio echoes in ``start.customParameters``."""
    import xml.etree.ElementTree as ET

    return {p.attrib["name"]: p.attrib["value"] for p in ET.fromstring(twiml).iter("Parameter")}


def stream_element(twiml: str) -> Any:
    import xml.etree.ElementTree as ET

    return next(ET.fromstring(twiml).iter("Stream"))


def flow_state(app: Any, call: str) -> dict[str, Any]:
    from store import calls as repo
    from store.db import transaction

    with transaction(app.extensions["hotline"]["sessions"]) as s:
        c = repo.get_call(s, call)
        return dict(c.flow_state or {}) if c is not None else {}


@pytest.mark.parametrize("served", ["1"], indirect=True)
def test_mode1_end_to_end(served: tuple[Any, str, FakeTwilioHttp]) -> None:
    app, url, redirector = served
    client = SignedClient(app.test_client())
    form = {"CallSid": CALL, "From": "+8613800000000"}
    voice = client.post("/ivr/voice", form).get_data(as_text=True)
    stream = stream_element(voice)
    assert stream.get("url") == "ws://localhost/ivr/stream" and stream.get("track") == "inbound_track"
    params = stream_params(voice)
    assert params["mode"] == "1" and check_signature(TOKEN, CALL, "1", params, time.time()) == ""
    assert int(params["exp"]) <= time.time() + 60  # good for a minute: Twilio connects at once
    assert 'input="dtmf"' in voice and "dtmf speech" not in voice  # speech goes to our recognizer
    assert voice.index("<Start>") < voice.index("<Gather")

    fx = load_fixture(STREAMS / "ko_delivery_mode1.jsonl")
    # Twilio echoes our <Parameter>s in ``start``; flask-sock under werkzeug
    replay(url, prepare(fx.messages, TOKEN, call_sid=CALL, params=params), speed=2.0)
    calls = wait_for(lambda: redirector.for_call(CALL))
    assert calls, app.extensions["hotline"]["stream"].stats
    assert len(calls) == 1  # one request heard, one REST call
    req = calls[0]
    assert req["method"] == "POST" and req["uri"].endswith(f"/Accounts/{ACCOUNT}/Calls/{CALL}.json")
    assert req["data"]["Method"] == "POST" and req["auth"] == (ACCOUNT, TOKEN)
    assert req["data"]["Url"].startswith(BASE + "/ivr/stream/speech?s=1&n=main&said=")
    target = req["data"]["Url"].removeprefix(BASE)
    # Twilio fetches the redirect URL: the webhooks' flow routes the request
    twiml = client.post(target, form).get_data(as_text=True)
    assert app.extensions["hotline"]["ivr"].flow.menu.node("logistics").prompt in twiml
    assert 'input="dtmf"' in twiml
    assert flow_state(app, CALL)["node"] == "logistics"
    # a retried redirect gets the same answer, not a second step
    assert client.post(target, form).get_data(as_text=True) == twiml
    # unsigned requests to the redirect targets are refused like every webhook
    assert app.test_client().post(target, data=form).status_code == 403


@pytest.mark.parametrize("served", ["1"], indirect=True)
def test_mode1_keys_still_work_and_transfer_stops_the_stream(served: tuple[Any, str, FakeTwilioHttp]) -> None:
    app, _, _ = served
    client = SignedClient(app.test_client())
    form = {"CallSid": CALL}
    client.post("/ivr/voice", form)
    twiml = client.post("/ivr/gather?s=1&n=main", {**form, "Digits": "5"}).get_data(as_text=True)
    assert "<Stop>" not in twiml and "<Start>" not in twiml and 'input="dtmf"' in twiml
    assert flow_state(app, CALL)["node"] == "logistics"
    twiml = client.post("/ivr/gather?s=2&n=logistics", {**form, "Digits": "1"}).get_data(as_text=True)
    assert "<Enqueue" in twiml and '<Stop><Stream name="nav" /></Stop>' in twiml
    assert twiml.index("<Stop>") < twiml.index("<Enqueue")


@pytest.mark.parametrize("served", ["1", "2"], indirect=True)
def test_a_failing_webhook_still_answers_for_the_mode(
    served: tuple[Any, str, FakeTwilioHttp], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The TwiML is rendered for the mode in the first place (no hook rewrites it afterwards), the
    apology-and-transfer of a failed webhook too: Mode 1 stops the stream before the agent, and a
    new call's first answer still names a freshly signed stream."""
    app, _, _ = served
    mode = app.extensions["hotline"]["settings"].stream_mode
    assert not [f for fs in app.after_request_funcs.values() for f in fs if f.__module__.startswith("ivr")]
    client = SignedClient(app.test_client())
    form = {"CallSid": CALL}
    client.post("/ivr/voice", form)

    def broken() -> Any:
        raise RuntimeError("the store went away")

    monkeypatch.setattr("ivr.webhooks._now", broken)
    twiml = client.post("/ivr/gather?s=1&n=main", {**form, "Digits": "5"}).get_data(as_text=True)
    assert "<Enqueue" in twiml and ('<Stop><Stream name="nav" /></Stop>' in twiml) == (mode == "1")
    other = "CA" + "8" * 32
    voice = client.post("/ivr/voice", {"CallSid": other}).get_data(as_text=True)
    assert check_signature(TOKEN, other, mode, stream_params(voice), time.time()) == ""
    assert ("<Connect>" in voice) == (mode == "2") and ("<Enqueue" in voice) == (mode == "1")


@pytest.mark.parametrize("served", ["1"], indirect=True)
def test_mode1_low_confidence_confirms(served: tuple[Any, str, FakeTwilioHttp]) -> None:
    app, _, _ = served
    client = SignedClient(app.test_client())
    form = {"CallSid": CALL}
    client.post("/ivr/voice", form)
    twiml = client.post("/ivr/stream/speech?s=1&n=main&said=배송&c=0.30", form).get_data(as_text=True)
    assert flow_state(app, CALL)["phase"] == "confirm"
    assert "1" in twiml and 'input="dtmf"' in twiml


@pytest.mark.parametrize("served", ["2"], indirect=True)
def test_mode2_end_to_end(served: tuple[Any, str, FakeTwilioHttp]) -> None:
    app, url, redirector = served
    client = SignedClient(app.test_client())
    form = {"CallSid": CALL}
    voice = client.post("/ivr/voice", form).get_data(as_text=True)
    params = stream_params(voice)
    assert "<Connect><Stream" in voice and check_signature(TOKEN, CALL, "2", params, time.time()) == ""
    assert "<Gather" not in voice and "/ivr/fallback" in voice  # a failed stream still reaches an agent

    fx = load_fixture(STREAMS / "keypress_mode2.jsonl")
    msgs = prepare(fx.messages, TOKEN, call_sid=CALL, params=params)
    for m in msgs:  # press 0 (agent) instead of 5
        if m["event"] == "dtmf":
            m["dtmf"]["digit"] = "0"
    res = replay(url, msgs, speed=1.0)
    assert res.events("media"), "the welcome prompt was played as audio"
    assert "clear" in [m["event"] for m in res.received]  # cut by the key
    calls = wait_for(lambda: redirector.for_call(CALL))
    assert calls and urlsplit(calls[0]["data"]["Url"]).path == "/ivr/stream/resume"
    state = flow_state(app, CALL)
    assert state["node"] == "agent" and state["phase"] == "transferred"
    twiml = client.post(calls[0]["data"]["Url"].removeprefix(BASE), form).get_data(as_text=True)
    assert "<Enqueue" in twiml


@pytest.mark.parametrize("served", ["1"], indirect=True)
def test_each_answer_signs_a_new_stream_of_the_configured_mode_only(served: tuple[Any, str, FakeTwilioHttp]) -> None:
    app, url, _ = served
    client = SignedClient(app.test_client())
    first = client.post("/ivr/voice", {"CallSid": CALL}).get_data(as_text=True)
    hub = app.extensions["hotline"]["stream"]
    fx = load_fixture(STREAMS / "keypress_mode2.jsonl")  # a Mode 2 stream, signed by us, on a Mode 1 server
    res = replay(url, prepare(fx.messages, TOKEN, call_sid=CALL), speed=1.0)
    assert res.closed_by_server and not res.events("media")  # no welcome played: refused at ``start``
    assert wait_for(lambda: hub.stats.get("closed:mode") == 1), hub.stats
    assert flow_state(app, CALL)["node"] == "main"  # the call's state untouched
    again = client.post("/ivr/voice", {"CallSid": CALL}).get_data(as_text=True)
    assert stream_params(first)["nonce"] != stream_params(again)["nonce"]
    assert stream_params(first)["sig"] != stream_params(again)["sig"]


@pytest.mark.parametrize("served", [""], indirect=True)
def test_no_socket_while_streams_are_off(served: tuple[Any, str, FakeTwilioHttp]) -> None:
    """HOTLINE_STREAM_MODE empty: no Mode 2 (nor any) stream, not even one signed by us."""
    from websockets.exceptions import InvalidStatus

    app, url, _ = served
    client = SignedClient(app.test_client())
    voice = client.post("/ivr/voice", {"CallSid": CALL}).get_data(as_text=True)
    assert "<Stream" not in voice and "<Gather" in voice
    fx = load_fixture(STREAMS / "keypress_mode2.jsonl")
    with pytest.raises(InvalidStatus) as err:
        replay(url, prepare(fx.messages, TOKEN, call_sid=CALL), speed=0)
    assert err.value.response.status_code == 404
    assert b"HOTLINE_STREAM_MODE" in err.value.response.body
    assert app.extensions["hotline"]["stream"].active == 0


@pytest.mark.parametrize("served", ["1"], indirect=True)
def test_plain_http_to_the_socket_path_is_a_clear_4xx(served: tuple[Any, str, FakeTwilioHttp]) -> None:
    app, _, _ = served
    r = app.test_client().get("/ivr/stream")
    assert r.status_code == 400 and "WebSocket" in r.get_data(as_text=True)
