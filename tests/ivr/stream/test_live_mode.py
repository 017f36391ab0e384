"""Live-call streams (mode "live"): both tracks of a bridged call, signed like the menu streams,
kept apart per track, skipped (never slowed) when the box is full; and the TwiML that starts them."""

from __future__ import annotations

import re
from typing import Any

from ivr.flow import Flow
from ivr.flow_types import GatherSpec, State, Step
from ivr.stream.actions import Close, Hear, Ignored, Listen
from ivr.stream.hub import StreamHub, StreamWorker
from ivr.stream.live_twiml import LiveAnswers
from ivr.stream.replay import RecordingRedirector
from ivr.stream.session import MediaStreamSession, SessionConfig
from ivr.stream.signing import check_signature, stream_parameters
from ivr.twiml import LiveSpec, render
from tests.ivr.stream.conftest import NOW, TOKEN
from tests.ivr.stream.test_session import CALL, media, start

BOTH = ["inbound", "outbound"]


def live_session(flow: Flow, modes: tuple[str, ...] = ("1", "live"), admit: Any = None) -> MediaStreamSession:
    return MediaStreamSession(SessionConfig(flow=flow, token=TOKEN, now=lambda: NOW, modes=modes), admit=admit)


def test_both_tracks_are_heard_apart_on_the_stream_clock(ko_flow: Flow) -> None:
    s = live_session(ko_flow)
    acts = s.handle(start("live", tracks=BOTH))
    assert acts == [Listen(CALL, {"mode": "live"})]
    a = s.handle(media(0, b"\x01" * 160, "inbound"))
    b = s.handle(media(0, b"\x02" * 160, "outbound"))
    c = s.handle(media(20, b"\x03" * 160, "inbound"))
    assert a == [Hear("inbound", b"\x01" * 160, 0)]
    assert b == [Hear("outbound", b"\x02" * 160, 0)]
    assert c == [Hear("inbound", b"\x03" * 160, 20)]
    assert s.handle(media(40, track="inbound_track")) == [Ignored("wrong track")]
    assert s.slot == CALL + "/live"


def test_live_needs_its_mode_both_tracks_and_its_own_signature(ko_flow: Flow) -> None:
    assert live_session(ko_flow, modes=("1",)).handle(start("live", tracks=BOTH)) == [Close("mode")]
    assert live_session(ko_flow).handle(start("live")) == [Close("track")]  # inbound only
    menu_params = stream_parameters(TOKEN, CALL, "1")
    forged = start("live", tracks=BOTH, params={**menu_params, "mode": "live"})  # a menu stream's signature
    assert live_session(ko_flow).handle(forged) == [Close("auth")]


def test_one_live_stream_per_call_beside_its_menu_stream(ko_flow: Flow) -> None:
    hub = StreamHub(
        config=SessionConfig(flow=ko_flow, token=TOKEN, modes=("1", "live")),
        speech=lambda: None,
        redirector=RecordingRedirector(),
    )  # type: ignore[arg-type,return-value]
    menu = MediaStreamSession(hub.config, admit=hub.admit)
    assert menu.handle(start("1")) == []
    live = MediaStreamSession(hub.config, admit=hub.admit)
    assert isinstance(live.handle(start("live", tracks=BOTH))[0], Listen)
    again = MediaStreamSession(hub.config, admit=hub.admit)
    assert again.handle(start("live", tracks=BOTH)) == [Close("busy")]


class Sink:
    def __init__(self, full: bool) -> None:
        self.full, self.opened = full, 0

    def open(self, call_sid: str, params: dict[str, str]) -> Any:
        if self.full:
            return None
        self.opened += 1
        return None


def test_a_full_box_closes_the_new_live_stream_at_start_and_counts_it(ko_flow: Flow) -> None:
    hub = StreamHub(
        config=SessionConfig(flow=ko_flow, token=TOKEN, modes=("live",)),
        speech=lambda: None,
        redirector=RecordingRedirector(),
    )  # type: ignore[arg-type,return-value]
    hub.live = Sink(full=True)
    s = MediaStreamSession(hub.config, admit=hub.admit)
    worker = StreamWorker(s, hub, ws=None)  # type: ignore[arg-type]
    assert worker.submit(s.handle(start("live", tracks=BOTH))) == "live-full"
    assert hub.stats["live:skipped"] == 1
    hub.live = None  # live calls not wired: the same
    s2 = MediaStreamSession(hub.config, admit=hub.admit)
    assert (
        StreamWorker(s2, hub, ws=None).submit(s2.handle(start("live", call="CA" + "2" * 32, tracks=BOTH)))
        == "live-full"
    )  # type: ignore[arg-type]


def _transfer(agent_dial: str = "") -> str:
    step = Step(
        ("正在为您转接",),
        State(node="logistics", seq=4),
        action="transfer",
        skill="logistics",
        notice="为了服务质量，本次通话将被录音",
    )
    return render(step, agent_dial=agent_dial, live=LiveSpec("wss://ivr.example.com/ivr/stream"))


def _params(twiml: str) -> dict[str, str]:
    return dict(re.findall(r'<Parameter name="([^"]+)" value="([^"]*)" />', twiml))


def test_a_transfer_renders_a_live_stream_before_the_bridge() -> None:
    for agent_dial, bridge in (("", "<Enqueue"), ("+8610000000", "<Dial")):
        out = _transfer(agent_dial)
        assert out.index('<Stream track="both_tracks"') < out.index(bridge)
        assert 'url="wss://ivr.example.com/ivr/stream"' in out
        params = _params(out)
        assert params["topic"] == "logistics" and params["consent"] == "1"
        assert params.get("team", "") == ("logistics" if not agent_dial else "")
        assert all(params[k] == "" for k in ("mode", "nonce", "exp", "sig"))  # signed per response, not stored
    menu = Step(("请按1",), State(node="root", seq=1), action="gather", gather=GatherSpec(input="dtmf"))
    assert "both_tracks" not in render(menu, live=LiveSpec("wss://x/ivr/stream"))  # no bridge, no stream


def test_the_dialed_agent_is_named_on_the_live_stream_but_never_a_number() -> None:
    for agent_dial, agent in (
        ("client:alice", "alice"),
        ("sip:bob@pbx.example.com", "bob"),
        ("+8610000000", None),
        ("", None),
    ):
        assert _params(_transfer(agent_dial)).get("agent") == agent


def test_each_answer_as_sent_signs_its_own_live_stream() -> None:
    answers = LiveAnswers(TOKEN, "wss://ivr.example.com/ivr/stream", ttl_s=60)
    rendered = _transfer()
    one, two = answers.sign(rendered, CALL), answers.sign(rendered, CALL)
    p1, p2 = _params(one), _params(two)
    assert p1["mode"] == "live" and p1["nonce"] != p2["nonce"]  # a retried answer names a new stream
    assert check_signature(TOKEN, CALL, "live", p1, NOW.timestamp()) == ""
    assert check_signature(TOKEN, "CA" + "9" * 32, "live", p1, NOW.timestamp()) == "auth"  # bound to the call
    menu = '<Response><Gather input="dtmf"><Say>请按1</Say></Gather></Response>'
    assert answers.sign(menu, CALL) == menu
    assert LiveAnswers("", "wss://x").sign(rendered, CALL) == rendered  # nothing to sign with
