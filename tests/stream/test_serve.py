"""`hotline serve` (waitress) with the Media Streams server on its own port: a replayed call
is heard and redirected, while the webhooks keep answering on the main port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from ivr.stream_replay import load_fixture, prepare, replay
from tests.conftest import ROOT
from tests.ivr.helpers import sign
from tests.stream.conftest import STREAMS, TOKEN, ko_model_dir, write_ko_menu

HOTLINE = str(Path(sys.executable).parent / "hotline")
CALL = "CA" + "5" * 32


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_runs_the_stream_server_beside_waitress(tmp_path: Path) -> None:
    port, ws_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "HOTLINE_DATA_DIR": str(tmp_path / "var"),
        "HOTLINE_TWILIO_AUTH_TOKEN": TOKEN,
        "HOTLINE_PUBLIC_URL": base,
        "HOTLINE_MENU_PATH": str(write_ko_menu(tmp_path / "ko.yaml")),
        "HOTLINE_STREAM_MODE": "1",
        "HOTLINE_STREAM_URL": f"ws://127.0.0.1:{ws_port}/ivr/stream",
        "HOTLINE_STREAM_MODEL": str(ko_model_dir()),
    }
    cmd = [HOTLINE, "serve", "--port", str(port), "--ws-port", str(ws_port)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(200):
            try:
                if requests.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        form = {"CallSid": CALL, "From": "+8613800000000"}
        r = requests.post(
            base + "/ivr/voice", data=form, headers={"X-Twilio-Signature": sign(base + "/ivr/voice", form)}, timeout=5
        )
        assert r.status_code == 200 and f'url="ws://127.0.0.1:{ws_port}/ivr/stream"' in r.text
        time.sleep(4)  # the model loads in the background at start-up (~3 s)
        fx = load_fixture(STREAMS / "ko_delivery_mode1.jsonl")
        res = replay(env["HOTLINE_STREAM_URL"], prepare(fx.messages, TOKEN, call_sid=CALL), speed=2.0)
        assert res.sent == len(fx.messages)
        time.sleep(0.5)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert "Media Streams WebSocket on ws://127.0.0.1" in out
    assert "grammar tokens are not in the speech model's vocabulary" in out  # Chinese labels, Korean model
    assert f"stream: call {CALL} redirected (/ivr/stream/speech)" in out, out[-3000:]
    assert TOKEN not in out  # the secret never reaches the log
