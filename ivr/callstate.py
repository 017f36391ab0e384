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

from sqlalchemy import Connection, Engine, select

from ivr.flow import Flow
from ivr.flow_types import State, Step
from ivr.menu import Menu
from store import calls as repo
from store.calls import CALLS


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


def record_step(
    conn: Connection, call: repo.CallState, step: Step, key: str, *, twiml: str | None, caller: str = ""
) -> None:
    """Write one step: the new state (with the answer ``twiml`` for retries, if any), events and
    the call's summary. ``key`` makes the write idempotent; ``caller``: the number for a callback."""
    st = step.state
    last = {"key": key, "twiml": twiml} if twiml is not None else None
    values: dict[str, Any] = {"flow_state": {**st.to_dict(), "_last": last}, "menu_path": list(st.path)}
    if st.outcome and st.outcome != call.outcome:
        values["outcome"] = st.outcome
    if step.action == "transfer" and step.skill:
        values["skill"] = step.skill
    if step.survey_score is not None:
        values["survey_score"] = step.survey_score
    if step.callback is not None:
        repo.add_callback_request(conn, call.id, number=caller, skill=step.callback)
    repo.save_step(conn, call.id, values, ((n.kind, n.node, n.detail) for n in step.notes), request_key=key)


class CallStates:
    """The streams' state store: the same column, and the same writer lock, as the webhooks."""

    def __init__(self, engine: Engine, flow: Flow, writing: Callable[[], Any] = contextlib.nullcontext) -> None:
        self.engine, self.flow, self.writing = engine, flow, writing

    def load(self, call_sid: str) -> State | None:
        with self.engine.connect() as conn:
            call_id = repo.find_call_id(conn, call_sid)
            if call_id is None:
                return None
            data = conn.execute(select(CALLS.c.flow_state).where(CALLS.c.id == call_id)).scalar()
        return state_of(data, self.flow.menu)

    def save(self, call_sid: str, step: Step) -> None:
        with self.writing(), self.engine.begin() as conn:
            call, _ = repo.load_state(conn, call_sid)
            record_step(conn, call, step, f"stream:{call_sid}:{step.state.seq}", twiml=None)
