"""The weekly sample's pure parts: local ISO weeks, even seeded assignment, the default policy."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from workspace.sampling_run import assign_evenly, build_policy, default_policy_data, default_week, week_bounds


def test_week_bounds_are_local_weeks() -> None:
    start, end = week_bounds("2026-W47", "Asia/Shanghai")
    assert start.astimezone(UTC) == datetime(2026, 11, 15, 16, 0, tzinfo=UTC)  # Monday 00:00 in Shanghai
    assert (end - start).days == 7
    with pytest.raises(ValueError):
        week_bounds("47", "Asia/Shanghai")


def test_assignment_is_even_and_seeded() -> None:
    picks = list(range(11))
    a = assign_evenly(picks, [3, 1, 2], seed=9)
    assert a == assign_evenly(picks, [1, 2, 3], seed=9)
    counts = sorted(a.count(u) for u in (1, 2, 3))
    assert counts == [3, 4, 4]
    assert assign_evenly(picks, [], seed=1) == [None] * 11


def test_policy_defaults_follow_the_course() -> None:
    pol = build_policy(default_policy_data())
    assert pol.random_per_agent_week == 3 and pol.min_duration_s == 60
    assert "complaint" in [r.reason for r in pol.rules]
    assert "complaint" not in [r.reason for r in build_policy({**default_policy_data(), "complaints": False}).rules]


def test_default_week_falls_back_to_the_newest_calls_week() -> None:
    tz = "Asia/Shanghai"
    monday_noon = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # Monday 12:00 in Shanghai, 2026-W48
    assert default_week(tz, None, monday_noon) == "2026-W48"
    assert default_week(tz, datetime(2026, 11, 23, 1, 0, tzinfo=UTC), monday_noon) == "2026-W48"
    # Sunday 23:30 Shanghai is still W47 although it is Sunday 15:30 UTC
    assert default_week(tz, datetime(2026, 11, 22, 15, 30, tzinfo=UTC), monday_noon) == "2026-W47"
    assert default_week(tz, datetime(2026, 11, 22, 16, 30, tzinfo=UTC), monday_noon) == "2026-W48"
    assert default_week(tz, datetime(2026, 10, 1, tzinfo=UTC), monday_noon) == "2026-W40"
