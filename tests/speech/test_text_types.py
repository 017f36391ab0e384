"""Joining recognizer tokens (Mandarin without spaces, Latin with) and the Transcript JSON contract."""

from __future__ import annotations

import json

import pytest

from speech.text import join_text, join_tokens
from speech.types import SCHEMA_VERSION, Transcript, Utterance, Word


@pytest.mark.parametrize(
    ("tokens", "joined"),
    [
        ("我 要 查 订单", "我要查订单"),
        ("我 的 iphone 坏 了", "我的iphone坏了"),
        ("iphone 15 pro max", "iphone 15 pro max"),
        ("订单 号 是 12345", "订单号是12345"),
        ("你好 ， 请问", "你好，请问"),
        ("ok 好 的", "ok好的"),
        ("배송 조회", "배송 조회"),
        ("hello world", "hello world"),
        ("  ", ""),
        ("京东 plus 会员", "京东plus会员"),
    ],
)
def test_join(tokens: str, joined: str) -> None:
    assert join_text(tokens) == joined
    assert join_tokens(tokens.split()) == joined


def _sample() -> Transcript:
    w = (Word("你", 0.1, 0.2, 0.9), Word("好", 0.2, 0.35, 1.0))
    return Transcript(
        duration=3.21,
        engine="vosk",
        model="vosk-model-small-cn-0.22",
        language="zh",
        utterances=(Utterance("customer", 0.1, 0.35, "你好", w), Utterance("agent", 1.0, 2.0, "您好", ())),
        redacted=True,
    )


def test_json_roundtrip_and_schema() -> None:
    t = _sample()
    text = t.to_json()
    assert "你好" in text  # UTF-8, not \\u escapes
    data = json.loads(text)
    assert data["schema"] == SCHEMA_VERSION
    assert set(data) == {"schema", "duration", "engine", "model", "language", "redacted", "utterances"}
    assert set(data["utterances"][0]) == {"speaker", "start", "end", "text", "words"}
    assert set(data["utterances"][0]["words"][0]) == {"text", "start", "end", "conf"}
    assert Transcript.from_json(text) == t
    assert Transcript.from_dict(t.to_dict()) == t


def test_times_rounded_to_ms_and_old_files_read() -> None:
    t = Transcript(1.23456, "vosk", "m", "zh", (Utterance("unknown", 0.30000000000000004, 1.0, "x"),))
    assert t.to_dict()["utterances"][0]["start"] == 0.3
    minimal = {"duration": 1, "engine": "e", "model": "m", "language": "zh", "utterances": []}
    assert Transcript.from_dict(minimal).redacted is False


def test_newer_schema_refused() -> None:
    d = _sample().to_dict()
    d["schema"] = SCHEMA_VERSION + 1
    with pytest.raises(ValueError, match="schema"):
        Transcript.from_dict(d)


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("005444879", "零零五四四四八七九"),  # a code: digit by digit
        ("9687785", "九六八七七八五"),  # 7+ digits: digit by digit
        ("4000套", "四千套"),
        ("440万", "四百四十万"),
        ("第23条", "第二十三条"),
        ("7月28日", "七月二十八日"),
        ("2024年", "二零二四年"),
        ("1-2线", "一-二线"),
        ("3.5元", "三点五元"),
        ("15", "十五"),
        ("110", "一百一十"),
        ("1005", "一千零五"),
        ("50005", "五万零五"),
        ("120000", "十二万"),
        ("没有数字", "没有数字"),
    ],
)
def test_read_numbers_for_scoring(text: str, spoken: str) -> None:
    from speech.evaluate import read_numbers

    assert read_numbers(text) == spoken


def test_cer_number_option() -> None:
    from speech.evaluate import cer

    pairs = [("累计推出约四千套房源", "累计推出约4000套房源")]
    assert cer(pairs) == pytest.approx(4 / 10)
    assert cer(pairs, numbers=True) == 0.0
