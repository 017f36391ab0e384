"""A batch engine streams through the VAD: each utterance is decoded as soon as the silence after it
is long enough, on the stream's clock (the live path for Whisper)."""

from __future__ import annotations

import numpy as np

from speech.audio import decode
from speech.stt import Capabilities
from speech.types import Utterance, Word
from speech.utterances import UtteranceEngine
from tests.conftest import ROOT

CALL = ROOT / "audio_fixtures" / "ko_live_call_8k.wav"  # caller: speech 0.5-2.1 s and 10.0-11.9 s


class Segments:
    """A batch engine that hears one utterance per segment it is given, and remembers them."""

    name, model, language, sample_rate = "seg", "seg", "ko", 8000
    capabilities = Capabilities(False, False, False, True, True)

    def __init__(self) -> None:
        self.asked: list[float] = []

    def transcribe_pcm(self, samples: np.ndarray, rate: int, speaker: str = "unknown") -> list[Utterance]:
        d = len(samples) / rate
        self.asked.append(d)
        return [Utterance(speaker, 0.1, d - 0.1, f"말 {len(self.asked)}", (Word("말", 0.1, d - 0.1, 0.9),))]


def test_utterances_are_closed_by_the_vad_and_timed_on_the_stream() -> None:
    inner = Segments()
    engine = UtteranceEngine(inner, min_silence=0.5)
    assert engine.capabilities.streaming and not engine.capabilities.interim_results
    stream = engine.stream(8000)
    pcm = decode(CALL, rate=8000).channels[0].tobytes()
    got = []
    for i in range(0, len(pcm), 3200):  # 200 ms chunks
        got += [(i / 16000, r) for r in stream.accept(pcm[i : i + 3200])]
    got += [(len(pcm) / 16000, r) for r in stream.finish()]
    assert [r.text for _, r in got] == ["말 1", "말 2"]
    (at1, first), (_, second) = got
    assert first.is_final and first.start is not None and 0.2 <= first.start <= 0.6 and first.end is not None
    assert first.end <= 2.6 and at1 < 3.5  # given out during the call, soon after the words ended
    assert second.start is not None and 9.6 <= second.start <= 10.2
    assert all(d < 4 for d in inner.asked)  # only the speech, never the whole call


def test_silence_alone_decodes_nothing() -> None:
    inner = Segments()
    stream = UtteranceEngine(inner).stream(8000)
    assert stream.accept(b"\x00\x00" * 8000 * 3) == [] and stream.finish() == []
    assert inner.asked == []
