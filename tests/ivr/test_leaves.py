"""Every leaf of the menu is reached by keypad and by speech keywords, and the example scripts work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ivr.example_scripts import keypad_script, leaves, speech_script
from ivr.simulate import Simulator, parse_script

from .helpers import OPEN, ROOT, SignedClient, menu

LEAVES = leaves(menu())
EXAMPLES = ROOT / "ivr" / "examples"


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ivr.webhooks._now", lambda: OPEN)


def test_leaves_cover_the_scope() -> None:
    assert len(LEAVES) == 24  # 4+4+4+4+4+3 items and the agent
    assert "agent" in LEAVES and "payment.refund" in LEAVES


def walk(app: Any, lines: list[str]) -> Any:
    steps, expect = parse_script("\n".join(lines))
    sim = Simulator("http://localhost", "test-token", post=SignedClient(app.test_client()).poster())
    return sim.run(steps), expect


@pytest.mark.parametrize("how", ["keypad", "speech"])
def test_every_leaf(app: Any, how: str) -> None:
    make = keypad_script if how == "keypad" else speech_script
    for leaf in LEAVES:
        steps, expect = make(menu(), leaf)
        res, _ = walk(app, steps)
        assert res.ok, (leaf, res.end, res.detail)
        assert expect in res.nodes, (leaf, how, res.nodes)
        kind = menu().nodes[leaf].kind
        assert res.end == ("transfer" if kind == "transfer" else "hang-up"), leaf


def test_example_files_exist_and_work(app: Any) -> None:
    files = sorted(EXAMPLES.glob("*.txt"))
    assert {p.name for p in files} == {f"{leaf}.{s}.txt" for leaf in LEAVES for s in ("press", "say")}
    for path in files:
        res, expect = walk(app, path.read_text(encoding="utf-8").splitlines())
        assert res.ok and expect in res.nodes, (path.name, res.nodes)


def test_transfer_then_survey_by_script(app: Any) -> None:
    res, _ = walk(app, ["press 0", "press 5"])
    assert res.ok and res.nodes[-1] == "survey" and res.end == "hang-up"


def test_dead_end_detected() -> None:
    def post(url: str, data: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        return 200, '<?xml version="1.0"?><Response><Say>hello</Say></Response>'

    res = Simulator("http://x", "t", post=post).run([])
    assert not res.ok and res.end == "dead-end" and res.exit_code == 2


def test_http_error_detected() -> None:
    res = Simulator("http://x", "t", post=lambda u, d, h: (500, "boom")).run([])
    assert not res.ok and res.exit_code == 3


def test_script_parsing(tmp_path: Path) -> None:
    steps, expect = parse_script("# c\npress 2\n\nsay 我要退款\nsilence\nexpect payment\n")
    assert [(s.kind, s.value) for s in steps] == [("press", "2"), ("say", "我要退款"), ("silence", "")]
    assert expect == "payment"
    with pytest.raises(ValueError):
        parse_script("jump 3")
