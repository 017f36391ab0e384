"""The Transcript JSON contract, and CER with numbers read out (token joining: tests/zhtext)."""

from __future__ import annotations

import json

import pytest

from speech.types import SCHEMA_VERSION, Transcript, Utterance, Word


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


def test_cer_number_option() -> None:
    from speech.evaluate import cer

    pairs = [("累计推出约四千套房源", "累计推出约4000套房源")]
    assert cer(pairs) == pytest.approx(4 / 10)
    assert cer(pairs, numbers=True) == 0.0
