"""`hotline live replay` refuses what is not a two-channel call with a clear message, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from hotline.cli.live import live_group, stream_url_for
from tests.conftest import ROOT

FIX = ROOT / "audio_fixtures"


@pytest.mark.parametrize(
    ("file", "extra", "message"),
    [
        ("ko_delivery_8k_mulaw.wav", [], "1 channel(s); a call recording has two"),
        ("not_audio.wav", [], "cannot decode"),
        ("ko_live_call_8k.wav", ["--call-sid", "x;y"], "--call-sid"),
        ("ko_live_call_8k.wav", ["--ws-url", "ws://127.0.0.1:9/ivr/stream"], "cannot stream to"),
    ],
)
def test_replay_refuses_clearly(tmp_path: Path, file: str, extra: list[str], message: str) -> None:
    r = CliRunner().invoke(
        live_group,
        ["replay", str(FIX / file), "--url", "http://127.0.0.1:9", *extra],
        env={"HOTLINE_DATA_DIR": str(tmp_path)},
    )
    assert r.exit_code == 1 and message in r.output, r.output
    assert isinstance(r.exception, SystemExit)  # a ClickException's exit, not a crash


def test_the_stream_socket_beside_a_server() -> None:
    assert stream_url_for("http://127.0.0.1:8000") == "ws://127.0.0.1:8001/ivr/stream"
    assert stream_url_for("https://ivr.example.com") == "wss://ivr.example.com/ivr/stream"
    assert stream_url_for("http://x:8000", "wss://y/ivr/stream") == "wss://y/ivr/stream"
