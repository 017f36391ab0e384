"""A call's facts from hand-built event sequences: retried and out-of-order callbacks, midnight."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from kpi.facts import CallFacts, EventRow, facts_of

T0 = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
KINDS = {"main": "menu", "order": "menu", "order.status": "info", "survey": "survey", "agent": "transfer"}


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def call(**kw: object) -> dict[str, object]:
    base: dict[str, object] = {"id": 1, "started_at": T0, "ended_at": None, "status": "in-progress", "outcome": ""}
    base.update(kw)
    return base


def answered_events() -> list[EventRow]:
    return [
        EventRow(at(0), "start", "main"),
        EventRow(at(8), "node", "agent"),
        EventRow(at(8), "transfer", "agent", {"skill": "general"}),
        EventRow(at(8 + 40 + 200), "queue-leg", "agent", {"result": "bridged", "wait_s": 40.0}),
        EventRow(at(249), "node", "survey"),
        EventRow(at(255), "survey", "survey", {"score": 2}),
    ]


def test_answered_after_a_wait() -> None:
    row = call(ended_at=at(260), status="completed", duration_s=260.0, outcome="transferred")
    f = facts_of(row, answered_events(), node_kinds=KINDS)
    assert f.offered and f.answered and not f.abandoned
    assert f.wait_s == 40.0
    # 260 s call - 8 s in the IVR - 40 s waiting - 12 s after the agent (248 -> 260) = 200 s talk
    assert f.talk_s == 200.0
    assert f.enqueued_at == at(8)
    assert f.survey_score == 2 and f.surveyed_at == at(255)
    assert f.path == (("main", 0.0), ("agent", 8.0), ("survey", 249.0))
    assert not f.contained and f.hangup_node == ""


def test_order_of_events_does_not_matter() -> None:
    row = call(ended_at=at(260), status="completed", duration_s=260.0, outcome="transferred")
    evs = answered_events()
    want = facts_of(row, evs, node_kinds=KINDS)
    rng = random.Random(3)
    for _ in range(5):
        rng.shuffle(evs)
        assert facts_of(row, evs, node_kinds=KINDS) == want


def test_abandoned_in_queue_by_queue_result() -> None:
    evs = [
        EventRow(at(0), "start", "main"),
        EventRow(at(5), "transfer", "agent", {"skill": "general"}),
        EventRow(at(95), "queue-leg", "agent", {"result": "hangup", "wait_s": 90.0}),
    ]
    f = facts_of(call(ended_at=at(95), status="completed", duration_s=95.0, outcome="transferred"), evs)
    assert f.offered and f.abandoned and not f.answered and f.wait_s == 90.0 and f.leg_result == "hangup"
    assert f.hangup_node == ""  # a hang-up in the queue is not a menu drop-off


def test_status_before_the_queue_action_counts_as_abandoned_until_it_arrives() -> None:
    evs = [EventRow(at(0), "start", "main"), EventRow(at(5), "transfer", "agent")]
    row = call(ended_at=at(35), status="completed", duration_s=35.0)
    f = facts_of(row, evs)
    assert f.abandoned and f.wait_s == 30.0
    late = [*evs, EventRow(at(36), "queue-leg", "agent", {"result": "hangup", "wait_s": 29.5})]
    assert facts_of(row, late).wait_s == 29.5  # Twilio's own figure replaces our estimate


def test_dial_leg_answered_and_canceled() -> None:
    evs = [
        EventRow(at(0), "start", "main"),
        EventRow(at(10), "transfer", "agent"),
        EventRow(at(10 + 12 + 300), "dial-leg", "agent", {"status": "completed", "talk_s": 300.0}),
    ]
    f = facts_of(call(), evs)
    assert f.answered and f.talk_s == 300.0 and f.wait_s == 12.0
    evs[-1] = EventRow(at(13), "dial-leg", "agent", {"status": "canceled"})
    f = facts_of(call(), evs)
    assert f.abandoned and f.wait_s == 3.0 and f.talk_s is None


def test_failed_leg_then_answered_on_retry() -> None:
    evs = [
        EventRow(at(0), "start", "main"),
        EventRow(at(1), "transfer", "agent"),
        EventRow(at(31), "dial-leg", "agent", {"status": "no-answer"}),
        EventRow(at(40), "transfer", "agent"),
        EventRow(at(100), "dial-leg", "agent", {"status": "completed", "talk_s": 50.0}),
    ]
    f = facts_of(call(), evs)
    assert f.answered and f.leg_result == "completed"


def test_hangup_mid_menu_is_not_contained() -> None:
    evs = [
        EventRow(at(0), "start", "main"),
        EventRow(at(6), "node", "order"),
        EventRow(at(20), "caller-hangup", "order"),
    ]
    f = facts_of(call(ended_at=at(20), status="completed", outcome="abandoned"), evs, node_kinds=KINDS)
    assert f.hangup_node == "order" and f.hangup_at == at(20) and not f.contained and not f.offered


def test_self_service_answer_is_contained_even_if_caller_hangs_up_after_it() -> None:
    evs = [
        EventRow(at(0), "start", "main"),
        EventRow(at(6), "node", "order.status"),
        EventRow(at(30), "caller-hangup", "order.status"),
    ]
    f = facts_of(call(ended_at=at(30), status="completed", outcome="self-service"), evs, node_kinds=KINDS)
    assert f.contained and f.hangup_node == "order.status"


def test_callback_request_is_not_contained() -> None:
    evs = [
        EventRow(at(0), "start", "main"),
        EventRow(at(3), "agents-closed", "agent"),
        EventRow(at(9), "callback", "agent.callback"),
    ]
    f = facts_of(call(ended_at=at(12), status="completed", outcome="callback"), evs)
    assert f.callback_requested and f.agents_closed and not f.contained and not f.offered


def test_naive_times_from_sqlite_are_utc_and_rows_round_trip() -> None:
    naive = T0.replace(tzinfo=None)
    f = facts_of(call(started_at=naive, ended_at=naive + timedelta(seconds=9)), [EventRow(naive, "start", "main")])
    assert f.started_at == T0
    assert CallFacts.from_row(f.to_row()) == f
