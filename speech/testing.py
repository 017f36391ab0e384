"""A fake speech engine for unit tests: the `speech.stt.Transcriber` protocol on a script.

It does not listen: it "hears" the phrases of its script at the times the script says, on the
clock of the audio it is fed, so a test of anything above speech (the IVR's streams, a pipeline
step) runs without a model, in milliseconds, and gives the same results every time. What the
real engines do with audio is tested against them (tests/speech).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from speech.stt import Capabilities, StreamResult, Unsupported
from speech.types import Utterance, Word

ALL = Capabilities(streaming=True, interim_results=True, grammar=True, word_times=True, word_confidence=True)


@dataclass(frozen=True)
class Said:
    """A phrase spoken from ``start`` to ``end`` seconds (of the stream or recording)."""

    text: str
    start: float
    end: float
    confidence: float = 1.0

    def words(self, shift: float = 0.0) -> tuple[Word, ...]:
        tokens = self.text.split()
        step = (self.end - self.start) / max(1, len(tokens))
        return tuple(
            Word(t, self.start + i * step + shift, self.start + (i + 1) * step + shift, self.confidence)
            for i, t in enumerate(tokens)
        )


class FakeTranscriber:
    """Batch: the script's phrases that fit in the samples. Streams: see `FakeStream`.

    ``vocabulary``: the words `missing_words` knows (None: it cannot tell). ``capabilities``: to
    play an engine that cannot stream or has no grammar. Every stream opened is kept in ``streams``.
    """

    name = "fake"
    model = "fake-script"

    def __init__(
        self,
        script: Sequence[Said] = (),
        *,
        language: str = "zh",
        sample_rate: int = 8000,
        vocabulary: Iterable[str] | None = None,
        capabilities: Capabilities = ALL,
    ) -> None:
        self.script = tuple(sorted(script, key=lambda s: s.start))
        self.language = language
        self.sample_rate = sample_rate
        self.vocabulary = None if vocabulary is None else frozenset(vocabulary)
        self.capabilities = capabilities
        self.streams: list[FakeStream] = []

    def transcribe_pcm(self, samples: np.ndarray, rate: int, speaker: str = "unknown") -> list[Utterance]:
        duration = len(samples) / rate
        return [Utterance(speaker, s.start, s.end, s.text, s.words()) for s in self.script if s.end <= duration]

    def stream(self, sample_rate: int, grammar: Sequence[str] | None = None) -> FakeStream:
        if not self.capabilities.streaming:
            raise Unsupported("this fake engine plays one without streaming")
        stream = FakeStream(self.script, sample_rate, grammar, interim=self.capabilities.interim_results)
        self.streams.append(stream)
        return stream

    def missing_words(self, phrases: Sequence[str]) -> list[str] | None:
        if self.vocabulary is None:
            return None
        words = dict.fromkeys(w for p in phrases for w in p.split())
        return [w for w in words if w not in self.vocabulary]


class FakeStream:
    """Hears each phrase of the script when the audio fed passes its end (the final) and, with
    interim results, at its middle (a partial of the same text). Under a grammar only phrases of
    the grammar are heard (anything else is Vosk's ``[unk]``: nothing). A grammar switch drops a
    phrase already begun, as a new recognizer would; ``grammars`` keeps every grammar it had."""

    def __init__(self, script: Sequence[Said], rate: int, grammar: Sequence[str] | None, *, interim: bool) -> None:
        self.rate = rate
        self.interim = interim
        self.fed = 0  # samples
        self.finished = False  # finish() was called (the stream may go on)
        self.closed = False
        self.grammars: list[tuple[str, ...] | None] = [tuple(grammar) if grammar else None]
        self._pending = list(script)
        self._partials: set[Said] = set()

    @property
    def seconds(self) -> float:
        return self.fed / self.rate

    def _heard(self, said: Said) -> bool:
        grammar = self.grammars[-1]
        return grammar is None or said.text in grammar

    def accept(self, pcm: bytes) -> list[StreamResult]:
        if self.closed:
            raise RuntimeError("stream closed")
        self.fed += len(pcm) // 2
        now = self.seconds
        out: list[StreamResult] = []
        for said in list(self._pending):
            if now >= said.end:
                self._pending.remove(said)
                if self._heard(said):
                    out.append(StreamResult("final", said.text, said.words(), said.confidence))
            elif self.interim and now >= (said.start + said.end) / 2 and said not in self._partials:
                self._partials.add(said)
                if self._heard(said):
                    out.append(StreamResult("partial", said.text))
        return out

    def finish(self) -> list[StreamResult]:
        self.finished = True
        now = self.seconds
        begun = [s for s in self._pending if s.start < now]
        self._pending = [s for s in self._pending if s.start >= now]
        return [StreamResult("final", s.text, s.words(), s.confidence) for s in begun if self._heard(s)]

    def close(self) -> None:
        self.closed = True

    def set_grammar(self, phrases: Sequence[str] | None) -> None:
        now = self.seconds
        self._pending = [s for s in self._pending if s.start >= now]  # begun under the old grammar: gone
        self.grammars.append(tuple(phrases) if phrases else None)
