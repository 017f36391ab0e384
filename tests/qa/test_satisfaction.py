from qa.scorers.satisfaction import default_weights, satisfaction
from qa.scorers.sentiment import dialogue_sentiment
from tests.conftest import need_shared

from .helpers import dlg


def sat(d):
    return satisfaction(d, dialogue_sentiment(d))


def test_resolved_beats_unresolved() -> None:
    happy = dlg(("c", "我的快递到哪了"), ("a", "已经为您查询到，明天送达"), ("c", "好的，谢谢，解决了"))
    angry = dlg(
        ("c", "我的快递到哪了"),
        ("a", "请联系商家"),
        ("c", "问了好几次了，至今没人回复，太差了，我要投诉"),
        ("a", "请拨打客服电话"),
        ("c", "到现在还没解决？"),
    )
    h, a = sat(happy), sat(angry)
    assert -1 <= a.value < 0 < h.value <= 1
    notes = {e.note for e in a.evidence}
    assert {"unresolved", "transfer/deflection"} <= notes
    assert a.features["repeats"] >= 0 and a.features["unresolved_last"] == 1.0


def test_no_customer_turns_is_unknown() -> None:
    assert sat(dlg(("a", "您好"))).value == 0.0


def test_weights_are_the_fitted_ones() -> None:
    w = default_weights()
    assert "bias" in w and w["last"] > 0  # the last customer turn's sentiment pushes up


def test_spearman_on_held_out_stc3_half() -> None:
    from qa.dialogue import from_record
    from qa.eval import iter_jsonl, spearman, split_half

    records = list(iter_jsonl(need_shared("qa-data", "stc3-weibo-helpdesk", "dialogues.jsonl")))
    part = split_half(records)[1]
    pred = [sat(from_record(r)).value for r in part]
    gold = [r["customer_satisfaction_S_mean"] for r in part]
    assert spearman(pred, gold) >= 0.5
