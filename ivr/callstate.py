"""A call's flow state in the store, read and written in one place for the webhooks and the streams.

The state lives in the call's ``flow_state`` column (with, for the webhooks, the answer last
given, so a retried request gets it again); each step also writes its events, the call's summary
(outcome, skill, survey score, menu path) and a callback request when the caller asked for one.
Mode 1 streams read the state the webhooks wrote; Mode 2 streams write the steps they take.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any

from ivr.flow import Flow
from ivr.flow_types import State, Step
from ivr.menu import Menu
from store.callrows import CallRows, CallState, CallTx


def state_of(data: Mapping[str, Any] | None, menu: Menu) -> State | None:
    """The stored state, or None when there is none or it no longer fits the menu (a node removed)."""
    data = data or {}
    if not data.get("node"):
        return None
    try:
        state = State.from_dict(dict(data))
    except (KeyError, TypeError, ValueError):
        return None
    return state if state.node in menu.nodes else None


def step_values(outcome: str, step: Step, key: str, twiml: str | None) -> dict[str, Any]:
    """The call's columns after ``step`` (pure): the new state (with the answer ``twiml`` kept for
    retries, if any), the menu path, and the summary (outcome, skill, survey score) it changed.
    ``outcome``: the call's stored outcome."""
    st = step.state
    last = {"key": key, "twiml": twiml} if twiml is not None else None
    values: dict[str, Any] = {"flow_state": {**st.to_dict(), "_last": last}, "menu_path": list(st.path)}
    if st.outcome and st.outcome != outcome:
        values["outcome"] = st.outcome
    if step.action == "transfer" and step.skill:
        values["skill"] = step.skill
    if step.survey_score is not None:
        values["survey_score"] = step.survey_score
    return values


def step_events(step: Step) -> list[tuple[str, str, Mapping[str, Any]]]:
    return [(n.kind, n.node, n.detail) for n in step.notes]


def record_step(tx: CallTx, call: CallState, step: Step, key: str, *, twiml: str | None, caller: str = "") -> None:
    """Write one step: the new state, events and the call's summary. ``key`` makes the write
    idempotent; ``caller``: the number for a callback request, if the caller asked for one."""
    if step.callback is not None:
        tx.add_callback_request(call.id, number=caller, skill=step.callback)
    tx.save_step(call.id, step_values(call.outcome, step, key, twiml), step_events(step), request_key=key)


def record_first_step(
    tx: CallTx, call_sid: str, step: Step, key: str, *, twiml: str | None, caller_masked: str, caller: str = ""
) -> int | None:
    """A new call and its first step in one INSERT (then its events); None if the call already exists."""
    values = {
        "caller_masked": caller_masked,
        "status": "in-progress",
        **step_values("", step, key, twiml),
    }
    call_id = tx.create(call_sid, values)
    if call_id is None:
        return None
    if step.callback is not None:
        tx.add_callback_request(call_id, number=caller, skill=step.callback)
    tx.add_events(call_id, step_events(step), request_key=key)
    return call_id


class CallStates:
    """The streams' state store: the same column, and the same writer lock, as the webhooks."""

    def __init__(self, rows: CallRows, flow: Flow, writing: Callable[[], Any] = contextlib.nullcontext) -> None:
        self.rows, self.flow, self.writing = rows, flow, writing

    def load(self, call_sid: str) -> State | None:
        with self.rows.begin() as tx:
            call = tx.state(call_sid, lock=False)
        return None if call is None else state_of(call.flow_state, self.flow.menu)

    def save(self, call_sid: str, step: Step) -> None:
        with self.writing(), self.rows.begin() as tx:
            call, _ = tx.load_or_create(call_sid)
            record_step(tx, call, step, f"stream:{call_sid}:{step.state.seq}", twiml=None)
