"""The pure session: Twilio's messages in, actions out (no sockets, no recognizer)."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from ivr.flow import Flow
from ivr.flow_types import State
from ivr.stream.actions import Close, Ignored, Play, Recognize, Redirect, Send, SetGrammar, StepTaken
from ivr.stream.session import MediaStreamSession, SessionConfig
from ivr.stream.signing import stream_parameters, stream_signature
from speech.stt import StreamResult
from tests.ivr.stream.conftest import NOW, TOKEN

CALL = "CA" + "1" * 32
STREAM = "MZ" + "1" * 32


def start(
    mode: str = "1", *, token: str = TOKEN, call: str = CALL, params: dict[str, str] | None = None, **over: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "accountSid": "AC" + "0" * 32,
        "streamSid": STREAM,
        "callSid": call,
        "tracks": ["inbound"],
        "customParameters": stream_parameters(token, call, mode) if params is None else params,
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
    }
    body.update(over)
    return {"event": "start", "sequenceNumber": "1", "start": body, "streamSid": STREAM}


def media(ts: int, payload: bytes = b"\xff" * 160, track: str = "inbound") -> dict[str, Any]:
    b64 = base64.b64encode(payload).decode()
    return {"event": "media", "streamSid": STREAM, "media": {"track": track, "timestamp": str(ts), "payload": b64}}


def dtmf(digit: str) -> dict[str, Any]:
    return {"event": "dtmf", "streamSid": STREAM, "dtmf": {"track": "inbound_track", "digit": digit}}


def mark(name: str) -> dict[str, Any]:
    return {"event": "mark", "streamSid": STREAM, "mark": {"name": name}}


def final(text: str, confidence: float | None = None) -> StreamResult:
    return StreamResult("final", text, confidence=confidence)


def partial(text: str) -> StreamResult:
    return StreamResult("partial", text)


def session(flow: Flow, **kw: Any) -> MediaStreamSession:
    return MediaStreamSession(SessionConfig(flow=flow, token=TOKEN, now=lambda: NOW, **kw))


def mode1(flow: Flow) -> MediaStreamSession:
    s = session(flow)
    assert s.handle({"event": "connected", "protocol": "Call", "version": "1.0.0"}) == []
    assert s.handle(start("1")) == []
    acts = s.set_state(State(node="main", seq=3))
    assert len(acts) == 1 and isinstance(acts[0], SetGrammar)
    return s


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


# --------------------------------------------------------------- protocol and auth
def test_media_goes_to_the_recognizer(ko_flow: Flow) -> None:
    s = mode1(ko_flow)
    acts = s.handle(media(0, b"\x01\x02" * 80))
    assert acts == [Recognize(b"\x01\x02" * 80)]
    assert s.frames == 1


def test_missing_start_closes(ko_flow: Flow) -> None:
    s = session(ko_flow)
    assert s.handle(media(0)) == [Close("no-start")]
    assert s.handle(media(20)) == []  # closed for good


def signed(mode: str = "1", /, **change: str) -> dict[str, str]:
    """Valid parameters for CALL with some changed after signing."""
    return {**stream_parameters(TOKEN, CALL, mode), **change}


def resigned(mode: str, call: str = CALL, **change: Any) -> dict[str, str]:
    """Parameters whose ``sig`` is a real one for the (changed) call/mode/nonce/expiry."""
    p = signed("1")
    nonce, exp = change.get("nonce", p["nonce"]), int(change.get("exp", p["exp"]))
    return {"mode": mode, "nonce": nonce, "exp": str(exp), "sig": stream_signature(TOKEN, call, mode, nonce, exp)}


@pytest.mark.parametrize(
    "msg",
    [
        start("1", params={"mode": "1"}),  # unsigned
        start("1", params=signed(sig="")),  # no signature
        start("1", token="someone-else"),  # signed with another token
        start("1", params=resigned("1", call="CA" + "2" * 32)),  # another call's signature
        start("2", params=signed("1", mode="2")),  # mode 1 signature used for mode 2
        start("1", params=signed(nonce="A" * 24)),  # the nonce changed after signing
        start("1", params=signed(exp="99999999999")),  # the expiry pushed back after signing
        start("1", params=resigned("1", nonce="short")),  # signed, but not a nonce we would make
        start("1", params=resigned("1", exp="-5")),  # not a unix time
        start("1", params=signed(exp="１２３")),  # full-width digits: not ours
        start("3"),  # unknown mode
        start("", params=signed(mode="")),
    ],
)
def test_auth_rejection(ko_flow: Flow, msg: dict[str, Any]) -> None:
    s = session(ko_flow)
    assert s.handle(msg) == [Close("auth")]
    assert not s.started
    assert s.handle(media(0)) == []


def test_an_expired_signature_is_refused(ko_flow: Flow) -> None:
    late = stream_parameters(TOKEN, CALL, "1", ttl_s=60, now=NOW.timestamp())
    clock = {"t": NOW.timestamp() + 59}
    s = MediaStreamSession(SessionConfig(flow=ko_flow, token=TOKEN, clock=lambda: clock["t"]))
    assert s.handle(start("1", params=late)) == [] and s.started  # within its minute
    clock["t"] = NOW.timestamp() + 61
    s = MediaStreamSession(SessionConfig(flow=ko_flow, token=TOKEN, clock=lambda: clock["t"]))
    assert s.handle(start("1", params=late)) == [Close("expired")]
    assert not s.started


def test_only_the_configured_mode_starts(ko_flow: Flow) -> None:
    only1 = SessionConfig(flow=ko_flow, token=TOKEN, modes=("1",))
    s = MediaStreamSession(only1)
    assert s.handle(start("2")) == [Close("mode")] and not s.started  # signed by us, not this server's mode
    assert MediaStreamSession(only1).handle(start("1")) == []
    off = MediaStreamSession(SessionConfig(flow=ko_flow, token=TOKEN, modes=()))
    assert off.handle(start("1")) == [Close("mode")]


def test_the_socket_layer_admits_each_nonce_once(ko_flow: Flow) -> None:
    asked: list[tuple[str, str, int]] = []

    def admit(call: str, nonce: str, expires: int) -> str:
        asked.append((call, nonce, expires))
        return "replay" if len(asked) > 1 else ""

    params = signed("1")
    cfg = SessionConfig(flow=ko_flow, token=TOKEN)
    first = MediaStreamSession(cfg, admit=admit)
    assert first.handle(start("1", params=params)) == [] and first.started
    assert first.params == {"mode": "1"}  # nonce, expiry and signature are not kept
    again = MediaStreamSession(cfg, admit=admit)
    assert again.handle(start("1", params=params)) == [Close("replay")] and not again.started
    assert asked[0] == (CALL, params["nonce"], int(params["exp"]))
    bad = MediaStreamSession(cfg, admit=admit)
    assert bad.handle(start("1", token="someone-else")) == [Close("auth")]
    assert len(asked) == 2  # an unsigned stream never reaches the socket layer's books


def test_wrong_format_and_track_rejected(ko_flow: Flow) -> None:
    alaw = {"encoding": "audio/x-alaw", "sampleRate": 8000, "channels": 1}
    assert session(ko_flow).handle(start("1", mediaFormat=alaw)) == [Close("format")]
    assert session(ko_flow).handle(start("1", tracks=["outbound"])) == [Close("track")]
    junk = {"encoding": "audio/x-mulaw", "sampleRate": "8k", "channels": 1}
    assert session(ko_flow).handle(start("1", mediaFormat=junk)) == [Close("format")]
    assert session(ko_flow).handle(start("1", mediaFormat="mulaw")) == [Close("format")]
    assert session(ko_flow).handle(start("1", tracks=7)) == [Close("track")]


def test_wrong_track_media_is_ignored(ko_flow: Flow) -> None:
    s = mode1(ko_flow)
    assert s.handle(media(0, track="outbound")) == [Ignored("wrong track")]
    assert s.frames == 0


@pytest.mark.parametrize(
    "msg, reason",
    [
        (None, "not an event object"),
        ([1, 2], "not an event object"),
        ({"no": "event"}, "not an event object"),
        ({"event": "media", "streamSid": STREAM}, "media without body"),
        ({"event": "media", "streamSid": STREAM, "media": {"payload": "%%%not base64"}}, "bad payload"),
        ({"event": "media", "streamSid": STREAM, "media": {"payload": "", "timestamp": "x"}}, "bad payload"),
        ({"event": "dtmf", "streamSid": STREAM, "dtmf": {"digit": "12"}}, "bad dtmf"),
        ({"event": "mark", "streamSid": STREAM, "mark": {}}, "mark without name"),
        ({"event": "media", "streamSid": "MZother", "media": {}}, "other stream"),
        ({"event": "shout", "streamSid": STREAM}, "event shout"),
    ],
)
def test_malformed_messages_are_ignored(ko_flow: Flow, msg: Any, reason: str) -> None:
    s = mode1(ko_flow)
    assert s.handle(msg) == [Ignored(reason)]
    assert s.handle(media(0)) != []  # the stream goes on


def test_malformed_start_and_flood_close(ko_flow: Flow) -> None:
    assert session(ko_flow).handle({"event": "start", "start": "x"}) == [Close("malformed")]
    bad = start("1")
    bad["start"]["callSid"] = "not a sid!"
    assert session(ko_flow).handle(bad) == [Close("malformed")]
    s = session(ko_flow, max_malformed=3)
    s.handle(start("1"))
    acts = [s.handle({"junk": i}) for i in range(4)]
    assert acts[-1] == [Close("malformed")]


def test_stop_closes(ko_flow: Flow) -> None:
    s = mode1(ko_flow)
    assert s.handle({"event": "stop", "streamSid": STREAM, "stop": {"callSid": CALL}}) == [Close("stop")]


# --------------------------------------------------------------- Mode 1
def test_mode1_grammar_follows_the_node(ko_flow: Flow) -> None:
    s = mode1(ko_flow)
    assert s.set_state(State(node="main", seq=3)) == []  # unchanged: no new grammar
    g = s.set_state(State(node="payment", seq=4))
    assert len(g) == 1 and isinstance(g[0], SetGrammar)
    assert "상담원" in g[0].phrases and "배송" not in g[0].phrases  # own branch + agent, not other branches
    assert "重听" in g[0].phrases  # navigation words everywhere
    conf = s.set_state(State(node="payment", seq=5, phase="confirm", candidate="payment.refund"))
    assert isinstance(conf[0], SetGrammar) and set(conf[0].phrases) == {"네", "예", "아니요"}


def test_mode1_confident_final_redirects(ko_flow: Flow) -> None:
    s = mode1(ko_flow)
    acts = s.recognized([final("배송", 0.93)], 1500)
    assert len(acts) == 1 and isinstance(acts[0], Redirect)
    assert acts[0].call_sid == CALL
    q = query(acts[0].url)
    assert acts[0].url.startswith("/ivr/stream/speech?")
    assert q == {"s": "3", "n": "main", "said": "배송", "c": "0.93"}
    # the flow at the webhook routes it: confident -> the logistics menu
    step = ko_flow.step(State(node="main", seq=3), _speech(q), now=NOW)
    assert step.node == "logistics"
    # waiting for the webhooks to move the call: no second redirect for more speech
    assert s.recognized([final("상담원", 1.0)], 2500) == []
    assert s.set_state(State(node="logistics", seq=4))  # new grammar, listening again
    assert isinstance(s.recognized([final("상담원", 1.0)], 3500)[0], Redirect)


def test_mode1_lost_redirect_listens_again(ko_flow: Flow) -> None:
    s = mode1(ko_flow)
    assert isinstance(s.recognized([final("배송", 0.9)], 1500)[0], Redirect)
    assert s.recognized([final("배송", 0.9)], 3000) == []  # waiting for the call to move
    again = s.recognized([final("배송", 0.9)], 1500 + 4000)  # it never moved
    assert again and isinstance(again[0], Redirect)


def test_mode1_low_confidence_asks_to_confirm(ko_flow: Flow) -> None:
    s = mode1(ko_flow)
    acts = s.recognized([final("배송", 0.3)], 1500)
    assert isinstance(acts[0], Redirect)
    q = query(acts[0].url)
    step = ko_flow.step(State(node="main", seq=3), _speech(q), now=NOW)
    assert step.state.phase == "confirm" and step.state.candidate == "logistics"


def test_mode1_stable_partial_decides_before_the_final(ko_flow: Flow) -> None:
    s = mode1(ko_flow)
    assert s.recognized([partial("배송")], 1000) == []
    assert s.recognized([], 1100) == []  # not stable long enough
    acts = s.recognized([], 1000 + 240)
    assert len(acts) == 1 and isinstance(acts[0], Redirect)
    assert "c" not in query(acts[0].url)
    assert s.recognized([final("배송", 0.9)], 1600) == []  # same request, once


def test_mode1_no_match_and_silence_do_not_interrupt(ko_flow: Flow) -> None:
    s = mode1(ko_flow)
    assert s.recognized([final("")], 1000) == []
    assert s.recognized([partial("조회")], 1100) == []
    assert s.recognized([], 2000) == []
    assert s.recognized([final("조회", 1.0)], 2100) == []
    for ts in range(0, 5000, 20):
        s.handle(media(ts))
    assert s.decisions == 0


def test_mode1_keys_belong_to_the_gather(ko_flow: Flow) -> None:
    s = mode1(ko_flow)
    assert s.handle(dtmf("5")) == [Ignored("dtmf in mode 1")]


# --------------------------------------------------------------- Mode 2
def mode2(flow: Flow) -> tuple[MediaStreamSession, list[Any]]:
    s = session(flow)
    acts = s.handle(start("2"))
    return s, acts


def test_mode2_start_plays_the_welcome(ko_flow: Flow) -> None:
    s, acts = mode2(ko_flow)
    kinds = [type(a) for a in acts]
    assert kinds == [StepTaken, Play, SetGrammar]
    play = acts[1]
    assert play.texts[0] == ko_flow.msg("welcome") and play.mark == "p1"
    assert s.playing == "p1"
    assert s.handle(mark("p1")) == [] and s.playing == ""


def test_mode2_keypress_during_prompt_barges_in(ko_flow: Flow) -> None:
    s, _ = mode2(ko_flow)
    s.handle(media(0))
    acts = s.handle(dtmf("5"))
    assert acts[0] == Send({"event": "clear", "streamSid": STREAM})
    taken = [a for a in acts if isinstance(a, StepTaken)]
    assert taken and taken[0].step.node == "logistics"
    assert any(isinstance(a, Play) for a in acts)


def test_mode2_speech_during_prompt_barges_in_then_routes(ko_flow: Flow) -> None:
    s, _ = mode2(ko_flow)
    acts = s.recognized([partial("배송")], 400)
    assert acts == [Send({"event": "clear", "streamSid": STREAM})]
    acts = s.recognized([final("배송", 0.95)], 900)
    taken = [a for a in acts if isinstance(a, StepTaken)]
    assert taken[0].step.node == "logistics"


def test_mode2_silence_is_no_input_after_the_prompt(ko_flow: Flow) -> None:
    s, _ = mode2(ko_flow)
    for ts in range(0, 10_000, 20):  # prompt never confirmed played: nothing happens
        assert not [a for a in s.handle(media(ts)) if isinstance(a, StepTaken)]
    s.handle(mark("p1"))
    steps = []
    for ts in range(10_000, 14_000, 20):
        steps += [a for a in s.handle(media(ts)) if isinstance(a, StepTaken)]
    assert len(steps) == 1 and steps[0].step.state.no_input == 1  # main menu timeout is 3 s


def test_mode2_agent_transfer_redirects(ko_flow: Flow) -> None:
    s, _ = mode2(ko_flow)
    acts = s.handle(dtmf("0"))
    red = [a for a in acts if isinstance(a, Redirect)]
    taken = [a for a in acts if isinstance(a, StepTaken)]
    assert taken[0].step.action == "transfer"
    assert red and red[0].url == f"/ivr/stream/resume?s={taken[0].step.state.seq}"
    assert acts.index(taken[0]) < acts.index(red[0])  # state stored before the call moves


def test_mode2_collect_digits_until_hash(ko_flow: Flow) -> None:
    s, _ = mode2(ko_flow)
    s.handle(dtmf("1"))  # order
    s.handle(dtmf("1"))  # order.status: collect
    assert s.state is not None and s.state.node == "order.status"
    for d in "123456":
        assert not [a for a in s.handle(dtmf(d)) if isinstance(a, StepTaken)]
    acts = s.handle(dtmf("#"))
    step = next(a for a in acts if isinstance(a, StepTaken)).step
    assert step.state.phase == "readback" and step.state.buffer == "123456"


def _speech(q: dict[str, str]) -> Any:
    from ivr.flow_types import Event

    return Event("speech", text=q["said"], confidence=float(q["c"]) if "c" in q else None)
