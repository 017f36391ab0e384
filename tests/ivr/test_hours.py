"""Business hours are a pure function of a datetime and the hours data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from ivr.hours import HoursError, agents_open, load_hours, parse_hours

from .helpers import HOURS_PATH

SH = timezone(timedelta(hours=8))


@pytest.mark.parametrize(
    ("when", "skill", "open_"),
    [
        (datetime(2026, 11, 23, 8, 0, tzinfo=SH), "general", True),  # opens at 08:00
        (datetime(2026, 11, 23, 7, 59, tzinfo=SH), "general", False),
        (datetime(2026, 11, 23, 22, 59, tzinfo=SH), "payment", True),
        (datetime(2026, 11, 23, 23, 0, tzinfo=SH), "payment", False),  # closes at 23:00
        (datetime(2026, 11, 23, 3, 0, tzinfo=SH), "security", True),  # 24 h queue
        (datetime(2026, 11, 28, 10, 0, tzinfo=SH), "enterprise", False),  # Saturday
        (datetime(2026, 11, 27, 17, 59, tzinfo=SH), "enterprise", True),
        (datetime(2026, 2, 16, 19, 0, tzinfo=SH), "general", False),  # 除夕 closes at 18:00
        (datetime(2026, 2, 16, 10, 0, tzinfo=SH), "general", True),
        (datetime(2026, 2, 17, 12, 0, tzinfo=SH), "enterprise", False),  # 春节: closed for this queue only
        (datetime(2026, 2, 17, 12, 0, tzinfo=SH), "general", True),
        (datetime(2026, 2, 17, 3, 0, tzinfo=SH), "security", False),  # holiday hours apply to every queue
        (datetime(2026, 11, 23, 4, 0, tzinfo=UTC), "general", True),  # any zone: converted to Shanghai
        (datetime(2026, 11, 22, 16, 0, tzinfo=UTC), "general", False),  # 00:00 in Shanghai
    ],
)
def test_agents_open(when: datetime, skill: str, open_: bool) -> None:
    assert agents_open(load_hours(HOURS_PATH), skill, when) is open_


def test_naive_datetime_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        agents_open(load_hours(HOURS_PATH), "general", datetime(2026, 1, 1, 12))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"queues": {"x": {"mon": "09:00-18:00"}}}, "queue 'default' is missing"),
        ({"queues": {"default": {"mon": "18:00-09:00"}}}, "ends before it starts"),
        ({"queues": {"default": {"funday": "09:00-18:00"}}}, "unknown day 'funday'"),
        ({"queues": {"default": {"mon": "nine to five"}}}, "is not HH:MM-HH:MM"),
        ({"timezone": "Mars/Base", "queues": {"default": {}}}, "unknown timezone"),
        ({"queues": {"default": {}}, "holidays": [{"date": "2026-13-01"}]}, "is not YYYY-MM-DD"),
        # the old parser closed queues 'e', 'n', 't', ... for a string, and ignored a misspelt section
        (
            {"queues": {"default": {}}, "holidays": [{"date": "2026-10-01", "queues": "enterprise"}]},
            "holiday '2026-10-01' queues: expected a list, got 'enterprise'",
        ),
        ({"queues": {"default": {}}, "holiday": [{"date": "2026-10-01"}]}, r"top level: unknown keys \['holiday'\]"),
    ],
)
def test_bad_hours(data: dict, message: str) -> None:
    with pytest.raises(HoursError, match=message):
        parse_hours(data, "hours.yaml")


def test_timezone_comes_from_the_setting_unless_the_file_names_one() -> None:
    noon_utc = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # 20:00 in Shanghai, 12:00 in London
    late_utc = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # 00:00 in Shanghai, 16:00 in London
    assert agents_open(load_hours(HOURS_PATH), "general", late_utc) is False
    assert agents_open(load_hours(HOURS_PATH, default_tz="Europe/London"), "general", late_utc) is True
    own = parse_hours({"timezone": "Asia/Tokyo", "queues": {"default": {"daily": "09:00-18:00"}}}, default_tz="UTC")
    assert own.timezone == "Asia/Tokyo" and agents_open(own, "x", noon_utc) is False


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # PyYAML's own ValueError escaped for an impossible date: not an HoursError, so no clear refusal
        ("queues:\n  default: {daily: '08:00-23:00'}\nholidays:\n  - date: 2026-13-01\n", "line 4: '2026-13-01'"),
        # a queue given twice: the old loader silently kept the last
        ("queues:\n  default: {daily: '08:00-23:00'}\n  default: {daily: closed}\n", "duplicate key 'default'"),
    ],
)
def test_bad_hours_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "hours.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(HoursError) as exc:
        load_hours(path)
    assert str(exc.value).startswith(f"{path}: ") and message in str(exc.value)
