"""The call's flow state in the store: the one reader and writer the webhooks and the streams share."""

from __future__ import annotations

from typing import Any

from ivr.callstate import CallStates, record_first_step, record_step, state_of
from ivr.flow_types import Event, State
from store import calls as repo
from store.db import transaction

from .helpers import OPEN

CALL = "CA" + "6" * 32


def stored(app: Any, call_sid: str) -> Any:
    with transaction(app.extensions["hotline"]["sessions"]) as s:
        call = repo.get_call(s, call_sid)
        return None if call is None else (dict(call.flow_state or {}), call.outcome, call.skill, list(call.menu_path))


def test_a_stream_step_is_stored_where_the_webhooks_read_it(app: Any) -> None:
    ivr = app.extensions["hotline"]["ivr"]
    states = CallStates(ivr.rows, ivr.flow, ivr.writing)
    assert states.load(CALL) is None  # no such call yet
    step = ivr.flow.step(None, Event("start"), now=OPEN)
    step = ivr.flow.step(step.state, Event("digits", digits="0"), now=OPEN)  # the agent
    states.save(CALL, step)
    states.save(CALL, step)  # the same step again (a retried effect): stored once
    loaded = states.load(CALL)
    assert loaded is not None and loaded.node == step.state.node and loaded.seq == step.state.seq
    flow_state, outcome, skill, path = stored(app, CALL)
    assert flow_state["_last"] is None  # a stream's step has no TwiML answer to repeat
    assert outcome == "transferred" and skill == step.skill and path == list(step.state.path)
    with ivr.rows.begin() as tx:
        call_id = tx.call_id(CALL)
        assert call_id is not None and tx.seen_key(call_id, f"stream:{CALL}:{step.state.seq}")


def test_a_webhook_step_keeps_its_answer_for_retries(app: Any) -> None:
    ivr = app.extensions["hotline"]["ivr"]
    step = ivr.flow.step(None, Event("start"), now=OPEN)
    with ivr.rows.begin() as tx:
        call, created = tx.load_or_create(CALL)
        record_step(tx, call, step, f"voice:{CALL}", twiml="<Response/>", caller="+8613800000000")
    assert created
    assert stored(app, CALL)[0]["_last"] == {"key": f"voice:{CALL}", "twiml": "<Response/>"}


def test_a_new_call_and_its_first_step_are_one_insert(app: Any) -> None:
    """/ivr/voice's path: the call row is created with its first state; a second insert finds it."""
    ivr = app.extensions["hotline"]["ivr"]
    step = ivr.flow.step(None, Event("start"), now=OPEN)
    with ivr.rows.begin() as tx:
        call_id = record_first_step(
            tx, CALL, step, f"voice:{CALL}", twiml="<Response/>", caller_masked="+86138****0000"
        )
        again = record_first_step(tx, CALL, step, f"voice:{CALL}", twiml="<Other/>", caller_masked="")
    assert call_id is not None and again is None
    flow_state, _, _, path = stored(app, CALL)
    assert flow_state["_last"] == {"key": f"voice:{CALL}", "twiml": "<Response/>"} and path == list(step.state.path)
    with transaction(app.extensions["hotline"]["sessions"]) as s:
        call = repo.get_call(s, CALL)
        assert call is not None and call.caller_masked == "+86138****0000" and call.status == "in-progress"
        assert call.started_at is not None and call.pipeline_state == "" and call.recording_url == ""
        kinds = [e.kind for e in call.events]
    assert kinds == [n.kind for n in step.notes]


def test_a_state_that_no_longer_fits_the_menu_is_none(app: Any) -> None:
    menu = app.extensions["hotline"]["ivr"].flow.menu
    assert state_of({**State(node="main", seq=2).to_dict(), "_last": None}, menu) == State(node="main", seq=2)
    assert state_of({"node": "a-node-removed-from-the-menu", "seq": 2}, menu) is None
    assert state_of({"node": "main", "seq": "not a number"}, menu) is None
    assert state_of(None, menu) is None and state_of({}, menu) is None
