"""End to end: `hotline serve` with live calls on, and `hotline live replay` playing Twilio's part
with two-channel recordings (the Korean fixture through the real Vosk model; calls-dev when
../shared is there). Latency is measured in benchmarks/live.py, not asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from ivr.stream.replay import both_tracks_messages, replay
from ivr.stream.signing import stream_parameters
from speech.audio import decode, pcm_to_ulaw
from tests.conftest import ROOT, need_shared
from tests.ivr.stream.conftest import TOKEN
from tests.ivr.stream.test_serve import HOTLINE, Served, serve

SCORECARD = ROOT / "qa" / "scorecards" / "default.yaml"
FIXTURE = ROOT / "audio_fixtures" / "ko_live_call_8k.wav"


def _script() -> list[tuple[int, str, float, int]]:
    """What the fixture says, from the script that made it."""
    sys.path.insert(0, str(ROOT / "audio_fixtures"))
    try:
        import make_live_call  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    return list(make_live_call.SCRIPT)


SCRIPT = _script()


def ko_scorecard(path: Path) -> Path:
    """The default scorecard, plus the fixture's Korean insult as abuse (a Korean model hears Korean)."""
    data = yaml.safe_load(SCORECARD.read_text(encoding="utf-8"))
    data["forbidden"].append({"phrase": "바보", "category": "abuse"})
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("live")
    with serve(
        tmp,
        "",
        HOTLINE_LIVE_CALLS="1",
        HOTLINE_LIVE_MAX_CALLS="3",
        HOTLINE_SCORECARD_PATH=str(ko_scorecard(tmp / "card.yaml")),
        HOTLINE_KNOWLEDGE_DIR=str(tmp / "no-docs"),
    ) as srv:
        srv.logged("Media Streams WebSocket on")
        yield srv


def live_replay(srv: Served, wav: Path, *extra: str) -> list[dict[str, Any]]:
    cmd = [HOTLINE, "live", "replay", str(wav), "--url", srv.base, "--speed", "0", "--json", "--wait", "300", *extra]
    out = subprocess.run(cmd, env=srv.env, capture_output=True, text=True, timeout=400, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


def spoken(channel: int) -> list[tuple[str, float, float]]:
    """(text, start, end) of what the fixture says on ``channel`` (end from the audio length)."""
    audio = decode(FIXTURE, rate=8000)
    x = abs(audio.channels[channel].astype(int))
    out = []
    for ch, text, start, _ in SCRIPT:
        if ch == channel:
            s = int(start * 8000)
            e = s
            while e < len(x) and x[e : e + 1600].max(initial=0) > 300:
                e += 800
            out.append((text, start, e / 8000))
    return out


def test_replayed_call_gives_turns_per_speaker_and_alerts_in_time(server: Served) -> None:
    events = live_replay(server, FIXTURE)
    turns = [e for e in events if e["type"] == "turn"]
    alerts = [e for e in events if e["type"] == "alert"]
    for speaker in ("customer", "agent"):
        mine = [t for t in turns if t["speaker"] == speaker]
        assert mine and [t["start"] for t in mine] == sorted(t["start"] for t in mine)
        assert all(set(t) >= {"speaker", "start", "end", "text"} and t["start"] <= t["end"] for t in mine)
    customer = spoken(0)
    said = [t for t in turns if t["speaker"] == "customer"]
    assert len(said) == len(customer)  # one turn per utterance, none from the agent's channel
    for t, (_, start, end) in zip(said, customer, strict=True):
        assert start - 0.5 <= t["start"] and t["end"] <= end + 0.5
    insult_end = spoken(1)[0][2]
    forbidden = [a for a in alerts if a["kind"] == "forbidden"]
    assert forbidden and forbidden[0]["evidence"] == "바보" and forbidden[0]["detail"] == "abuse"
    assert abs(forbidden[0]["time"] - insult_end) <= 2.0  # alerted at the phrase, on the stream clock
    silence = [a for a in alerts if a["kind"] == "silence"]
    assert len(silence) == 1 and 3.0 <= silence[0]["time"] <= 5.0 and float(silence[0]["evidence"].split()[1]) >= 5.0
    assert {"greeting", "closing"} <= {a.get("detail") for a in alerts if a["kind"] == "missing"}


def test_a_broken_stream_resumes_and_nothing_is_lost(server: Served) -> None:
    audio = decode(FIXTURE, rate=8000)
    caller, agent = (pcm_to_ulaw(c.tobytes()) for c in audio.channels)
    call = "CA" + "7" * 32
    cut = 8000 * 6  # the stream breaks 6 s in (after the insult, in the silence)
    url = server.env["HOTLINE_STREAM_URL"]
    first = both_tracks_messages(caller[:cut], agent[:cut], call, stream_parameters(TOKEN, call, "live"))
    replay(url, first[:-1], speed=0, settle_s=0.5)  # no ``stop``: the socket just closes
    rest = both_tracks_messages(caller[cut:], agent[cut:], call, stream_parameters(TOKEN, call, "live"))
    replay(url, rest, speed=0, settle_s=0.5)
    events = wait_ended(server, call)
    texts = [e for e in events if e["type"] == "turn"]
    assert [t["speaker"] for t in texts].count("customer") == 2 and [t["speaker"] for t in texts].count("agent") == 1
    second = [t for t in texts if t["speaker"] == "customer"][-1]
    assert second["start"] > 6.0  # the resumed stream's clock continues the call's
    assert [e for e in events if e["type"] == "alert" and e["kind"] == "forbidden"]


def test_the_events_api_needs_the_token_and_the_socket_needs_a_signature(server: Served) -> None:
    r = requests.get(f"{server.base}/live/calls/CA{'1' * 32}/events", timeout=5)
    assert r.status_code == 403
    r = requests.get(f"{server.base}/live/calls/not-a-sid/events", timeout=5)
    assert r.status_code == 404
    audio = decode(FIXTURE, rate=8000)
    call = "CA" + "8" * 32
    msgs = both_tracks_messages(
        pcm_to_ulaw(audio.channels[0].tobytes()), b"", call, stream_parameters("wrong", call, "live")
    )
    res = replay(server.env["HOTLINE_STREAM_URL"], msgs, speed=0, settle_s=0.5)
    assert res.closed_by_server and res.sent < len(msgs)


def wait_ended(srv: Served, call: str, timeout: float = 300) -> list[dict[str, Any]]:
    import time

    from twilio.request_validator import RequestValidator

    url = f"{srv.base}/live/calls/{call}/events"
    sig = RequestValidator(TOKEN).compute_signature(url, {})
    end = time.monotonic() + timeout
    while True:
        data = requests.get(url, headers={"X-Twilio-Signature": sig}, timeout=10).json()
        if data["status"] == "ended" or time.monotonic() > end:
            assert data["status"] == "ended"
            return list(data["events"])
        time.sleep(0.3)


@pytest.mark.shared
def test_a_calls_dev_recording_keeps_caller_and_agent_apart(server: Served) -> None:
    calls = need_shared("calls-dev")
    row = json.loads((calls / "calls.jsonl").read_text(encoding="utf-8").splitlines()[0])
    limit = 20.0
    events = live_replay(server, calls / row["file"], "--limit", str(limit))
    turns = [e for e in events if e["type"] == "turn"]
    gold = [t for t in row["turns"] if t["start"] < limit]
    assert turns
    for t in turns:  # each turn lies over a gold turn of the same speaker (the Korean model's words are noise)
        mid = (t["start"] + t["end"]) / 2
        near = [g for g in gold if g["start"] - 0.7 <= mid <= g["end"] + 0.7]
        assert any(g["role"] == t["speaker"] for g in near), (t, near)
    assert {t["speaker"] for t in turns} == {"customer", "agent"}


@pytest.fixture(scope="module")
def whisper_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    model = need_shared("models", "whisper-base-ct2")
    tmp = tmp_path_factory.mktemp("live-whisper")
    with serve(
        tmp,
        "",
        HOTLINE_LIVE_CALLS="1",
        HOTLINE_LIVE_ENGINE="whisper",
        HOTLINE_LIVE_MODEL=str(model),
        HOTLINE_KNOWLEDGE_DIR=str(tmp / "no-docs"),
    ) as srv:
        srv.logged("Media Streams WebSocket on")
        yield srv


@pytest.mark.shared
@pytest.mark.slow
def test_whisper_live_turns_are_the_words_of_each_side(whisper_server: Served) -> None:
    """HOTLINE_LIVE_ENGINE=whisper end to end: each utterance decoded when the VAD closes it, turns per
    speaker in order, over the gold turns of that speaker, and mostly the words that were said."""
    from speech.evaluate import cer

    calls = need_shared("calls-dev")
    row = json.loads((calls / "calls.jsonl").read_text(encoding="utf-8").splitlines()[0])
    limit = max(g["end"] for g in row["turns"] if g["end"] <= 20.0) + 0.3  # between two turns
    gold = [g for g in row["turns"] if g["end"] <= limit]
    events = live_replay(whisper_server, calls / row["file"], "--limit", str(limit))
    turns = [e for e in events if e["type"] == "turn"]
    assert {t["speaker"] for t in turns} == {"customer", "agent"}
    for speaker in ("customer", "agent"):
        mine = [t for t in turns if t["speaker"] == speaker]
        assert [t["start"] for t in mine] == sorted(t["start"] for t in mine)
        heard = "".join(t["text"] for t in mine)
        said = "".join(g["text"] for g in gold if g["role"] == speaker)
        assert cer([(said, heard)], numbers=True) < 0.5, (speaker, said, heard)
    for t in turns:
        mid = (t["start"] + t["end"]) / 2
        assert any(g["role"] == t["speaker"] and g["start"] - 0.7 <= mid <= g["end"] + 0.7 for g in row["turns"]), t


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
