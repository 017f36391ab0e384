"""What the call page shows: evidence phrases marked in the transcript, labels in Chinese."""

from __future__ import annotations

from workspace.present import is_miss, mark_phrases, note_label, phrase_label, sentiment_band, transcript_lines


def test_mark_phrases_and_lines() -> None:
    segs = mark_phrases("这个不归我管，你自己去查。", [("不归我管", "politeness"), ("不存在", "x"), ("归我", "y")])
    assert [(s.text, s.item) for s in segs] == [("这个", ""), ("不归我管", "politeness"), ("，你自己去查。", "")]
    assert [s.text for s in mark_phrases("", [])] == [""]
    lines = transcript_lines(
        {"utterances": [{"speaker": "agent", "start": 0, "end": 1, "text": "您好"}]},
        {"greeting": {"evidence": [{"phrase": "您好", "turn": 0, "time": 0.0}, {"phrase": "x", "turn": 7}]}},
        {"sentiment": {"turns": [{"turn": 0, "role": "agent", "score": 0.6, "start": 0}]}},
    )
    assert lines[0].segments[0].item == "greeting" and lines[0].band == "positive" and lines[0].items == ["greeting"]
    assert sentiment_band(-0.5) == "negative" and sentiment_band(0.0) == "neutral" and sentiment_band(None) == ""


def test_evidence_is_shown_in_chinese_and_misses_are_told_apart() -> None:
    assert phrase_label("247 chars/min") == "247 字/分"
    assert phrase_label("agent 34% of talk") == "客服说话占 34%"
    assert phrase_label("3.5s silence") == "静音 3.5 秒" and phrase_label("您好") == "您好"
    assert note_label("no closing phrase") == "结尾未见规范结束语" and note_label("negative -0.62") == "负面情绪 -0.62"
    assert note_label("with customer turn 3") == "与客户第 4 句重叠" and note_label("something new") == "something new"
    assert is_miss("no greeting in first agent turns") and is_miss("complaint without empathy")
    assert not is_miss("polite") and not is_miss(None)
    segs = mark_phrases(
        "喂。你好", [("喂。", "greeting", "no greeting in first agent turns"), ("你好", "politeness", "polite")]
    )
    assert [(s.text, s.item, s.miss) for s in segs] == [("喂。", "greeting", True), ("你好", "politeness", False)]
    assert segs[0].note == "开头未见规范问候语"


def test_review_marks_are_read_defensively() -> None:
    from workspace.present import review_marks

    item = {
        "review": {
            "marks": [
                {"reason": "unsure_evidence", "time": 3.5, "end": 2.0, "phrase": "核实", "conf": 0.2},
                {"reason": "sound_match", "time": -1, "end": 4, "conf": 7},
                None,
            ]
        }
    }
    got = review_marks(item)
    assert [(m.reason, m.time, m.end, m.phrase, m.conf) for m in got] == [
        ("识别把握低", 3.5, None, "核实", 0.2),  # an end before the start is dropped
        ("按读音匹配", None, None, "", None),
    ]
    assert review_marks({}) == [] and review_marks({"review": {"marks": "x"}}) == [] and review_marks(None) == []
