"""Stream test fixtures: a Korean version of the real menu (the only Vosk model here is Korean),
the real Vosk model through speech, and real WebSocket servers on localhost."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from ivr.flow import Flow
from ivr.flow_types import State, Step
from ivr.menu import Menu, load_menu
from ivr.stream.adapters import load_engine
from ivr.stream.hub import StreamHub
from ivr.stream.replay import RecordingRedirector
from ivr.stream.session import SessionConfig
from ivr.stream.transport import serve_websockets
from speech.stt import SpeechStream, StreamResult, Transcriber
from tests.conftest import ROOT
from tests.speech.conftest import ko_model_dir  # the Vosk model, or skip (fail in CI)

MENU_PATH = ROOT / "ivr" / "menus" / "950618.yaml"
STREAMS = ROOT / "audio_fixtures" / "streams"
TOKEN = "test-token"
NOW = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # Monday noon in Shanghai: agents working

# Korean words for some nodes (the grammar mechanism is tested with the Korean model)
KO_KEYWORDS = {"order": ["주문"], "payment": ["환불", "결제"], "logistics": ["배송"], "agent": ["상담원"]}
KO_YES, KO_NO = ["네", "예"], ["아니요"]


def ko_menu_data() -> dict[str, Any]:
    data = yaml.safe_load(MENU_PATH.read_text(encoding="utf-8"))
    for nid, node in data["nodes"].items():
        node["keywords"] = KO_KEYWORDS.get(nid, [])
    data["settings"]["yes_words"] = KO_YES
    data["settings"]["no_words"] = KO_NO
    return data


def always_open(path: Path) -> Path:
    """Agent hours that are always open (transfers never turn into callback offers)."""
    path.write_text('display: always\nqueues:\n  default:\n    daily: "00:00-24:00"\n', encoding="utf-8")
    return path


def write_ko_menu(path: Path) -> Path:
    path.write_text(yaml.safe_dump(ko_menu_data(), allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def ko_menu(tmp_path_factory: pytest.TempPathFactory) -> Menu:
    return load_menu(write_ko_menu(tmp_path_factory.mktemp("menu") / "ko.yaml"))


@pytest.fixture(scope="session")
def ko_flow(ko_menu: Menu) -> Flow:
    return Flow(ko_menu)


@pytest.fixture(scope="session")
def ko_engine(tmp_path_factory: pytest.TempPathFactory) -> Transcriber:
    """The engine the app builds for streams (Vosk at 8 kHz), on the Korean model."""
    return load_engine(str(ko_model_dir()), tmp_path_factory.mktemp("models"))


MAIN = State(node="main", seq=1)


class FakeStates:
    """Mode 1 reads the call's state; Mode 2 writes its steps. Thread-safe dict."""

    def __init__(self, default: State | None = MAIN) -> None:
        self.default = default
        self.saved: dict[str, list[Step]] = {}
        self.lock = threading.Lock()

    def load(self, call_sid: str) -> State | None:
        with self.lock:
            steps = self.saved.get(call_sid)
            return steps[-1].state if steps else self.default

    def save(self, call_sid: str, step: Step) -> None:
        with self.lock:
            self.saved.setdefault(call_sid, []).append(step)

    def nodes(self, call_sid: str) -> list[str]:
        with self.lock:
            return [s.state.node for s in self.saved.get(call_sid, [])]


class FakePrompts:
    """1 s of μ-law silence per prompt text (real TTS is tested in test_prompts)."""

    def __init__(self, ms: int = 1000) -> None:
        self.ms = ms
        self.asked: list[str] = []

    def audio(self, text: str) -> bytes:
        self.asked.append(text)
        return b"\xff" * (8 * self.ms)


@dataclass
class Server:
    url: str
    hub: StreamHub
    redirector: RecordingRedirector
    states: FakeStates
    prompts: FakePrompts


@pytest.fixture
def ws_server(ko_flow: Flow, ko_engine: Transcriber) -> Iterator[Server]:
    """The `websockets` server ``hotline serve`` runs, on a free port, with the Korean model."""
    redirector = RecordingRedirector()
    states = FakeStates()
    prompts = FakePrompts()
    hub = StreamHub(
        config=SessionConfig(flow=ko_flow, token=TOKEN, now=lambda: NOW),
        speech=ko_engine,
        redirector=redirector,
        states=states,
        prompts=prompts,
        idle_timeout=5,
    )
    server = serve_websockets(hub, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.socket.getsockname()[1]
    yield Server(f"ws://127.0.0.1:{port}/ivr/stream", hub, redirector, states, prompts)
    server.shutdown()
    thread.join(5)


class SlowEngine:
    """An engine whose first stream takes ``delay`` s per chunk (a stream slower than real time);
    counts the streams opened. Everything else is the wrapped engine's."""

    def __init__(self, inner: Transcriber, delay: float) -> None:
        self.inner, self.delay, self.opened = inner, delay, 0
        self.lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def stream(self, sample_rate: int, grammar: Any = None) -> SpeechStream:
        stream = self.inner.stream(sample_rate, grammar)
        with self.lock:
            self.opened += 1
            slow = self.opened == 1
        if not slow:
            return stream
        delay = self.delay

        class Slow:
            def accept(self, pcm: bytes) -> list[StreamResult]:
                time.sleep(delay)
                return stream.accept(pcm)

            def set_grammar(self, phrases: Any) -> None:
                stream.set_grammar(phrases)

            def finish(self) -> list[StreamResult]:
                return stream.finish()

            def close(self) -> None:
                stream.close()

        return Slow()


def with_flow(hub: StreamHub, flow: Flow) -> None:
    hub.config = replace(hub.config, flow=flow)


class FakeTwilioHttp:
    """Twilio's HTTP layer, faked: the real ``twilio.rest.Client`` builds the REST request and
    this records it (method, URL, form data, auth) and answers like api.twilio.com."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def client(self, account_sid: str, token: str) -> Any:
        from twilio.http import HttpClient
        from twilio.http.response import Response
        from twilio.rest import Client

        fake = self

        class Http(HttpClient):
            def __init__(self) -> None:
                super().__init__(logging.getLogger("tests.twilio"), is_async=False)

            def request(self, method: str, uri: str, params: Any = None, data: Any = None, **kw: Any) -> Response:
                call_sid = uri.rsplit("/", 1)[-1].removesuffix(".json")
                with fake.lock:
                    fake.requests.append({"method": method, "uri": uri, "data": dict(data or {}), "auth": kw["auth"]})
                body: dict[str, Any] = {"sid": call_sid, "account_sid": account_sid, "status": "in-progress"}
                if fake.status >= 400:
                    body = {"code": 20404, "message": "The requested resource was not found", "status": fake.status}
                return Response(fake.status, json.dumps(body))

        return Client(account_sid, token, http_client=Http())

    def for_call(self, call_sid: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.requests if r["uri"].endswith(f"/Calls/{call_sid}.json")]
