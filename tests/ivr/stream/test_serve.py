"""`hotline serve` (waitress) with the Media Streams server on its own port: a replayed call
is heard and redirected, while the webhooks keep answering on the main port."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from ivr.stream.replay import load_fixture, prepare, replay
from tests.conftest import ROOT
from tests.ivr.helpers import sign
from tests.ivr.stream.conftest import STREAMS, TOKEN, always_open, ko_model_dir, write_ko_menu

pytestmark = pytest.mark.slow  # end to end: real server or model decoding (make test-fast skips)

HOTLINE = str(Path(sys.executable).parent / "hotline")
CALL = "CA" + "5" * 32
FORM = {"CallSid": CALL, "From": "+8613800000000"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    """A running `hotline serve`: its URLs, environment and its log (complete once stopped)."""

    base: str
    env: dict[str, str]
    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    @property
    def out(self) -> str:
        return "".join(self.lines)

    def logged(self, text: str, timeout: float = 120) -> None:
        """Wait until the log says ``text`` (the start-up work happens in the background, and
        takes longer on a loaded machine than on an idle one)."""
        end = time.monotonic() + timeout
        while text not in self.out:
            assert time.monotonic() < end and self.proc.poll() is None, self.out[-3000:]
            time.sleep(0.1)

    def voice(self) -> requests.Response:
        """The call's first webhook, signed."""
        return requests.post(self.base + "/ivr/voice", data=FORM, headers=signed(self.base + "/ivr/voice"), timeout=5)


def signed(url: str) -> dict[str, str]:
    return {"X-Twilio-Signature": sign(url, FORM)}


@contextmanager
def serve(tmp_path: Path, mode: str, **extra: str) -> Iterator[Served]:
    """`hotline serve` with the stream server on its own port and the Korean test menu and model;
    stopped on exit, its output kept in ``Served.out``."""
    port, ws_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "HOTLINE_DATA_DIR": str(tmp_path / "var"),
        "HOTLINE_TWILIO_AUTH_TOKEN": TOKEN,
        "HOTLINE_PUBLIC_URL": base,
        "HOTLINE_MENU_PATH": str(write_ko_menu(tmp_path / "ko.yaml")),
        "HOTLINE_STREAM_MODE": mode,
        "HOTLINE_STREAM_URL": f"ws://127.0.0.1:{ws_port}/ivr/stream",
        "HOTLINE_STREAM_MODEL": str(ko_model_dir()),
        **extra,
    }
    env.pop("HOTLINE_TWILIO_ACCOUNT_SID", None)  # no REST account: redirects are logged, not sent
    cmd = [HOTLINE, "serve", "--port", str(port), "--ws-port", str(ws_port)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    served = Served(base, env, proc)
    out = proc.stdout
    assert out is not None
    reader = threading.Thread(target=lambda: served.lines.extend(out), daemon=True)  # line by line, as it comes
    reader.start()
    try:
        for _ in range(200):
            try:
                if requests.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        yield served
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        reader.join(10)


def test_serve_runs_the_stream_server_beside_waitress(tmp_path: Path) -> None:
    with serve(tmp_path, "1") as srv:
        r = srv.voice()
        ws_url = srv.env["HOTLINE_STREAM_URL"]
        assert r.status_code == 200 and f'url="{ws_url}"' in r.text
        srv.logged("grammar tokens are not in the speech model's vocabulary")  # the model is loaded
        fx = load_fixture(STREAMS / "ko_delivery_mode1.jsonl")
        res = replay(ws_url, prepare(fx.messages, TOKEN, call_sid=CALL), speed=2.0)
        assert res.sent == len(fx.messages)
        time.sleep(0.5)
    out = srv.out
    assert "Media Streams WebSocket on ws://127.0.0.1" in out
    assert "grammar tokens are not in the speech model's vocabulary" in out  # Chinese labels, Korean model
    assert f"stream: call {CALL} redirected (/ivr/stream/speech)" in out, out[-3000:]
    assert TOKEN not in out  # the secret never reaches the log


def test_serve_mode2_plays_real_prompts_and_transfers(tmp_path: Path) -> None:
    """Mode 2 against `hotline serve`: the welcome is real TTS audio on the socket, a key cuts it
    (``clear``), the flow runs in the stream server and the webhooks' store sees the transfer."""
    import sqlite3

    with serve(tmp_path, "2", HOTLINE_HOURS_PATH=str(always_open(tmp_path / "hours.yaml"))) as srv:
        r = srv.voice()
        assert r.status_code == 200 and "<Connect><Stream" in r.text
        srv.logged("prompts rendered or found in the cache")  # the model and the prompts, at start-up
        fx = load_fixture(STREAMS / "keypress_mode2.jsonl")
        msgs = prepare(fx.messages, TOKEN, call_sid=CALL)
        for m in msgs:
            if m["event"] == "dtmf":
                m["dtmf"]["digit"] = "0"  # the agent
        res = replay(srv.env["HOTLINE_STREAM_URL"], msgs, speed=1.0, settle_s=1.0)
        kinds = [m["event"] for m in res.received]
        assert "media" in kinds and "clear" in kinds and kinds.index("media") < kinds.index("clear")
        audio = b"".join(base64.b64decode(m["media"]["payload"]) for m in res.events("media"))
        assert len(set(audio)) > 50  # speech from the TTS command, not silence
        db = sqlite3.connect(tmp_path / "var" / "hotline.db")
        (state,) = db.execute("select flow_state from calls where call_sid = ?", (CALL,)).fetchone()
        state = json.loads(state)
        assert state["node"] == "agent" and state["phase"] == "transferred"
        path = f"/ivr/stream/resume?s={state['seq']}"
        r = requests.post(srv.base + path, data=FORM, headers=signed(srv.base + path), timeout=5)
        assert r.status_code == 200 and "<Enqueue" in r.text
    assert f"stream: call {CALL} cannot be redirected" in srv.out, srv.out[-3000:]
    assert TOKEN not in srv.out


UPGRADE = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Key": base64.b64encode(b"0123456789abcdef").decode(),
    "Sec-WebSocket-Version": "13",
}


def test_a_websocket_upgrade_on_the_http_port_is_a_clear_4xx(tmp_path: Path) -> None:
    """Waitress cannot carry the socket: an upgrade there says where the socket is, not 500;
    on the stream port a handshake with a wrong X-Twilio-Signature is refused before the upgrade."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    with serve(tmp_path, "1") as srv:
        r = requests.get(srv.base + "/ivr/stream", headers=UPGRADE, timeout=5)
        assert r.status_code == 400 and "--ws-port" in r.text, (r.status_code, r.text)
        r = requests.get(srv.base + "/ivr/stream", timeout=5)
        assert r.status_code == 400 and "WebSocket" in r.text
        with pytest.raises(InvalidStatus) as err:
            connect(srv.env["HOTLINE_STREAM_URL"], additional_headers={"X-Twilio-Signature": "forged"}, open_timeout=5)
        assert err.value.response.status_code == 403
    assert "stream: handshake refused: bad X-Twilio-Signature" in srv.out
    assert "Traceback" not in srv.out


def test_no_stream_server_while_streams_are_off(tmp_path: Path) -> None:
    """HOTLINE_STREAM_MODE empty: nothing listens on the stream port, so no stream of any mode
    (here a Mode 2 stream signed with the real token) is accepted."""
    with serve(tmp_path, "") as srv:
        r = srv.voice()
        assert r.status_code == 200 and "<Stream" not in r.text
        fx = load_fixture(STREAMS / "keypress_mode2.jsonl")
        with pytest.raises(OSError):  # connection refused
            replay(srv.env["HOTLINE_STREAM_URL"], prepare(fx.messages, TOKEN, call_sid=CALL), speed=0)
        r = requests.get(srv.base + "/ivr/stream", headers=UPGRADE, timeout=5)
        assert r.status_code == 404 and "HOTLINE_STREAM_MODE" in r.text
    assert "Media Streams are off" in srv.out and "Media Streams WebSocket on" not in srv.out
