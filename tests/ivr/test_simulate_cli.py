"""`hotline simulate` against a real `hotline serve` subprocess (waitress, SQLite, signed requests)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
import requests
from click.testing import CliRunner

from hotline.cli.simulate import _scan
from tests.serving import free_port, hotline_serve
from tests.serving import simulate as run_simulate

pytestmark = pytest.mark.slow  # end to end: real server (make test-fast skips)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    with hotline_serve(tmp_path_factory.mktemp("serve")) as served:
        yield served


def simulate(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_simulate(env, *args, timeout=60)


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
    out = simulate(env, "--url", f"http://127.0.0.1:{free_port()}", "--press", "2")
    assert out.returncode == 3


def test_steps_keep_command_line_order() -> None:
    args = ["--url", "u", "--say", "我要退款", "--press", "3", "--silence", "--press=9", "--say=好"]
    assert _scan(args) == [("say", "我要退款"), ("press", "3"), ("silence", ""), ("press", "9"), ("say", "好")]


def test_cli_help() -> None:
    from hotline.cli import cli

    out = CliRunner().invoke(cli, ["simulate", "--help"])
    assert out.exit_code == 0 and "--press" in out.output
