"""The review rules: merging human scores with automatic ones, the human total, who may resolve."""

from __future__ import annotations

import math

import pytest

from store.errors import ScoreInputError
from workspace import rules


def test_human_total_rules() -> None:
    auto = {"a": {"score": 8.0, "max": 10.0}, "b": {"score": None, "max": 5.0}, "c": {"score": 0.0, "max": 0.0}}
    for bad in (12.0, -1.0, math.nan, math.inf):  # beyond the item's max, negative, not finite: refused
        with pytest.raises(ScoreInputError, match="「a」"):
            rules.merge_items(auto, {"a": bad}, {})
    items = rules.merge_items(auto, {"a": 10.0, "b": 3.0, "c": 1.0}, {"a": "ok"})
    assert items["a"]["human"] == 10.0 and not items["a"]["confirmed"]
    assert items["b"]["human"] is None and items["c"]["human"] == 0.0  # n/a and auto-fail checks stay
    assert rules.human_total(80.0, False, items, False) == 82.0
    assert rules.human_total(0.0, True, items, False) == 10.0  # reviewer lifts an auto-fail
    assert rules.human_total(80.0, False, items, True) == 0.0


def test_who_may_resolve_a_dispute() -> None:
    reviewer, raiser, other = 1, 2, 3
    assert rules.resolve_refusal(other, "qa", reviewer, raiser) is None
    assert "original reviewer" in str(rules.resolve_refusal(reviewer, "qa", reviewer, raiser))
    assert "raised the dispute" in str(rules.resolve_refusal(raiser, "supervisor", reviewer, raiser))
    assert rules.resolve_refusal(reviewer, "admin", reviewer, raiser) is None  # an admin always may


def test_who_may_score_in_a_calibration() -> None:
    from store.models_review import CalibrationSession

    cal = CalibrationSession(call_id=7, reviewer_ids=[1, 2], status="open")
    assert rules.calibration_refusal(cal, 7, 1, scored=False) is None
    assert "does not match" in str(rules.calibration_refusal(None, 7, 1, scored=False))
    assert "does not match" in str(rules.calibration_refusal(cal, 8, 1, scored=False))
    assert "not a reviewer" in str(rules.calibration_refusal(cal, 7, 3, scored=False))
    assert "already scored" in str(rules.calibration_refusal(cal, 7, 1, scored=True))
    cal.status = "closed"
    assert "closed" in str(rules.calibration_refusal(cal, 7, 1, scored=False))


def test_revised_items_keep_the_automatic_scores_and_notes() -> None:
    original = rules.merge_items(
        {"a": {"name": "问候", "score": 8.0, "max": 10.0}, "b": {"name": "结束语", "score": 5.0, "max": 5.0}},
        {"a": 6.0},
        {"a": "语气生硬"},
    )
    revised = rules.revised_items(original, {"a": 9.0, "b": None})
    assert revised["a"] == {
        "name": "问候",
        "auto": 8.0,
        "human": 9.0,
        "max": 10.0,
        "confirmed": False,
        "note": "语气生硬",
    }
    assert revised["b"]["human"] == 5.0 and revised["b"]["confirmed"]
    with pytest.raises(ScoreInputError, match="「问候」"):
        rules.revised_items(original, {"a": 11.0})


def test_calibration_spread_leaves_out_broken_numbers() -> None:
    from store.models_review import Review

    def r(human: object, total: float) -> Review:
        return Review(items={"a": {"auto": 8.0, "human": human, "max": 10.0}}, total=total)

    spread = rules.calibration_spread([r(6.0, 70.0), r(9.0, 76.0), r(math.nan, math.inf)])
    assert spread["items"]["a"]["values"] == [6.0, 9.0] and spread["items"]["a"]["range"] == 3.0
    assert spread["total"]["range"] == 6.0 and spread["n"] == 3
