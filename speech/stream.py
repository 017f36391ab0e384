"""Streaming recognition for the IVR's Media Streams layer: feed audio chunks, get partials/finals.

Engine-agnostic: `StreamingRecognizer` drives any engine that can ``open_stream(rate, grammar)``
(today Vosk). Twilio sends 20 ms frames of 8 kHz μ-law; `feed_mulaw` takes those directly.
A grammar (list of phrases, e.g. the current menu's words) restricts what can be recognized.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from speech.audio import ulaw_to_pcm
from speech.types import Word

Kind = Literal["partial", "final"]


@dataclass(frozen=True)
class StreamResult:
    """A partial (may still change) or final (fixed) hypothesis; times are from stream start."""

    kind: Kind
    text: str
    words: tuple[Word, ...] = ()

    @property
    def is_final(self) -> bool:
        return self.kind == "final"

    @property
    def start(self) -> float | None:
        return self.words[0].start if self.words else None

    @property
    def end(self) -> float | None:
        return self.words[-1].end if self.words else None


@runtime_checkable
class RecognizerStream(Protocol):
    """One live audio stream inside an engine (one recognizer per stream)."""

    def accept(self, pcm: bytes) -> list[StreamResult]: ...
    def finish(self) -> list[StreamResult]: ...
    def set_grammar(self, phrases: Sequence[str] | None) -> None: ...


@runtime_checkable
class StreamingEngine(Protocol):
    def open_stream(self, sample_rate: int, grammar: Sequence[str] | None = None) -> RecognizerStream: ...


class StreamingRecognizer:
    """What the IVR holds per call: μ-law or PCM in, partial/final results out.

    ``feed_*`` return the results produced by that chunk (often empty). Partials are reported
    only when their text changes. After `close` the stream takes no more audio.
    """

    def __init__(self, engine: StreamingEngine, sample_rate: int = 8000, grammar: Sequence[str] | None = None):
        self.sample_rate = sample_rate
        self._stream = engine.open_stream(sample_rate, grammar)
        self._closed = False
        self.samples_fed = 0

    @property
    def seconds_fed(self) -> float:
        return self.samples_fed / self.sample_rate

    def feed_pcm(self, pcm: bytes) -> list[StreamResult]:
        """16-bit little-endian mono PCM at ``sample_rate``."""
        if self._closed:
            raise RuntimeError("stream is closed")
        pcm = pcm[: len(pcm) - len(pcm) % 2]
        if not pcm:
            return []
        self.samples_fed += len(pcm) // 2
        return self._stream.accept(pcm)

    def feed_mulaw(self, data: bytes) -> list[StreamResult]:
        """G.711 μ-law bytes (Twilio Media Streams payload, base64-decoded)."""
        return self.feed_pcm(ulaw_to_pcm(data))

    def set_grammar(self, phrases: Sequence[str] | None) -> None:
        """Switch the phrase list (e.g. the caller moved to another menu); None = free speech."""
        self._stream.set_grammar(phrases)

    def close(self) -> list[StreamResult]:
        """Flush: the last final result, if any speech is pending."""
        if self._closed:
            return []
        self._closed = True
        return self._stream.finish()
