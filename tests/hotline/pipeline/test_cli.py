"""The CLI contract: `hotline demo` then `hotline calls --json`; `hotline ingest` (resumable) and `hotline jobs`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from hotline.cli import cli
from tests.conftest import ROOT, need_shared

pytestmark = pytest.mark.slow  # end to end: real server or model decoding (make test-fast skips)


def _env(tmp_path: Path) -> dict[str, str]:
    models = need_shared("models", "whisper-base-ct2")
    return {
        "HOTLINE_DATA_DIR": str(tmp_path / "var"),
        "HOTLINE_DATABASE_URL": "",
        "HOTLINE_REDIS_URL": "",
        "HOTLINE_SPEECH_ENGINE": "whisper",
        "HOTLINE_WHISPER_MODEL": str(models),
        "HOTLINE_SHARED_DIR": str(models.parent.parent),
        "HOTLINE_LOG_LEVEL": "WARNING",
    }


def _calls(runner: CliRunner, env: dict[str, str]) -> list[dict[str, object]]:
    res = runner.invoke(cli, ["calls", "--json"], env=env)
    assert res.exit_code == 0, res.output
    rows: list[dict[str, object]] = json.loads(res.stdout)
    return rows


def test_demo_then_calls_json(tmp_path: Path) -> None:
    """Without ../shared/calls-dev (a bare clone): calls assembled from utterances, made-up agents."""
    env = _env(tmp_path)
    shared = tmp_path / "shared"
    (shared / "speech").mkdir(parents=True)
    (shared / "speech" / "zh").symlink_to(need_shared("speech", "zh"))
    env["HOTLINE_SHARED_DIR"] = str(shared)
    runner = CliRunner()
    res = runner.invoke(cli, ["demo", "--calls", "2", "--seconds", "8"], env=env)
    assert res.exit_code == 0, res.output
    assert "speech model: configured" in res.output and "2 scored" in res.output
    rows = _calls(runner, env)
    assert len(rows) == 2
    for r in rows:
        assert r["pipeline_state"] == "scored" and isinstance(r["total_score"], float)
        assert r["agent"] and r["outcome"] == "transferred" and r["start"]


def test_demo_plays_the_development_calls(tmp_path: Path) -> None:
    """With ../shared/calls-dev: its recordings, agents and teams, dated within the last weeks
    (one call, the shortest, to keep the test's transcription short)."""
    env = _env(tmp_path)
    dev = need_shared("calls-dev")
    shared = tmp_path / "shared"
    (shared / "calls-dev").mkdir(parents=True)
    (shared / "calls-dev" / "call-14.wav").symlink_to(dev / "call-14.wav")
    meta = [ln for ln in (dev / "metadata.csv").read_text().splitlines() if ln.startswith("call_id") or "call-14" in ln]
    (shared / "calls-dev" / "metadata.csv").write_text("\n".join(meta) + "\n")
    gold = [ln for ln in (dev / "calls.jsonl").read_text().splitlines() if '"call-14.wav"' in ln]
    (shared / "calls-dev" / "calls.jsonl").write_text(gold[0] + "\n")
    env["HOTLINE_SHARED_DIR"] = str(shared)
    runner = CliRunner()
    res = runner.invoke(cli, ["demo"], env=env)
    assert res.exit_code == 0, res.output
    assert "1 development calls" in res.output and "1 scored" in res.output
    (row,) = _calls(runner, env)
    agent, team = meta[1].split(",")[2:4]
    assert row["agent"] == agent and row["team"] == {"after-sales": "售后组", "logistics": "物流组"}[team]
    start = datetime.fromisoformat(str(row["start"]))
    assert timedelta(0) < datetime.now(UTC) - start < timedelta(weeks=1)
    assert start.astimezone(timezone(timedelta(hours=8))).time() == time(9, 21, 6)  # its hour, as in metadata
    assert row["pipeline_state"] == "scored" and isinstance(row["total_score"], float)


def test_ingest_is_resumable_and_failures_are_listed(tmp_path: Path) -> None:
    env = _env(tmp_path)
    from hotline.simcalls import CallBuilder, speech_sources

    archive = tmp_path / "archive"
    builder = CallBuilder(speech_sources(Path(env["HOTLINE_SHARED_DIR"]), ROOT / "audio_fixtures")[:6], seed=5)
    builder.write(archive / "C100_A1001_team1_20261120-101500.wav", 8)
    builder.write(archive / "sub" / "c101.wav", 8)
    (archive / "broken.wav").write_bytes(b"RIFF" + b"\x00" * 200)
    (archive / "notes.txt").write_text("not audio")
    meta = tmp_path / "meta.csv"
    meta.write_text(
        "file,call_id,agent_id,team,start_time,caller\nsub/c101.wav,C101,A2,t2,2026-11-21T09:00:00+08:00,+8613912345678\n"
    )
    runner = CliRunner()
    res = runner.invoke(cli, ["ingest", str(archive), "--metadata", str(meta)], env=env)
    assert res.exit_code == 0, res.output
    assert "3 new" in res.output and "summary: 2 scored, 1 failed" in res.output
    rows = {r["call_sid"]: r for r in _calls(runner, env)}
    assert rows["ingest:C100"]["agent"] == "A1001" and rows["ingest:C100"]["start"] == "2026-11-20T10:15:00+00:00"
    assert rows["ingest:C101"]["team"] == "t2" and rows["ingest:C101"]["start"] == "2026-11-21T01:00:00+00:00"
    assert rows["ingest:broken"]["pipeline_state"] == "failed"

    again = runner.invoke(cli, ["ingest", str(archive), "--metadata", str(meta)], env=env)
    assert again.exit_code == 0 and "0 new, 3 already ingested" in again.output
    assert len(_calls(runner, env)) == 3

    listed = runner.invoke(cli, ["jobs", "list", "--status", "failed", "--json"], env=env)
    failed = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(j["step"], j["attempts"]) for j in failed] == [("fetch", "1/3")]
    assert "corrupt recording" in failed[0]["error"]
    retried = runner.invoke(cli, ["jobs", "retry", "--all-failed"], env=env)
    assert retried.exit_code == 0 and "requeued 1 job(s)" in retried.output
    assert runner.invoke(cli, ["jobs", "list", "--status", "queued", "--json"], env=env).stdout.count("\n") == 1
