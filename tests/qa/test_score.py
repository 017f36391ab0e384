import json

import pytest
import yaml

from qa import from_transcript, load_scorecard, parse_scorecard, score_dialogue
from qa.scorecard import DEFAULT_PATH
from store.models_pipeline import ScoreRow

from .helpers import dlg

GOOD_CALL = {
    "id": "call-1",
    "utterances": [
        {
            "speaker": "agent",
            "start": 0.5,
            "end": 4.0,
            "text": "您好，很高兴为您服务，本次通话可能会被录音，请问有什么可以帮您",
        },
        {"speaker": "customer", "start": 4.5, "end": 8.0, "text": "我的订单怎么还没到，太慢了"},
        {"speaker": "agent", "start": 8.5, "end": 12.0, "text": "非常抱歉让您着急了，麻烦您提供一下订单号"},
        {"speaker": "customer", "start": 12.5, "end": 14.0, "text": "订单号是[订单号]"},
        {"speaker": "agent", "start": 14.5, "end": 17.0, "text": "好的，请您稍等，正在为您查询"},
        {"speaker": "agent", "start": 19.0, "end": 23.0, "text": "感谢您的耐心等待，已经为您催促配送，明天送达"},
        {"speaker": "customer", "start": 23.5, "end": 25.0, "text": "好的，谢谢"},
        {"speaker": "agent", "start": 25.5, "end": 29.0, "text": "请问还有其他可以帮到您的吗？感谢您的来电，再见"},
    ],
}


def test_to_dict_has_what_score_row_stores() -> None:
    result = score_dialogue(from_transcript(GOOD_CALL)).to_dict()
    derived = {"flag_bits"}  # kept in step with ``flags`` by the store (store.models_pipeline)
    columns = {c.name for c in ScoreRow.__table__.columns} - {"id", "call_id", "created_at"} - derived
    assert columns <= set(result)
    assert result["id"] == "call-1"
    assert result["scorecard_version"] == load_scorecard().version
    json.dumps(result, ensure_ascii=False)  # JSON-serialisable as stored
    for item in result["items"].values():
        assert set(item) >= {"score", "max", "evidence"}
    assert set(result["details"]) >= {"metrics", "sentiment", "satisfaction", "dimensions"}
    assert {"turns", "quarters", "trend"} <= set(result["details"]["sentiment"])


def test_good_call_scores_high_with_evidence() -> None:
    r = score_dialogue(from_transcript(GOOD_CALL))
    d = r.to_dict()
    assert d["total"] >= 80, d["total"]
    assert not r.auto_fail and "auto_fail" not in r.flags
    items = d["items"]
    assert items["greeting"]["evidence"][0] == {"phrase": "您好", "turn": 0, "time": 0.5}
    assert items["recording_notice"]["value"] == 1.0
    assert items["verification"]["value"] == 1.0
    assert items["hold"]["value"] == 1.0
    assert items["closing"]["value"] == 1.0
    assert items["empathy"]["value"] == 1.0
    assert -1 <= d["customer_satisfaction"] <= 1 and d["customer_satisfaction"] > 0
    assert d["details"]["metrics"]["timed"] is True


def test_item_scores_add_up_to_the_total_and_na_gives_points_away() -> None:
    chat = dlg(("c", "这个手机支持5G吗"), ("a", "您好，支持的哦"), ("c", "好的谢谢"), ("a", "不客气，再见"))
    r = score_dialogue(chat)
    applicable = [i for i in r.items if i.value is not None and i.dimension != "auto_fail"]
    assert sum(i.score or 0 for i in applicable) == pytest.approx(r.total)
    assert sum(i.max for i in applicable) == pytest.approx(100.0)
    na = {i.id for i in r.items if i.value is None}
    assert {"recording_notice", "first_response", "silence", "interruptions", "verification"} <= na
    assert all(i.max == 0 for i in r.items if i.id in na)


def test_auto_fail_sets_total_to_zero() -> None:
    d = dlg(("c", "怎么还没到"), ("a", "您好，神经病吧你"), ("c", "？"), ("a", "请问还有其他可以帮到您的吗"))
    r = score_dialogue(d)
    assert r.auto_fail and r.total == 0
    assert "auto_fail" in r.flags and "forbidden_phrase" in r.flags
    assert r.details["auto_fail_items"] == ["abuse"]
    abuse = next(i for i in r.items if i.id == "abuse")
    assert abuse.evidence[0].phrase == "神经病" and abuse.evidence[0].turn == 1


def test_flags_angry_and_long_silence() -> None:
    d = dlg(("a", "您好", 0, 1), ("c", "我要投诉你们，太差了", 1.5, 4), ("a", "抱歉", 16, 17))
    r = score_dialogue(d)
    assert {"angry_customer", "long_silence"} <= set(r.flags)


def test_scorecard_version_is_kept_and_weights_matter() -> None:
    raw = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))
    raw["version"] = "test-2"
    for dim in raw["dimensions"]:
        dim["weight"] = 100 if dim["name"] == "专业度" else 1
    card = parse_scorecard(raw, "test")
    d = dlg(("c", "我的订单到哪了"), ("a", "在的"), ("c", "好"), ("a", "请问还有其他可以帮到您的吗？感谢您的来电"))
    r = score_dialogue(d, card)
    assert r.scorecard_version == "test-2"
    default = score_dialogue(d)
    assert r.total != pytest.approx(default.total)


def test_empty_and_unknown_speaker_dialogues_do_not_invent_scores() -> None:
    from qa.dialogue import Dialogue, Turn

    empty = score_dialogue(from_transcript({"utterances": []}, "x"))
    assert empty.total == 0 and empty.details["applicable_items"] == 0 and not empty.auto_fail
    mono = score_dialogue(Dialogue("m", (Turn("unknown", "你好", 0, 1), Turn("unknown", "我要投诉", 1.5, 3))))
    assert mono.details["applicable_items"] == 1  # only the silence check applies without roles
