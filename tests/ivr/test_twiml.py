"""TwiML checked structurally (parsed XML, attributes) and against a few golden files."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ivr.flow import Event, Step
from ivr.twiml import render, render_fallback, render_hold

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
