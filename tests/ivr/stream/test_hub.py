"""The hub and a stream's worker on speech's protocol, with the fake engine and an in-memory socket.

No model and no network: the receive loop, the worker thread, the recognizer's grammar and the
effects, deterministic. The real engine and real sockets are in test_transport.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from ivr.flow import Flow
from ivr.flow_types import State
from ivr.stream.grammar import grammar_for
from ivr.stream.hub import StreamHub, report_vocabulary
from ivr.stream.replay import RecordingRedirector, load_fixture, prepare
from ivr.stream.session import SessionConfig
from ivr.stream.transport import Disconnected, run_stream
from speech.stt import Capabilities, Unsupported
from speech.testing import FakeTranscriber, Said
from tests.ivr.stream.conftest import NOW, STREAMS, TOKEN, FakeStates

CALL = "CA" + "4" * 32


class MemorySocket:
    """A Twilio that sends ``messages`` at once, waiting for ``before_stop`` (a caller who lets the
    menu react) before ``stop``; then hangs up. What the server sends is kept in ``sent``."""

    def __init__(self, messages: Sequence[dict[str, Any]], before_stop: Callable[[], object] = lambda: None) -> None:
        self.inbox = deque(messages)
        self.before_stop = before_stop
        self.sent: list[dict[str, Any]] = []
        self.closed = False

    def receive(self, timeout: float) -> str | None:
        if not self.inbox:
            raise Disconnected()
        message = self.inbox.popleft()
        if message.get("event") == "stop":
            self.before_stop()
        return json.dumps(message)

    def send(self, text: str) -> None:
        self.sent.append(json.loads(text))

    def close(self) -> None:
        self.closed = True


def until(cond: Callable[[], object], timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while not cond() and time.monotonic() < end:
        time.sleep(0.01)
    return bool(cond())


def hub_for(flow: Flow, engine: Any, states: FakeStates | None = None) -> tuple[StreamHub, RecordingRedirector]:
    redirector = RecordingRedirector()
    config = SessionConfig(flow=flow, token=TOKEN, now=lambda: NOW)
    return StreamHub(config, engine, redirector, states or FakeStates()), redirector


def test_mode1_what_the_engine_hears_redirects_the_call(ko_flow: Flow) -> None:
    fx = load_fixture(STREAMS / "ko_delivery_mode1.jsonl")
    end = fx.meta["keyword_end_ms"] / 1000
    engine = FakeTranscriber([Said("배송", end - 0.4, end, 0.93)])
    hub, redirector = hub_for(ko_flow, lambda: engine)  # loaded on first use, like the app's
    ws = MemorySocket(prepare(fx.messages, TOKEN, call_sid=CALL), lambda: until(lambda: redirector.for_call(CALL)))
    session = run_stream(ws, hub, wait=5)
    calls = redirector.for_call(CALL)
    assert len(calls) == 1
    q = {k: v[0] for k, v in parse_qs(urlsplit(calls[0][1]).query).items()}
    assert urlsplit(calls[0][1]).path == "/ivr/stream/speech"
    assert q == {"s": "1", "n": "main", "said": "배송", "c": "0.93"}
    assert session.decisions == 1 and hub.stats["closed:stop"] == 1 and hub.active == 0
    [stream] = engine.streams  # one stream of the shared engine for the call, fed all its audio
    assert stream.grammars == [grammar_for(ko_flow.menu, State(node="main", seq=1))]
    assert stream.finished and stream.fed == sum(1 for m in fx.messages if m["event"] == "media") * 160


def test_mode2_a_new_menu_switches_the_grammar_on_the_same_stream(ko_flow: Flow) -> None:
    fx = load_fixture(STREAMS / "keypress_mode2.jsonl")  # the caller presses 5 during the welcome
    engine = FakeTranscriber()
    states = FakeStates()
    hub, _ = hub_for(ko_flow, engine, states)
    ws = MemorySocket(prepare(fx.messages, TOKEN, call_sid=CALL))
    run_stream(ws, hub, wait=5)
    assert states.nodes(CALL)[:2] == ["main", "logistics"]
    [stream] = engine.streams  # not a new recognizer per menu: speech's stream switches safely
    menu = ko_flow.menu
    assert stream.grammars[:2] == [grammar_for(menu, State(node="main")), grammar_for(menu, State(node="logistics"))]
    assert [m["event"] for m in ws.sent][:2] == ["mark", "clear"]  # no prompt audio here: the mark, then the cut


def test_an_engine_that_cannot_stream_leaves_the_keys_working(ko_flow: Flow, caplog: pytest.LogCaptureFixture) -> None:
    batch_only = FakeTranscriber(capabilities=Capabilities(False, False, False, True, True))
    hub, _ = hub_for(ko_flow, batch_only)
    with pytest.raises(Unsupported, match="cannot stream"):
        hub.engine()
    fx = load_fixture(STREAMS / "keypress_mode2.jsonl")
    states = FakeStates()
    hub.states = states
    with caplog.at_level(logging.ERROR, logger="ivr.stream"):
        run_stream(MemorySocket(prepare(fx.messages, TOKEN, call_sid=CALL)), hub, wait=5)
    assert hub.stats["failed:SetGrammar"] >= 1 and "cannot stream" in caplog.text
    assert states.nodes(CALL)[:2] == ["main", "logistics"]  # the key still moved the caller on


def test_the_vocabulary_report_asks_the_engine(ko_flow: Flow, caplog: pytest.LogCaptureFixture) -> None:
    hub, _ = hub_for(ko_flow, FakeTranscriber(vocabulary=["배송", "상담원"]))
    with caplog.at_level(logging.INFO, logger="ivr.stream"):
        missing = report_vocabulary(hub)
    assert missing and "배송" not in missing and "주문" in missing
    assert "not in the speech model's vocabulary" in caplog.text
    no_grammar = FakeTranscriber(capabilities=Capabilities(True, True, False, True, True))
    assert report_vocabulary(hub_for(ko_flow, no_grammar)[0]) is None
    assert report_vocabulary(hub_for(ko_flow, FakeTranscriber())[0]) is None  # cannot tell
