"""Speaker turns from recognizer utterances (qa.turns), and evidence still pointing at utterances."""

import pytest

from qa import from_transcript, score_dialogue


def utt(speaker: str, start: float, end: float, text: str, conf: float | None = None) -> dict:
    words = [{"text": text, "start": start, "end": end, "conf": conf}] if conf is not None else []
    return {"speaker": speaker, "start": start, "end": end, "text": text, "words": words}


@pytest.mark.parametrize(
    ("utterances", "turns"),
    [
        # a turn cut at its pauses is one turn again
        (
            [utt("agent", 0, 2, "您好"), utt("agent", 2.4, 4, "请问有什么可以帮您"), utt("customer", 5, 6, "查订单")],
            [("agent", "您好，请问有什么可以帮您"), ("customer", "查订单")],
        ),
        # a pause longer than 1.5 s ends the turn
        (
            [utt("agent", 0, 2, "请稍等"), utt("agent", 3.6, 5, "感谢您的耐心等待")],
            [("agent", "请稍等"), ("agent", "感谢您的耐心等待")],
        ),
        # the other party starting in between ends it, even when overlapping
        (
            [utt("agent", 0, 2, "您好"), utt("customer", 1.5, 2.5, "喂"), utt("agent", 2.6, 3, "请讲")],
            [("agent", "您好"), ("customer", "喂"), ("agent", "请讲")],
        ),
        # the customer starting just before the agent's last word is talking over, not a reply
        (
            [
                utt("agent", 0, 4, "请核对下商品"),
                utt("customer", 4.4, 6, "客户没有货退"),
                utt("agent", 4.5, 4.9, "谢谢"),
            ],
            [("agent", "请核对下商品，谢谢"), ("customer", "客户没有货退")],
        ),
        # ... but a whole reply in between ends the turn, even a short pause later
        (
            [utt("agent", 0, 4, "您好"), utt("customer", 3.5, 4.8, "你好"), utt("agent", 5.2, 6, "请讲")],
            [("agent", "您好"), ("customer", "你好"), ("agent", "请讲")],
        ),
        # mono recordings (unknown speaker) are never glued
        ([utt("unknown", 0, 1, "您好"), utt("unknown", 1.2, 2, "你好")], [("unknown", "您好"), ("unknown", "你好")]),
        # punctuation already there is not doubled
        ([utt("agent", 0, 1, "好的。"), utt("agent", 1.2, 2, "再见")], [("agent", "好的。再见")]),
    ],
)
def test_consecutive_utterances_of_one_party_are_one_turn(utterances: list, turns: list) -> None:
    d = from_transcript({"utterances": utterances})
    assert [(t.role, t.text) for t in d.turns] == turns


def test_merge_can_be_switched_off_and_keeps_times() -> None:
    data = {"utterances": [utt("agent", 0, 2, "您好"), utt("agent", 2.4, 4, "请讲")]}
    assert len(from_transcript(data, merge_gap=None).turns) == 2
    t = from_transcript(data).turns[0]
    assert (t.start, t.end) == (0, 4) and [p.index for p in t.parts] == [0, 1]


def test_evidence_points_at_the_utterance_and_the_words_time() -> None:
    data = {
        "utterances": [
            utt("customer", 0, 2, "我的订单到哪了"),
            utt("agent", 3, 4, "亲亲", 0.9),
            utt("agent", 4.3, 6, "您好", 0.95),  # the greeting is the second utterance of the turn
            utt("agent", 6.2, 9, "请问还有其他可以帮到您的吗", 0.9),
            utt("customer", 10, 11, "没有了谢谢"),
        ]
    }
    d = from_transcript(data)
    assert len(d.turns) == 3
    r = score_dialogue(d).to_dict()
    ev = r["items"]["greeting"]["evidence"][0]
    assert ev["phrase"] == "您好" and ev["turn"] == 2 and ev["time"] == 4.3 and ev["end"] == 6 and ev["conf"] == 0.95
    closing = r["items"]["closing"]["evidence"][0]
    assert closing["turn"] == 3 and closing["time"] == 6.2
    # per-utterance sentiment rows for the call page: one per utterance of the merged turn
    assert [row["turn"] for row in r["details"]["sentiment"]["turns"]] == [0, 1, 2, 3, 4]


def test_a_recognizer_cutting_a_turn_does_not_change_the_score() -> None:
    whole = [
        utt("customer", 0, 3, "我的快递怎么还没到"),
        utt("agent", 4, 12, "您好，请稍等，正在为您查询，您的订单明天送达，请问还有其他可以帮到您的吗"),
        utt("customer", 13, 14, "没有了谢谢"),
        utt("agent", 15, 18, "感谢您的来电，再见"),
    ]
    cut = [
        whole[0],
        utt("agent", 4, 5, "您好"),
        utt("agent", 5.3, 6.5, "请稍等"),
        utt("agent", 6.8, 8, "正在为您查询"),
        utt("agent", 8.3, 10, "您的订单明天送达"),
        utt("agent", 10.3, 12, "请问还有其他可以帮到您的吗"),
        whole[2],
        utt("agent", 15, 16, "感谢您的来电"),
        utt("agent", 16.5, 18, "再见"),
    ]
    a = score_dialogue(from_transcript({"utterances": whole})).to_dict()
    b = score_dialogue(from_transcript({"utterances": cut})).to_dict()
    assert {k: v["value"] for k, v in a["items"].items()} == {k: v["value"] for k, v in b["items"].items()}
    assert a["total"] == pytest.approx(b["total"], abs=1.0)
