"""The IVR fuzzer in the suite: random callers find no exception and no dead end (a long run: tests/ivr/fuzz.py)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ivr.flow import Flow
from ivr.flow_types import State, Step

from .fuzz import fuzz_flow, fuzz_http, http_app, make_flows

CALLS = int(os.environ.get("HOTLINE_FUZZ_CALLS", "400"))  # a few seconds; `python -m tests.ivr.fuzz` for more
SEED = int(os.environ.get("HOTLINE_FUZZ_SEED", "12"))


def test_flow_engine_has_no_dead_end() -> None:
    report = fuzz_flow(make_flows(), CALLS, SEED)
    assert (report.exceptions, report.dead_ends) == (0, 0), "\n".join(report.problems)
    assert report.calls == CALLS and report.steps > 3 * CALLS


def test_signed_webhooks_have_no_dead_end(tmp_path: Path) -> None:
    with http_app(tmp_path / "var") as (post, menu):
        report = fuzz_http(post, menu, max(20, CALLS // 8), SEED)
    assert (report.exceptions, report.dead_ends) == (0, 0), "\n".join(report.problems)
    assert report.steps > 5 * report.calls


class NeverGivesUp(Flow):
    """A broken engine: no input is retried for ever instead of ending in a transfer."""

    def _fail(self, st: State, kind: str, now: Any, *, message: str = "") -> Step:
        return self._prompt(replace(st, no_input=0, no_match=0), self.menu.node(st.node))


class Mute(Flow):
    """A broken engine: the retry prompt is silent."""

    def _fail(self, st: State, kind: str, now: Any, *, message: str = "") -> Step:
        return replace(super()._fail(st, kind, now, message=message), say=("",))


@pytest.mark.parametrize(("broken", "found"), [(NeverGivesUp, "silence never ends"), (Mute, "silent gather")])
def test_the_fuzzer_finds_dead_ends(broken: type[Flow], found: str) -> None:
    good = make_flows()[0]
    report = fuzz_flow([broken(good.menu, good.hours)], 60, SEED)
    assert report.dead_ends > 0 and any(found in p for p in report.problems), report.problems


def test_the_http_fuzzer_finds_dead_ends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ivr.webhooks.render", lambda step, **kw: "<Response><Say>再见</Say></Response>")
    with http_app(tmp_path / "var") as (post, menu):
        report = fuzz_http(post, menu, 5, SEED)
    assert report.dead_ends == 5 and "a dead end from /ivr/voice" in report.problems[0]
