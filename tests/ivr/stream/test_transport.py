"""Replayed Twilio streams with real speech through a real WebSocket server and real Vosk."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from ivr.flow import Flow
from ivr.flow_types import Event, State
from ivr.stream.replay import load_fixture, prepare, replay
from speech.stt import Transcriber
from tests.ivr.stream.conftest import NOW, STREAMS, TOKEN, Server, SlowEngine

SPEED = 2.0  # twice real time: the recognizer still keeps up, tests stay short


def sid(n: int) -> str:
    return "CA" + f"{n:032d}"


def wait_for(cond: Callable[[], object], timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return bool(cond())


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@pytest.mark.parametrize("name", ["ko_delivery", "ko_agent", "ko_refund"])
def test_mode1_keyword_redirects_to_its_node(ws_server: Server, ko_flow: Flow, name: str) -> None:
    fx = load_fixture(STREAMS / f"{name}_mode1.jsonl")
    call = sid(1)
    replay(ws_server.url, prepare(fx.messages, TOKEN, call_sid=call), speed=SPEED)
    assert wait_for(lambda: ws_server.redirector.for_call(call))
    calls = ws_server.redirector.for_call(call)
    assert len(calls) == 1  # one request, one redirect
    q = query(calls[0][1])
    assert calls[0][1].startswith("/ivr/stream/speech?") and q["n"] == "main" and q["s"] == "1"
    assert fx.meta["keyword"] in q["said"]
    conf = float(q["c"]) if "c" in q else None
    step = ko_flow.step(State(node="main", seq=1), Event("speech", text=q["said"], confidence=conf), now=NOW)
    target = step.state.candidate if step.state.phase == "confirm" else step.node
    assert target == fx.meta["expect_node"]


def test_silence_only_decides_nothing(ws_server: Server) -> None:
    fx = load_fixture(STREAMS / "silence_mode1.jsonl")
    replay(ws_server.url, prepare(fx.messages, TOKEN, call_sid=sid(2)), speed=0)
    assert wait_for(lambda: ws_server.hub.stats.get("closed:stop") == 1)
    time.sleep(0.3)
    assert ws_server.redirector.calls == []


def test_outbound_track_never_reaches_the_recognizer(ws_server: Server) -> None:
    fx = load_fixture(STREAMS / "ko_delivery_both_tracks.jsonl")
    call = sid(3)
    replay(ws_server.url, prepare(fx.messages, TOKEN, call_sid=call), speed=SPEED)
    assert wait_for(lambda: ws_server.redirector.for_call(call))
    said = [query(u)["said"] for _, u, _ in ws_server.redirector.for_call(call)]
    assert said and all("상담원" not in s for s in said)  # the outbound speech was "상담원"
    assert ws_server.hub.stats.get("ignored:wrong track", 0) > 100


def test_auth_rejection_closes_the_socket(ws_server: Server) -> None:
    fx = load_fixture(STREAMS / "ko_delivery_mode1.jsonl")
    res = replay(ws_server.url, prepare(fx.messages, "not-the-token", call_sid=sid(4)), speed=1)
    assert res.closed_by_server and res.sent < 20  # closed at ``start``, not at the end of the stream
    res = replay(ws_server.url, prepare(fx.messages, TOKEN, call_sid=sid(5), sign=False), speed=0)
    assert res.closed_by_server
    assert ws_server.hub.stats.get("closed:auth") == 2
    assert ws_server.redirector.calls == []


def test_missing_start_and_malformed_lines(ws_server: Server) -> None:
    fx = load_fixture(STREAMS / "ko_delivery_mode1.jsonl")
    no_start = [m for m in prepare(fx.messages, TOKEN, call_sid=sid(6)) if m["event"] != "start"]
    res = replay(ws_server.url, no_start, speed=0)
    assert res.closed_by_server and ws_server.hub.stats.get("closed:no-start") == 1
    call = sid(7)
    junk = ["{not json", "[]", json.dumps({"event": 42}), "\u0000"]
    replay(ws_server.url, prepare(fx.messages, TOKEN, call_sid=call), speed=SPEED, raw_lines=junk)
    assert wait_for(lambda: ws_server.redirector.for_call(call))  # the stream still works


def test_client_disconnect_mid_utterance(ws_server: Server) -> None:
    fx = load_fixture(STREAMS / "ko_delivery_mode1.jsonl")
    msgs = prepare(fx.messages, TOKEN, call_sid=sid(8))
    mid = 2 + (fx.meta["keyword_end_ms"] - 400) // 20  # inside the word
    replay(ws_server.url, msgs, speed=0, stop_after=mid)
    assert wait_for(lambda: ws_server.hub.stats.get("closed:disconnect") == 1)
    assert wait_for(lambda: ws_server.hub.active == 0)
    time.sleep(0.3)
    assert ws_server.redirector.calls == []  # nothing decided for a caller who is gone


def test_mode2_keypress_during_prompt(ws_server: Server) -> None:
    fx = load_fixture(STREAMS / "keypress_mode2.jsonl")
    call = sid(9)
    res = replay(ws_server.url, prepare(fx.messages, TOKEN, call_sid=call), speed=1.0)
    kinds = [m["event"] for m in res.received]
    assert "clear" in kinds  # the welcome prompt was cut by the key
    first_clear = kinds.index("clear")
    assert "media" in kinds[:first_clear]  # ... while it was being played
    assert ws_server.states.nodes(call)[:2] == ["main", "logistics"]
    assert ws_server.prompts.asked[0] == ws_server.hub.config.flow.msg("welcome")
    assert ws_server.hub.config.flow.menu.node("logistics").prompt in ws_server.prompts.asked


def test_mode2_speech_barges_in_and_routes(ws_server: Server) -> None:
    fx = load_fixture(STREAMS / "ko_delivery_mode2.jsonl")
    call = sid(10)
    res = replay(ws_server.url, prepare(fx.messages, TOKEN, call_sid=call), speed=1.0)
    assert "clear" in [m["event"] for m in res.received]
    assert wait_for(lambda: "logistics" in ws_server.states.nodes(call))


def test_mode2_agent_request_transfers_by_redirect(ws_server: Server) -> None:
    fx = load_fixture(STREAMS / "ko_agent_mode2.jsonl")
    call = sid(11)
    replay(ws_server.url, prepare(fx.messages, TOKEN, call_sid=call), speed=1.0)
    assert wait_for(lambda: ws_server.redirector.for_call(call))
    steps = ws_server.states.saved[call]
    assert steps[-1].action == "transfer"
    assert ws_server.redirector.for_call(call)[0][1] == f"/ivr/stream/resume?s={steps[-1].state.seq}"


def test_mode2_silence_is_no_input(ws_server: Server) -> None:
    fx = load_fixture(STREAMS / "silence_mode2.jsonl")
    call = sid(12)
    # real-time pacing: p2 plays at ~5 s of the 7 s fixture, leaving 2 s of slack on a loaded machine
    res = replay(ws_server.url, prepare(fx.messages, TOKEN, call_sid=call), speed=1)
    # the 1 s welcome "plays" on the stream clock, then 3 s without input: the short prompt again
    assert wait_for(lambda: len(ws_server.states.saved.get(call, [])) >= 2)
    assert ws_server.states.saved[call][1].state.no_input == 1
    # each prompt is media then a mark; the "Twilio" side echoed the mark once it had played it
    sent = res.received
    first_mark = next(i for i, m in enumerate(sent) if m["event"] == "mark")
    assert sent[first_mark]["mark"]["name"] == "p1" and sent[first_mark - 1]["event"] == "media"
    assert res.echoed_marks[:2] == ["p1", "p2"]
    assert all(m["streamSid"] == "MZ" + call[2:] for m in sent)


def test_fifty_concurrent_streams(ws_server: Server) -> None:
    """50 callers at once, in real time: every frame reaches a recognizer, every caller is routed.

    Callers wait (up to 5 s) for the menu to react before hanging up, as callers do; the
    latency under this load is the benchmark's business, not this test's.
    """
    ws_server.hub._engine = counting = SlowEngine(ws_server.hub.engine(), delay=0.0)  # counts recognizers
    fx = load_fixture(STREAMS / "ko_delivery_mode1.jsonl")
    calls = [sid(100 + i) for i in range(50)]
    frames = sum(1 for m in fx.messages if m["event"] == "media")

    def one(call: str) -> int:
        msgs = prepare(fx.messages, TOKEN, call_sid=call)
        wait = lambda: wait_for(lambda: ws_server.redirector.for_call(call), 5)  # noqa: E731
        return replay(ws_server.url, msgs, speed=1.0, before_stop=wait).sent

    with ThreadPoolExecutor(50) as pool:
        sent = list(pool.map(one, calls))
    assert all(s == len(fx.messages) for s in sent)
    assert wait_for(lambda: ws_server.hub.stats.get("closed:stop") == 50)
    assert wait_for(lambda: ws_server.hub.active == 0)
    done = [c for c in calls if ws_server.redirector.for_call(c)]
    assert len(done) == 50, (len(done), ws_server.hub.stats)
    for c in calls:
        q = query(ws_server.redirector.for_call(c)[0][1])
        assert "배송" in q["said"], (c, q)
    # no audio dropped: every frame of every stream was fed (or is being fed) to its recognizer
    assert wait_for(lambda: ws_server.hub.stats.get("audio_bytes") == 50 * frames * 160), ws_server.hub.stats
    assert counting.opened == 50  # one recognizer per stream, all on the one shared model


def test_slow_recognizer_neither_drops_audio_nor_blocks_other_calls(ws_server: Server) -> None:
    ws_server.hub._engine = slow = SlowEngine(ws_server.hub.engine(), delay=0.25)  # 100 ms chunks: 2.5x too slow
    fx = load_fixture(STREAMS / "ko_delivery_mode1.jsonl")
    frames = sum(1 for m in fx.messages if m["event"] == "media")
    slow_call, fast_call = sid(20), sid(21)
    with ThreadPoolExecutor(2) as pool:
        a = pool.submit(replay, ws_server.url, prepare(fx.messages, TOKEN, call_sid=slow_call), speed=1.0)
        assert wait_for(lambda: slow.opened == 1)
        b = pool.submit(replay, ws_server.url, prepare(fx.messages, TOKEN, call_sid=fast_call), speed=1.0)
        res_fast = b.result()
        a.result()
    fast = ws_server.redirector.for_call(fast_call)
    assert fast and res_fast.finished_at - fast[0][2] > 0.5  # decided well before its caller hung up
    # the slow stream's socket loop kept reading: all its audio reached the recognizer, late
    assert wait_for(lambda: ws_server.hub.stats.get("audio_bytes") == 2 * frames * 160, 15), ws_server.hub.stats


def test_failing_redirect_is_logged_and_the_stream_goes_on(ws_server: Server) -> None:
    class Broken:
        calls = 0

        def redirect(self, call_sid: str, url: str) -> None:
            Broken.calls += 1
            raise ConnectionError("api.twilio.com unreachable")

    ws_server.hub.redirector = Broken()
    fx = load_fixture(STREAMS / "ko_delivery_mode1.jsonl")
    res = replay(ws_server.url, prepare(fx.messages, TOKEN, call_sid=sid(22)), speed=SPEED)
    assert res.sent == len(fx.messages)
    assert wait_for(lambda: ws_server.hub.stats.get("failed:Redirect") == 1)
    assert wait_for(lambda: ws_server.hub.stats.get("closed:stop") == 1)


def test_one_model_per_process(ko_engine: Transcriber, tmp_path: Path) -> None:
    from ivr.stream.adapters import load_engine
    from tests.ivr.stream.conftest import ko_model_dir

    other: Any = load_engine(str(ko_model_dir()), tmp_path)  # a second hub in the same process
    assert other._model is ko_engine._model
    a, b = other.stream(8000, ["배송"]), ko_engine.stream(8000, ["상담원"])
    assert a is not b and a._held().rec is not b._held().rec  # but each stream has its own recognizer
    a.finish()
    b.finish()


# --------------------------------------------------------------- who may hold a socket
def test_a_socket_that_never_starts_is_closed_at_the_deadline(ws_server: Server) -> None:
    """``connected`` every 0.3 s does not keep an unauthenticated socket open: ``start`` is due
    ``start_timeout`` after connecting, whatever else arrives."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    ws_server.hub.start_timeout = 1.0
    t0 = time.monotonic()
    closed_at = None
    with connect(ws_server.url, open_timeout=5) as ws:
        while time.monotonic() - t0 < 4.0:
            try:
                ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
                ws.recv(timeout=0.3)
            except TimeoutError:
                continue
            except ConnectionClosed:
                closed_at = time.monotonic() - t0
                break
    assert closed_at is not None and 0.8 < closed_at < 2.5, closed_at
    assert wait_for(lambda: ws_server.hub.stats.get("closed:no-start") == 1), ws_server.hub.stats
    assert wait_for(lambda: ws_server.hub.active == 0)


def test_sockets_over_the_cap_are_closed_at_once(ws_server: Server) -> None:
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    hub = ws_server.hub
    hub.max_connections = 2
    with contextlib.ExitStack() as held:
        for _ in range(2):
            held.enter_context(connect(ws_server.url, open_timeout=5))
        assert wait_for(lambda: hub.active == 2)
        t0 = time.monotonic()
        with connect(ws_server.url, open_timeout=5) as third, pytest.raises(ConnectionClosed):
            third.recv(timeout=2.0)
        assert time.monotonic() - t0 < 1.5  # closed at once, not at the start deadline
        assert hub.stats.get("refused:full") == 1 and hub.active == 2
    assert wait_for(lambda: hub.active == 0)
    fx = load_fixture(STREAMS / "ko_delivery_mode1.jsonl")
    call = sid(30)
    res = replay(ws_server.url, prepare(fx.messages, TOKEN, call_sid=call), speed=0)
    assert res.sent == len(fx.messages)  # a slot is free again


def test_a_signed_stream_opens_once(ws_server: Server) -> None:
    """The signed parameters of one stream open one socket: the same again is a replay, and
    parameters signed too long ago are expired."""
    fx = load_fixture(STREAMS / "ko_delivery_mode1.jsonl")
    call = sid(31)
    msgs = prepare(fx.messages, TOKEN, call_sid=call)
    replay(ws_server.url, msgs, speed=SPEED)
    assert wait_for(lambda: ws_server.hub.stats.get("closed:stop") == 1)
    assert wait_for(lambda: ws_server.redirector.for_call(call))
    again = replay(ws_server.url, msgs, speed=1)
    assert again.closed_by_server and again.sent < 20
    assert ws_server.hub.stats.get("closed:replay") == 1
    late = replay(ws_server.url, prepare(fx.messages, TOKEN, call_sid=call, now=time.time() - 61), speed=0)
    assert late.closed_by_server and ws_server.hub.stats.get("closed:expired") == 1
    time.sleep(0.3)
    assert len(ws_server.redirector.for_call(call)) == 1  # the first stream's request, once


def test_one_live_stream_per_call(ws_server: Server) -> None:
    """Mode 2: a second stream of a call (freshly signed) is refused while the first lives, so it
    cannot restart the menu over the first one's state; once the first ended, one may start."""
    fx = load_fixture(STREAMS / "keypress_mode2.jsonl")
    call = sid(32)
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(replay, ws_server.url, prepare(fx.messages, TOKEN, call_sid=call), speed=1.0)
        assert wait_for(lambda: ws_server.states.nodes(call))  # the first stream started the menu
        second = replay(ws_server.url, prepare(fx.messages, TOKEN, call_sid=call), speed=1)
        assert second.closed_by_server and second.sent < 20
        assert ws_server.hub.stats.get("closed:busy") == 1
        assert not first.done()
        res = first.result()
    assert "clear" in [m["event"] for m in res.received]  # the first went on undisturbed
    assert ws_server.states.nodes(call).count("main") == 1  # the menu was started once
    assert wait_for(lambda: ws_server.hub.stats.get("closed:stop") == 1)
    other = sid(33)
    replay(ws_server.url, prepare(fx.messages, TOKEN, call_sid=other), speed=0)
    assert wait_for(lambda: ws_server.states.nodes(other))


def test_the_handshake_signature_is_checked(ws_server: Server) -> None:
    """Twilio signs the upgrade request (X-Twilio-Signature over the wss URL, no parameters): a
    wrong one is refused before the upgrade; a right one, for the URL as seen or as configured, passes."""
    from twilio.request_validator import RequestValidator
    from websockets.exceptions import InvalidStatus

    fx = load_fixture(STREAMS / "ko_delivery_mode1.jsonl")
    validator = RequestValidator(TOKEN)
    good = {"X-Twilio-Signature": validator.compute_signature(ws_server.url, {})}
    res = replay(ws_server.url, prepare(fx.messages, TOKEN, call_sid=sid(34)), speed=0, headers=good)
    assert res.sent == len(fx.messages) and ws_server.hub.stats.get("closed:stop") == 1
    for bad in (RequestValidator("not-the-token").compute_signature(ws_server.url, {}), "x"):
        with pytest.raises(InvalidStatus) as err:
            replay(ws_server.url, prepare(fx.messages, TOKEN, call_sid=sid(35)), headers={"X-Twilio-Signature": bad})
        assert err.value.response.status_code == 403
    assert ws_server.hub.stats.get("refused:handshake") == 2
    # behind a TLS proxy the signed URL is the public one our TwiML names, not this host
    ws_server.hub.stream_url = "wss://ivr.example.com/ivr/stream"
    public = {"X-Twilio-Signature": validator.compute_signature("wss://ivr.example.com/ivr/stream", {})}
    res = replay(ws_server.url, prepare(fx.messages, TOKEN, call_sid=sid(36)), speed=0, headers=public)
    assert res.sent == len(fx.messages)
    # required: no header, no socket
    ws_server.hub.require_handshake_signature = True
    with pytest.raises(InvalidStatus):
        replay(ws_server.url, prepare(fx.messages, TOKEN, call_sid=sid(37)), speed=0)
    with pytest.raises(InvalidStatus) as err:
        replay(ws_server.url.replace("/ivr/stream", "/elsewhere"), [], headers=public)
    assert err.value.response.status_code == 404
