"""Replayed Twilio streams with real speech through a real WebSocket server and real Vosk."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import pytest

from ivr.flow import Event, Flow, State
from ivr.stream_replay import load_fixture, prepare, replay
from ivr.stream_ws import VoskFactory
from tests.stream.conftest import NOW, STREAMS, TOKEN, Server, SlowFactory

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
    ws_server.hub._factory = counting = SlowFactory(ws_server.hub.factory(), delay=0.0)  # counts recognizers
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
    ws_server.hub._factory = slow = SlowFactory(ws_server.hub.factory(), delay=0.25)  # 100 ms chunks: 2.5x too slow
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


def test_one_model_per_process(ko_factory: VoskFactory) -> None:
    from tests.stream.conftest import ko_model_dir

    other = VoskFactory(str(ko_model_dir()))  # a second hub in the same process
    assert other.engine._model is ko_factory.engine._model
    a, b = other.open(["배송"]), ko_factory.open(["상담원"])
    assert a is not b  # but each stream has its own recognizer
    a.close()
    b.close()
