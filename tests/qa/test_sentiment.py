from pathlib import Path

import numpy as np
import pytest

from qa.scorers.sentiment import (
    MODEL_PATH,
    classify,
    default_model,
    dialogue_sentiment,
    label,
    lexicon_score,
    load_model,
    save_model,
    text_sentiment,
)
from tests.conftest import need_shared
from zhtext.match import compact

from .helpers import dlg


def test_shipped_model_is_small_and_loads() -> None:
    assert MODEL_PATH.exists()
    assert MODEL_PATH.stat().st_size < 2_000_000
    m = default_model()
    assert m is not None and len(m.index) > 10_000
    assert m.meta["trained_files"]  # records what it was trained on (held-out halves stay honest)


@pytest.mark.parametrize(
    ("text", "polarity"),
    [
        ("不是很满意", "negative"),  # negation flips 满意
        ("没有问题", "positive"),
        ("不错", "positive"),
        ("还行吧", "positive"),
        ("谢 谢", "positive"),  # ASR spacing
        ("太差了，再也不买了", "negative"),
        ("我要投诉你们", "negative"),
        ("不太好", "negative"),
        ("服务态度很好，物流也快", "positive"),
        ("快递太慢了，等了一个星期", "negative"),
        ("質量很好，很滿意", "positive"),  # traditional characters
    ],
)
def test_classify_table(text: str, polarity: str) -> None:
    score = classify(text)
    assert -1.0 <= score <= 1.0
    assert label(score) == polarity


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("不是很满意", -1.0, -0.2),
        ("没有问题", 0.1, 1.0),
        ("满意", 0.5, 1.0),
        ("不满意", -1.0, -0.5),
        ("好的", 0.0, 0.5),
    ],
)
def test_lexicon_negation(text: str, low: float, high: float) -> None:
    score, _ = lexicon_score(compact(text))
    assert low <= score <= high


def test_neutral_service_questions_are_damped() -> None:
    # review-trained models read questions as complaints; in dialogue mode they stay near 0
    s = text_sentiment("能改下收货地址吗")
    assert s.model is not None and s.model < 0
    assert abs(s.score) < abs(s.model)


def test_dialogue_sentiment_quarters_trend_and_anger() -> None:
    d = dlg(
        ("c", "怎么还没发货，太慢了，我要投诉"),
        ("a", "非常抱歉给您带来不便，我马上为您催促"),
        ("c", "好吧"),
        ("a", "已经为您加急处理了"),
        ("c", "好的，谢谢，解决了"),
        ("a", "不客气，祝您生活愉快"),
    )
    s = dialogue_sentiment(d)
    assert s.angry
    assert s.complaint_turns == (0,)
    assert s.trend > 0.5  # from angry to thankful
    assert len(s.quarters["customer"]) == 4
    q = s.quarters["customer"]  # by turn index in chat: customer turns 0, 2, 4 of 6
    assert q[0] is not None and q[2] is not None and q[3] is None
    assert q[0] < 0 < q[2]
    assert s.evidence[0].phrase == "投诉" and s.evidence[0].turn == 0
    assert all(-1 <= t.score <= 1 for t in s.turns)


def test_quarters_use_time_when_present() -> None:
    d = dlg(("c", "太差了", 0, 1), ("c", "还是很差", 2, 3), ("c", "谢谢", 97, 99), ("a", "好的", 99, 100))
    s = dialogue_sentiment(d)
    q = s.quarters["customer"]
    assert q[0] is not None and q[1] is None and q[2] is None and q[3] is not None


def test_model_round_trip(tmp_path: Path) -> None:
    p = tmp_path / "m.npz"
    save_model(p, ["好", "差", "很好"], np.array([2.0, -2.0, 1.0]), np.array([1.0, 1.5, 2.0]), 0.1, {"ngram_max": 2})
    m = load_model(p)
    assert m.decision("很好") > 0 > m.decision("差")
    assert m.decision("xyz") == pytest.approx(0.1)


def test_accuracy_on_a_held_out_sample() -> None:
    """A slice of the held-out halves (the full figures come from `hotline qa eval`)."""
    from qa.eval import load_items, split_half

    for name, floor in (("online-shopping-10-cats", 0.88), ("waimai-10k", 0.84)):
        items = split_half(load_items(need_shared("qa-data", name, "items.tsv")))[1][:600]
        acc = sum(label(classify(t)) == lab for lab, t in items) / len(items)
        assert acc >= floor, (name, acc)
