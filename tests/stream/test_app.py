"""The stream layer inside the app: TwiML for each mode, the flask-sock route under a real
werkzeug server, the redirect targets re-entering the webhooks' flow, Mode 2 state in the store,
and real TTS prompt audio."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from hotline.settings import Secret, Settings
from ivr.stream import stream_signature
from ivr.stream_replay import RecordingRedirector, load_fixture, prepare, replay
from tests.ivr.helpers import SignedClient
from tests.stream.conftest import STREAMS, TOKEN, ko_model_dir, write_ko_menu

CALL = "CA" + "7" * 32


def always_open(path: Path) -> Path:
    path.write_text('display: always\nqueues:\n  default:\n    daily: "00:00-24:00"\n', encoding="utf-8")
    return path


@pytest.fixture
def served(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Any, str, RecordingRedirector]]:
    from werkzeug.serving import make_server

    from hotline.app import create_app

    settings = Settings(
        data_dir=tmp_path / "var",
        twilio_auth_token=Secret(TOKEN),
        public_url="http://localhost",
        menu_path=write_ko_menu(tmp_path / "ko.yaml"),
        hours_path=always_open(tmp_path / "hours.yaml"),
        stream_mode=request.param,
        stream_model=str(ko_model_dir()),
    )
    app = create_app(settings)
    hub = app.extensions["hotline"]["stream"]
    hub.redirector = redirector = RecordingRedirector()
    hub.factory()  # the start-up warm-up loads the model in the background; wait for it here
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"ws://127.0.0.1:{server.port}/ivr/stream", redirector
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


def flow_state(app: Any, call: str) -> dict[str, Any]:
    from store import calls as repo
    from store.db import transaction

    with transaction(app.extensions["hotline"]["sessions"]) as s:
        c = repo.get_call(s, call)
        return dict(c.flow_state or {}) if c is not None else {}


@pytest.mark.parametrize("served", ["1"], indirect=True)
def test_mode1_end_to_end(served: tuple[Any, str, RecordingRedirector]) -> None:
    app, url, redirector = served
    client = SignedClient(app.test_client())
    form = {"CallSid": CALL, "From": "+8613800000000"}
    voice = client.post("/ivr/voice", form).get_data(as_text=True)
    assert '<Stream url="ws://localhost/ivr/stream"' in voice and 'track="inbound_track"' in voice
    assert f'<Parameter name="sig" value="{stream_signature(TOKEN, CALL, "1")}"' in voice
    assert 'input="dtmf"' in voice and "dtmf speech" not in voice  # speech goes to our recognizer
    assert voice.index("<Start>") < voice.index("<Gather")

    fx = load_fixture(STREAMS / "ko_delivery_mode1.jsonl")
    replay(url, prepare(fx.messages, TOKEN, call_sid=CALL), speed=2.0)  # flask-sock under werkzeug
    calls = wait_for(lambda: redirector.for_call(CALL))
    assert calls, app.extensions["hotline"]["stream"].stats
    target = calls[0][1]
    assert target.startswith("/ivr/stream/speech?s=1&n=main&said=")
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
def test_mode1_keys_still_work_and_transfer_stops_the_stream(served: tuple[Any, str, RecordingRedirector]) -> None:
    app, _, _ = served
    client = SignedClient(app.test_client())
    form = {"CallSid": CALL}
    client.post("/ivr/voice", form)
    twiml = client.post("/ivr/gather?s=1&n=main", {**form, "Digits": "5"}).get_data(as_text=True)
    assert "<Stop>" not in twiml and "<Start>" not in twiml and 'input="dtmf"' in twiml
    assert flow_state(app, CALL)["node"] == "logistics"
    twiml = client.post("/ivr/gather?s=2&n=logistics", {**form, "Digits": "0"}).get_data(as_text=True)
    assert "<Enqueue" in twiml and '<Stop><Stream name="nav" /></Stop>' in twiml
    assert twiml.index("<Stop>") < twiml.index("<Enqueue")


@pytest.mark.parametrize("served", ["1"], indirect=True)
def test_mode1_low_confidence_confirms(served: tuple[Any, str, RecordingRedirector]) -> None:
    app, _, _ = served
    client = SignedClient(app.test_client())
    form = {"CallSid": CALL}
    client.post("/ivr/voice", form)
    twiml = client.post("/ivr/stream/speech?s=1&n=main&said=배송&c=0.30", form).get_data(as_text=True)
    assert flow_state(app, CALL)["phase"] == "confirm"
    assert "1" in twiml and 'input="dtmf"' in twiml


@pytest.mark.parametrize("served", ["2"], indirect=True)
def test_mode2_end_to_end(served: tuple[Any, str, RecordingRedirector]) -> None:
    app, url, redirector = served
    client = SignedClient(app.test_client())
    form = {"CallSid": CALL}
    voice = client.post("/ivr/voice", form).get_data(as_text=True)
    assert "<Connect><Stream" in voice and f'value="{stream_signature(TOKEN, CALL, "2")}"' in voice
    assert "<Gather" not in voice and "/ivr/fallback" in voice  # a failed stream still reaches an agent

    fx = load_fixture(STREAMS / "keypress_mode2.jsonl")
    msgs = prepare(fx.messages, TOKEN, call_sid=CALL)
    for m in msgs:  # press 0 (agent) instead of 5
        if m["event"] == "dtmf":
            m["dtmf"]["digit"] = "0"
    res = replay(url, msgs, speed=1.0)
    assert res.events("media"), "the welcome prompt was played as audio"
    assert "clear" in [m["event"] for m in res.received]  # cut by the key
    calls = wait_for(lambda: redirector.for_call(CALL))
    assert calls and urlsplit(calls[0][1]).path == "/ivr/stream/resume"
    state = flow_state(app, CALL)
    assert state["node"] == "agent" and state["phase"] == "transferred"
    twiml = client.post(calls[0][1], form).get_data(as_text=True)
    assert "<Enqueue" in twiml


def test_prompt_audio_rendered_once_and_cached(tmp_path: Path) -> None:
    from ivr.prompts_audio import PromptAudio

    p = PromptAudio(tmp_path / "cache")
    text = "您好，欢迎致电京东客服热线。"
    audio = p.audio(text)
    assert 8000 < len(audio) < 8000 * 10  # seconds of 8 kHz μ-law, one byte a sample
    assert len(set(audio)) > 50  # speech, not silence
    assert p.rendered == 1 and list((tmp_path / "cache").glob("*.ul"))
    assert p.audio(text) == audio and p.rendered == 1
    again = PromptAudio(tmp_path / "cache")  # another process: the file cache
    assert again.audio(text) == audio and again.rendered == 0
    rec = tmp_path / "recorded"
    rec.mkdir()
    (rec / f"{p.key(text)}.ul").write_bytes(b"")  # unreadable "recording": ffmpeg error is reported
    from ivr.prompts_audio import PromptAudioError

    with pytest.raises(PromptAudioError):
        PromptAudio(tmp_path / "c2", recorded_dir=rec).audio(text)
    broken = PromptAudio(tmp_path / "c3", command="false {text}")
    with pytest.raises(PromptAudioError, match="'false'"):
        broken.audio(text)
    assert not re.search(text, str(PromptAudioError))
