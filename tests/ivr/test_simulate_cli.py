"""`hotline simulate` against a real `hotline serve` subprocess (waitress, SQLite, signed requests)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from hotline.cli.simulate import _scan

from .helpers import ROOT

pytestmark = pytest.mark.slow  # end to end: real server or model decoding (make test-fast skips)

HOTLINE = [str(Path(sys.executable).parent / "hotline")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    data = tmp_path_factory.mktemp("serve")
    env = {**os.environ, "HOTLINE_DATA_DIR": str(data), "HOTLINE_TWILIO_AUTH_TOKEN": "test-token"}
    port = _free_port()
    env["HOTLINE_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [*HOTLINE, "serve", "--port", str(port)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if requests.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            proc.kill()
            pytest.fail("hotline serve did not start: " + (proc.stdout.read().decode() if proc.stdout else ""))
        yield url, env
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def simulate(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HOTLINE, "simulate", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_press_2_3_reaches_refund_progress(server: tuple[str, dict[str, str]]) -> None:
    url, env = server
    out = simulate(env, "--url", url, "--press", "2", "--press", "3", "--expect", "payment.refund")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "退款进度查询" in out.stdout and "main > payment > payment.refund" in out.stdout


def test_say_reaches_refund_progress(server: tuple[str, dict[str, str]]) -> None:
    url, env = server
    out = simulate(env, "--url", url, "--say", "我要退款", "--say", "退款进度", "--expect", "payment.refund")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "退款进度查询" in out.stdout and "caller says 我要退款" in out.stdout


def test_wrong_token_is_refused(server: tuple[str, dict[str, str]]) -> None:
    url, env = server
    out = simulate({**env, "HOTLINE_TWILIO_AUTH_TOKEN": "not-the-token"}, "--url", url, "--press", "2")
    assert out.returncode == 3 and "HTTP 403" in out.stdout
    r = requests.post(url + "/ivr/voice", data={"CallSid": "CA" + "1" * 32}, headers={"X-Twilio-Signature": "forged"})
    assert r.status_code == 403


def test_unreachable_server_is_an_error(server: tuple[str, dict[str, str]]) -> None:
    _, env = server
    out = simulate(env, "--url", f"http://127.0.0.1:{_free_port()}", "--press", "2")
    assert out.returncode == 3


def test_steps_keep_command_line_order() -> None:
    args = ["--url", "u", "--say", "我要退款", "--press", "3", "--silence", "--press=9", "--say=好"]
    assert _scan(args) == [("say", "我要退款"), ("press", "3"), ("silence", ""), ("press", "9"), ("say", "好")]


def test_cli_help() -> None:
    from hotline.cli import cli

    out = CliRunner().invoke(cli, ["simulate", "--help"])
    assert out.exit_code == 0 and "--press" in out.output
