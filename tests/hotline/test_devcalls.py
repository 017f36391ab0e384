"""The development calls as demo calls: metadata read strictly, dates moved by whole weeks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from hotline.devcalls import caller_number, read_dev_calls, spread_dates

from ..conftest import need_shared


def _folder(tmp_path: Path, rows: list[str]) -> Path:
    (tmp_path / "call-01.wav").write_bytes(b"RIFF")
    (tmp_path / "call-02.wav").write_bytes(b"RIFF")
    (tmp_path / "metadata.csv").write_text("call_id,file,agent_id,team,started_at,caller\n" + "\n".join(rows) + "\n")
    (tmp_path / "calls.jsonl").write_text(
        '{"file": "call-01.wav", "duration": 47.5}\n{"file": "call-02.wav", "duration": "nan"}\nnot json\n'
    )
    return tmp_path


def test_metadata_rows_are_read_or_skipped_with_a_reason(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        [
            "CA1,call-01.wav,ag-1,logistics,2026-11-16T10:46:38+08:00,153****3298",
            "CA2,call-02.wav,ag-2,night-shift,2026-11-17T09:00:00+08:00,",
            "CA3,call-03.wav,ag-3,logistics,2026-11-17T09:00:00+08:00,",  # no such recording
            "CA4,../call-01.wav,ag-3,logistics,2026-11-17T09:00:00+08:00,",  # outside the folder
            "CA5,call-01.wav,ag-3,logistics,yesterday,",
            "CA6,call-01.wav,ag-3,logistics,2026-11-17T09:00:00,",  # no offset: which zone?
            "CA7,call-01.wav,,logistics,2026-11-17T09:00:00+08:00,",
        ],
    )
    calls, skipped = read_dev_calls(folder)
    assert [(c.path.name, c.agent_id, c.team, c.duration) for c in calls] == [
        ("call-01.wav", "ag-1", "物流组", 47.5),
        ("call-02.wav", "ag-2", "night-shift", 0.0),  # unknown team kept as is; NaN duration unknown
    ]
    assert calls[0].started_at == datetime(2026, 11, 16, 2, 46, 38, tzinfo=UTC)
    assert len(skipped) == 5 and all(s.startswith("metadata.csv line ") for s in skipped)
    assert read_dev_calls(tmp_path / "nope") == ([], [])


def test_dates_spread_over_weeks_keeping_weekday_and_hour(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        [
            "CA1,call-01.wav,ag-1,logistics,2026-11-16T10:46:38+08:00,",
            "CA2,call-02.wav,ag-2,logistics,2026-11-20T19:17:27+08:00,",
            "CA3,call-01.wav,ag-1,logistics,2026-11-18T08:00:00+08:00,",
        ],
    )
    calls, _ = read_dev_calls(folder)
    now = datetime(2026, 12, 14, 3, 0, tzinfo=UTC)
    moved = spread_dates(calls, now, weeks=3)
    deltas = [m.started_at - c.started_at for m, c in zip(moved, calls, strict=True)]
    assert all(d % timedelta(weeks=1) == timedelta(0) for d in deltas)  # same weekday and time of day
    assert [d // timedelta(weeks=1) for d in deltas] == [3, 2, 1]  # the k-th call k weeks further back
    assert max(m.started_at for m in spread_dates(calls, now, weeks=1)) > now - timedelta(weeks=1)
    assert all(m.started_at <= now for m in moved)
    assert spread_dates([], now) == []


def test_caller_number_matches_the_masked_one() -> None:
    assert caller_number("153****3298", 7) == "+8615300073298"
    assert caller_number("", 12345678) == "+8613812345678"
    assert caller_number("15x****3298", 1) == "+8613800000001"


def test_the_development_calls_all_parse() -> None:
    calls, skipped = read_dev_calls(need_shared("calls-dev"))
    assert len(calls) == 20 and skipped == []
    assert all(c.duration > 30 and c.team in ("售后组", "物流组") for c in calls)
