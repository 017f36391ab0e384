"""TwiML checked structurally (parsed XML, attributes) and against a few golden files."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ivr.flow_types import Event, Step
from ivr.stream.signing import PARAMETERS, StreamAnswers, check_signature
from ivr.twiml import StreamSpec, render, render_fallback, render_hold, sign_stream

from .helpers import OPEN, flow, menu

GOLDEN = Path(__file__).resolve().parent / "golden"


def steps_for(*keys: str) -> Step:
    f = flow()
    step = f.step(None, Event("start"), now=OPEN)
    for k in keys:
        step = f.step(step.state, Event("digits", digits=k), now=OPEN)
    return step


def xml(step: Step, agent_dial: str = "") -> ET.Element:
    return ET.fromstring(render(step, agent_dial=agent_dial))


def test_menu_gather_structure() -> None:
    root = xml(steps_for())
    assert [c.tag for c in root] == ["Gather", "Redirect"]
    g = root[0]
    assert g.get("input") == "dtmf speech" and g.get("language") == "zh-CN"
    assert g.get("actionOnEmptyResult") == "true" and g.get("speechTimeout") == "auto"
    assert g.get("action") == "/ivr/gather?s=1&n=main" and g.get("method") == "POST"
    assert g.get("finishOnKey") == ""  # * and # reach the engine
    hints = g.get("hints", "").split(",")
    assert {"支付与退款", "退款", "人工"} <= set(hints)
    says = [s for s in g if s.tag == "Say"]
    assert all(s.get("language") == "zh-CN" for s in says)
    assert says[0].text == menu().messages["welcome"]
    assert root[1].text == g.get("action")  # no dead air after a silent Gather


def test_entry_gather_is_keypad_with_hash() -> None:
    g = xml(steps_for("1", "1"))[0]
    assert g.get("input") == "dtmf" and g.get("finishOnKey") == "#" and g.get("language") is None


def test_transfer_enqueue_records_both_channels() -> None:
    root = xml(steps_for("4", "2"))
    tags = [c.tag for c in root]
    assert tags[-2:] == ["Start", "Enqueue"]
    says = [c.text for c in root if c.tag == "Say"]
    assert says[-1] == menu().messages["recording_notice"]  # the notice comes before the transfer
    rec = root.find("Start/Recording")
    assert rec is not None and rec.get("channels") == "dual" and rec.get("recordingStatusCallback") == "/ivr/recording"
    enq = root.find("Enqueue")
    assert enq is not None and enq.text == "security" and enq.get("waitUrl") == "/ivr/hold"
    assert enq.get("action", "").startswith("/ivr/after?")


def test_transfer_dial_records_dual() -> None:
    root = xml(steps_for("0"), agent_dial="+861012345678")
    dial = root.find("Dial")
    assert dial is not None and dial.get("record") == "record-from-answer-dual"
    assert dial.get("recordingStatusCallback") == "/ivr/recording"
    assert dial.get("recordingStatusCallbackEvent") == "completed"
    num = dial.find("Number")
    assert num is not None and num.text == "+861012345678" and num.get("statusCallback") == "/ivr/status"
    sip = xml(steps_for("0"), agent_dial="sip:agents@pbx.example.com").find("Dial/Sip")
    assert sip is not None


def test_hangup_ends_with_hangup() -> None:
    root = xml(steps_for("2", "3", "9", "5"))
    assert [c.tag for c in root] == ["Say", "Say", "Hangup"]


def test_hold_and_fallback() -> None:
    hold = ET.fromstring(render_hold("请稍候"))
    assert [c.tag for c in hold] == ["Say", "Pause"]
    fb = ET.fromstring(render_fallback("抱歉", "录音提示"))
    assert [c.tag for c in fb][:2] == ["Say", "Say"] and fb.find("Enqueue") is not None


# ------------------------------------------------------------------ Media Streams modes
URL = "wss://ivr.example.com/ivr/stream"
CALL = "CA" + "3" * 32


def params_of(root: ET.Element) -> dict[str, str]:
    return {p.get("name", ""): p.get("value", "") for p in root.iter("Parameter")}


def test_mode1_first_answer_starts_the_stream_beside_a_keys_only_menu() -> None:
    twiml = render(steps_for(), stream=StreamSpec("1", URL, PARAMETERS))
    root = ET.fromstring(twiml)
    assert [c.tag for c in root] == ["Start", "Gather", "Redirect"]
    stream = root.find("Start/Stream")
    assert stream is not None and stream.attrib == {"url": URL, "track": "inbound_track", "name": "nav"}
    assert params_of(root) == dict.fromkeys(PARAMETERS, "")  # filled per response, never cached or stored
    g = root[1]
    assert g.get("input") == "dtmf"  # speech goes to our recognizer, not Twilio's
    assert g.get("language") is None and g.get("speechTimeout") is None and g.get("hints") is None
    assert g.get("action") == "/ivr/gather?s=1&n=main"
    signed = ET.fromstring(StreamAnswers("1", "tok", URL).sign(twiml, CALL))
    assert check_signature("tok", CALL, "1", params_of(signed), now=0) == ""


def test_mode1_later_answers_listen_to_keys_and_stop_the_stream_on_leaving() -> None:
    mode1 = StreamSpec("1")
    menu_root = ET.fromstring(render(steps_for("5"), stream=mode1))
    assert [c.tag for c in menu_root] == ["Gather", "Redirect"] and menu_root[0].get("input") == "dtmf"
    for root in (
        ET.fromstring(render(steps_for("0"), stream=mode1)),
        ET.fromstring(render(steps_for("0"), agent_dial="+861012345678", stream=mode1)),
        ET.fromstring(render(steps_for("2", "3", "9", "5"), stream=mode1)),
        ET.fromstring(render_fallback("抱歉", "录音提示", stream=mode1)),
    ):
        assert root[0].tag == "Stop" and root.find("Stop/Stream").attrib == {"name": "nav"}  # type: ignore[union-attr]
        assert root.find("Start/Stream") is None
    # the keypad-only input is the mode's, not the step's: without a stream the menu still listens for speech
    assert xml(steps_for("5"))[0].get("input") == "dtmf speech"


def test_mode2_first_answer_connects_the_call_to_the_stream() -> None:
    twiml = render(steps_for(), stream=StreamSpec("2", URL, PARAMETERS))
    root = ET.fromstring(twiml)
    assert [c.tag for c in root] == ["Connect", "Redirect"]
    assert root.find("Connect/Stream").get("url") == URL  # type: ignore[union-attr]
    assert root[1].text == "/ivr/fallback" and root[1].get("method") == "POST"  # a failed stream reaches an agent
    assert "<Gather" not in twiml and "<Say" not in twiml  # the stream plays the menu
    signed = sign_stream(twiml, {"mode": "2", "nonce": "n" * 24, "exp": "9", "sig": "<&>"})
    assert params_of(ET.fromstring(signed)) == {"mode": "2", "nonce": "n" * 24, "exp": "9", "sig": "<&>"}


def test_which_answers_a_mode_changes() -> None:
    one, two = StreamAnswers("1", "tok"), StreamAnswers("2", "tok", URL)
    assert one.spec("https://ivr.example.com/", opening=True) == StreamSpec("1", URL, PARAMETERS)
    assert one.spec("https://ivr.example.com/", opening=False) == StreamSpec("1")
    assert two.spec("http://other/", opening=True) == StreamSpec("2", URL, PARAMETERS)  # the configured URL
    assert two.spec("http://other/", opening=False) is None  # after the stream: the usual answers


CASES = {
    "start": lambda: render(steps_for()),
    "readback": lambda: render(steps_for("1", "1", "20261123001")),
    "transfer_enqueue": lambda: render(steps_for("0")),
    "transfer_dial": lambda: render(steps_for("0"), agent_dial="+861012345678"),
    "goodbye": lambda: render(steps_for("2", "3", "9", "5")),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str) -> None:
    got = CASES[name]()
    path = GOLDEN / f"{name}.xml"
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(got + "\n", encoding="utf-8")
    assert got + "\n" == path.read_text(encoding="utf-8"), f"regenerate with UPDATE_GOLDEN=1 if intended: {path}"
