"""CLI numbers and ingest metadata: a bad value is a usage error naming it, never a run that cannot end."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from hotline.cli import cli


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (["demo", "--seconds", "nan"], "not a finite number"),
        (["demo", "--seconds", "inf"], "not a finite number"),
        (["demo", "--seconds", "1e999"], "not a finite number"),
        (["demo", "--seconds", "-3"], "outside 5..1800"),
        (["demo", "--calls", "0"], "--calls"),
        (["simulate", "--url", "http://127.0.0.1:9", "--confidence", "nan"], "not a finite number"),
        (["simulate", "--url", "http://127.0.0.1:9", "--confidence", "2"], "outside 0..1"),
        (["simulate", "--url", "http://127.0.0.1:9", "--max-steps", "-1"], "--max-steps"),
        (["serve", "--threads", "0"], "--threads"),
    ],
)
def test_bad_numbers_are_usage_errors(tmp_path: Path, args: list[str], why: str) -> None:
    res = CliRunner().invoke(cli, args, env={"HOTLINE_DATA_DIR": str(tmp_path / "var")})
    assert res.exit_code == 2 and why in res.output, res.output
    assert not (tmp_path / "var").exists()  # refused before anything ran


def test_ingest_takes_a_bad_time_in_a_file_name_as_no_time_and_marks_files_trusted(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    archive.mkdir()
    for name in ("CA1_A1_T1_20241399-250000.wav", "CA2_A2_T2_20240315-101500.wav"):
        with wave.open(str(archive / name), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(b"\0\0" * 800)
    env = {"HOTLINE_DATA_DIR": str(tmp_path / "var"), "HOTLINE_DATABASE_URL": "", "HOTLINE_REDIS_URL": ""}
    res = CliRunner().invoke(cli, ["ingest", str(archive), "--no-wait"], env=env)
    assert res.exit_code == 0, res.output
    assert "20241399-250000" in res.output and "start time not taken" in res.output
    from store.db import make_engine, session_factory, transaction
    from store.models import Call
    from store.models_pipeline import Recording

    engine = make_engine(f"sqlite:///{(tmp_path / 'var' / 'hotline.db').resolve()}")
    with transaction(session_factory(engine)) as s:
        assert [r.trusted_source for r in s.scalars(select(Recording))] == [True, True]
        starts = {c.call_sid: c.started_at for c in s.scalars(select(Call))}
    engine.dispose()
    assert starts["ingest:CA2"].replace(tzinfo=None).isoformat() == "2024-03-15T10:15:00"
