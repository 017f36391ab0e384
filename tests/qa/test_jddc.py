"""Real JD customer-service chats (JDDC 2019 development sample) with the evidence we expect."""

import pytest

from qa import from_record, load_scorecard, score_dialogue
from qa.eval import iter_jsonl
from tests.conftest import need_shared


@pytest.fixture(scope="module")
def jddc() -> dict[str, dict]:
    path = need_shared("qa-data", "jddc2019-sample", "dialogues.jsonl")
    return {r["id"]: r for r in iter_jsonl(path)}


def items(record: dict) -> dict:
    return score_dialogue(from_record(record)).to_dict()["items"]


def test_hold_and_thanks_for_waiting(jddc) -> None:
    it = items(jddc["jddc2019-7839dabeee8454c745dc171730a20c20"])
    assert it["hold"]["value"] == 1.0
    assert [(e["phrase"], e["turn"]) for e in it["hold"]["evidence"]] == [("帮您查询一下", 3), ("感谢您的耐心等待", 7)]
    assert it["greeting"]["evidence"][0]["phrase"] == "您好"
    assert it["verification"]["evidence"][0] == {
        "phrase": "[订单x]",
        "turn": 0,
        "time": None,
        "note": "customer supplied order",
    }


def test_dismissive_bu_zhidao_by_the_agent(jddc) -> None:
    it = items(jddc["jddc2019-f4bdb4dcfb5639e5af49d003803b1a52"])
    assert it["forbidden"]["evidence"] == [{"phrase": "不知道", "turn": 5, "time": None, "note": "dismissive"}]
    assert it["closing"]["evidence"][0]["phrase"] == "还有其他还可以帮到您"


def test_empathy_after_a_delivery_complaint(jddc) -> None:
    it = items(jddc["jddc2019-50eab875-7699-455e-a636-4ca6b78191fc"])
    assert it["empathy"]["value"] == 1.0
    assert it["empathy"]["evidence"][0]["phrase"] == "不好意思" and it["empathy"]["evidence"][0]["turn"] == 5
    assert it["closing"]["value"] == 1.0  # 请问还有什么可以帮您 + 感谢您对京东的支持
    assert it["greeting"]["evidence"][0]["phrase"] == "有什么问题我可以帮您处理或解决"


def test_customer_saying_bu_zhidao_is_not_forbidden(jddc) -> None:
    card = load_scorecard()
    for r in jddc.values():
        d = from_record(r)
        res = score_dialogue(d, card)
        for e in next(i for i in res.items if i.id == "forbidden").evidence:
            assert e.turn is not None and d.turns[e.turn].role == "agent"


def test_every_dialogue_scores_with_evidence(jddc) -> None:
    card = load_scorecard()
    for r in jddc.values():
        d = score_dialogue(from_record(r), card).to_dict()
        assert 0 <= d["total"] <= 100
        assert -1 <= d["customer_satisfaction"] <= 1
        assert d["items"]["politeness"]["evidence"] or d["items"]["politeness"]["value"] is not None
        applicable = [i for i in d["items"].values() if not i["na"] and i["dimension"] != "auto_fail"]
        assert sum(i["max"] for i in applicable) == pytest.approx(100.0, abs=0.05)  # rounded to 0.01 each
