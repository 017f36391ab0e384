"""Word probabilities on turns (qa.confidence) and the 待人工确认 marks on items (qa.uncertain)."""

import pytest

from qa import from_transcript, score_dialogue
from qa.confidence import LOW_CONF, Heard, align_words, stretch
from qa.scorers import Evidence, Result
from qa.uncertain import review_marks


def w(text: str, start: float, end: float, conf: float) -> dict:
    return {"text": text, "start": start, "end": end, "conf": conf}


@pytest.mark.parametrize(
    ("text", "words", "spans"),
    [
        ("您好请问", [w("您好", 0, 1, 0.9), w("请问", 1, 2, 0.2)], [(0, 2), (2, 4)]),
        ("您好请问", [w(" 您好", 0, 1, 0.9), w("，", 1, 1, 0.5), w("请问?", 1, 2, 0.2)], [(0, 2), (2, 4)]),
        # redaction replaced the number: the words around it still land
        (
            "号码是\ue003谢谢",
            [w("号码", 0, 1, 0.9), w("是", 1, 1.2, 0.9), w("138", 1.2, 2, 0.9), w("谢谢", 2, 3, 0.8)],
            [(0, 2), (2, 3), (4, 6)],
        ),
        # words that do not fit the text at all: no data rather than wrong data
        ("您好请问", [w("再见", 0, 1, 0.1)], []),
    ],
)
def test_align_words(text: str, words: list, spans: list) -> None:
    assert [(h.start, h.end) for h in align_words(text, words)] == spans


def test_stretch_takes_the_lowest_probability_and_the_words_times() -> None:
    heard = (Heard(0, 2, 0.0, 1.0, 0.9), Heard(2, 4, 1.0, 2.0, 0.2), Heard(4, 6, 2.0, 3.0, 0.7))
    s = stretch(heard, 1, 5)
    assert s is not None and (s.conf, s.t0, s.t1) == (0.2, 0.0, 3.0) and s.unsure
    s = stretch(heard, 4, 6)
    assert s is not None and not s.unsure
    assert stretch((), 0, 2) is None


@pytest.mark.parametrize(
    ("check", "evidence", "reasons"),
    [
        ("script.greeting", [Evidence("您好", 1, 3.0, "", 3.5, 0.2)], ["unsure_evidence"]),
        ("script.greeting", [Evidence("您好", 1, 3.0, "", 3.5, 0.9)], []),
        ("script.greeting", [Evidence("您好", 1, 3.0, "", 3.5, 0.2, sounds_like="您好")], ["sound_match"]),
        # penalties heard unsurely are marked too: an agent must not lose points to the recognizer
        ("forbidden.phrases", [Evidence("不知道", 1, 3.0, "dismissive", 3.5, 0.1)], ["unsure_evidence"]),
        # what was missing, chat evidence without words, and non-phrase items are not marked
        ("script.greeting", [Evidence("嗯", 1, 3.0, "no greeting in first agent turns", 3.5, 0.1)], []),
        ("script.greeting", [Evidence("您好", 1, None)], []),
        ("satisfaction", [Evidence("谢谢", 1, 3.0, "thanks at the end", 3.5, 0.1)], []),
    ],
)
def test_review_marks(check: str, evidence: list, reasons: list) -> None:
    marks = review_marks(check, Result(1.0, tuple(evidence)))
    assert [m.reason for m in marks] == reasons
    assert all(m.time == 3.0 and m.end == 3.5 for m in marks)


def test_low_conf_threshold_is_a_probability() -> None:
    assert 0.0 < LOW_CONF < 1.0


def test_an_unsurely_heard_greeting_is_scored_and_marked_for_review() -> None:
    data = {
        "utterances": [
            {"speaker": "customer", "start": 0, "end": 2, "text": "在吗", "words": [w("在吗", 0, 2, 0.9)]},
            {"speaker": "agent", "start": 3, "end": 5, "text": "您好", "words": [w("您好", 3, 5, 0.15)]},
            {"speaker": "customer", "start": 6, "end": 7, "text": "查订单", "words": [w("查订单", 6, 7, 0.9)]},
        ]
    }
    r = score_dialogue(from_transcript(data)).to_dict()
    g = r["items"]["greeting"]
    assert g["value"] == 1.0
    assert g["review"] == {
        "label": "待人工确认",
        "marks": [{"reason": "unsure_evidence", "turn": 1, "time": 3, "end": 5, "phrase": "您好", "conf": 0.15}],
    }
    assert "needs_review" in r["flags"] and r["details"]["review_items"] == ["greeting"]
    sure = {**data, "utterances": [dict(u, words=[{**u["words"][0], "conf": 0.95}]) for u in data["utterances"]]}
    r2 = score_dialogue(from_transcript(sure)).to_dict()
    assert "review" not in r2["items"]["greeting"] and "needs_review" not in r2["flags"]
