"""Every figure on small sets of calls whose values were worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from kpi.definitions import (
    by_day,
    by_hour,
    figures,
    followup_due,
    followup_state,
    funnel,
    live,
    met,
)
from kpi.facts import CallFacts

T0 = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
SH = ZoneInfo("Asia/Shanghai")


def fc(i: int, **kw: object) -> CallFacts:
    base: dict[str, object] = {"call_id": i, "started_at": T0, "ended": True}
    base.update(kw)
    return CallFacts(**base)  # type: ignore[arg-type]


CALLS = [
    fc(1, offered=True, answered=True, wait_s=10.0, talk_s=100.0, path=(("main", 0), ("agent", 5))),
    fc(2, offered=True, answered=True, wait_s=30.0, talk_s=200.0, survey_score=2),
    fc(3, offered=True, answered=True, wait_s=200.0, survey_score=5),
    fc(4, offered=True, abandoned=True, wait_s=60.0),
    fc(5, offered=True, abandoned=True, wait_s=3.0),  # a short abandon
    fc(6, offered=True, leg_result="queue-full", wait_s=0.0),
    fc(
        7, contained=True, outcome="self-service", survey_score=4, path=(("main", 0), ("order", 4), ("order.status", 9))
    ),
    fc(8, outcome="abandoned", hangup_node="order", path=(("main", 0), ("order", 4))),
    fc(9, callback_requested=True, agents_closed=True, outcome="callback"),
    fc(10, contained=True, outcome="self-service", survey_score=3),
]


def test_hand_counted_figures() -> None:
    f = figures(CALLS, callbacks_done=1)
    assert (f.calls, f.offered, f.answered, f.abandoned, f.short_abandoned, f.failed, f.waiting) == (
        10,
        6,
        3,
        1,
        1,
        1,
        0,
    )
    assert f.offered == f.answered + f.abandoned + f.short_abandoned + f.failed + f.waiting
    assert f.answer_rate == 0.5  # 3 / 6
    assert f.abandon_rate == round(1 / 6, 4)
    assert f.avg_wait_s == 80.0  # (10 + 30 + 200) / 3
    assert f.avg_wait_all_s == round((10 + 30 + 200 + 60 + 3 + 0) / 6, 2)  # 50.5
    assert f.longest_wait_s == 200.0
    assert f.service_level == 0.2  # 1 answered within 20 s / (6 offered - 1 short)
    assert f.containment_rate == 0.2  # calls 7 and 10
    assert f.aht_s == 150.0  # (100 + 200) / 2 (call 3's talk unknown)
    assert (f.surveys, f.survey_avg, f.survey_low, f.survey_low_share) == (4, 3.5, 2, 0.5)
    assert (f.callbacks_requested, f.callbacks_done, f.agents_closed) == (1, 1, 1)


def test_service_level_threshold_is_a_parameter() -> None:
    assert figures(CALLS, sl_threshold_s=30).service_level == 0.4  # 10 s and 30 s: 2 / 5
    assert figures(CALLS, short_abandon_s=2).short_abandoned == 0


def test_nothing_to_count_gives_none_not_zero() -> None:
    f = figures([])
    assert f.calls == 0 and f.answer_rate is None and f.avg_wait_s is None and f.service_level is None


def test_waiting_calls_are_offered_but_not_resolved() -> None:
    f = figures([fc(1, offered=True, ended=False)])
    assert (f.offered, f.waiting, f.failed, f.answer_rate) == (1, 1, 0, 0.0)


def test_funnel_counts_each_call_once_per_node_and_hangups_as_left() -> None:
    loop = fc(11, outcome="abandoned", hangup_node="main", path=(("main", 0), ("order", 3), ("main", 8)))
    steps = funnel([*CALLS, loop], order=["main", "order", "order.status", "agent"])
    assert [(s.node, s.entered, s.left) for s in steps] == [
        ("main", 4, 1),  # calls 1, 7, 8 and 11 (twice, counted once)
        ("order", 3, 1),
        ("order.status", 1, 0),
        ("agent", 1, 0),
    ]


def test_hours_and_days_are_local_and_a_call_across_midnight_counts_on_its_start_day() -> None:
    late = fc(1, started_at=datetime(2026, 11, 23, 15, 59, 50, tzinfo=UTC), offered=True, answered=True, wait_s=30.0)
    hours = by_hour([late], SH)
    assert hours[23].answered == 1 and sum(h.calls for h in hours.values()) == 1
    days = by_day([late], SH, datetime(2026, 11, 23).date(), datetime(2026, 11, 25).date())
    assert [d.calls for d in days.values()] == [1, 0]


def test_targets() -> None:
    assert met("answer_rate", 0.95) is True and met("answer_rate", 0.9499) is False
    assert met("avg_wait_s", 180) is True and met("avg_wait_s", 181) is False
    assert met("aht_s", 10) is None and met("answer_rate", None) is None


def test_followups() -> None:
    due = followup_due(T0)
    assert due == T0 + timedelta(hours=48)
    assert followup_state(due, None, T0 + timedelta(hours=47)) == "open"
    assert followup_state(due, None, T0 + timedelta(hours=49)) == "overdue"
    assert followup_state(due, T0 + timedelta(hours=3), T0 + timedelta(hours=90)) == "done"
    assert followup_state(due, T0 + timedelta(hours=50), T0 + timedelta(hours=90)) == "done-late"


@pytest.mark.parametrize(
    ("active", "want"),
    [
        ([], (0, 0, None)),
        ([(False, None), (True, T0 - timedelta(seconds=30)), (True, T0 - timedelta(seconds=95))], (1, 2, 95.0)),
    ],
)
def test_live(active: list[tuple[bool, datetime | None]], want: tuple[int, int, float | None]) -> None:
    got = live(active, T0)
    assert (got.in_ivr, got.waiting, got.longest_wait_s) == want


def test_rollup_changes_take_the_old_share_out() -> None:
    from kpi.definitions import contribution, funnel_marks, rollup_changes

    waiting = fc(1, offered=True, ended=False, path=(("main", 0), ("agent", 3)))
    done = fc(1, offered=True, answered=True, wait_s=30.0, talk_s=60.0, path=(("main", 0), ("agent", 3)))
    key = ("2026-11-23", 12, "", "general")
    old = (key, contribution(waiting, "waiting", False), funnel_marks(waiting))
    new = (key, contribution(done, "answered", False), funnel_marks(done))
    assert rollup_changes(None, old) == [(key, old[1], {"main": (1, 0), "agent": (1, 0)})]
    ((k, sums, nodes),) = rollup_changes(old, new)
    assert k == key and nodes == {} and sums["waiting"] == -1 and sums["answered"] == 1 and sums["calls"] == 0
    assert sums["wait_answered_sum"] == 30.0
    moved = (("2026-11-23", 12, "售后一组", "general"), new[1], new[2])
    out = rollup_changes(old, moved)
    assert [o[0] for o in out] == [key, moved[0]] and out[0][1]["calls"] == -1 and out[1][1]["calls"] == 1
