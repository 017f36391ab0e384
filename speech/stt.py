"""The one speech-recognition protocol: a batch side, a streaming side, and what an engine can do.

Every engine (Vosk, Whisper, the tests' fake) is a `Transcriber`. Batch: ``transcribe_pcm`` turns
one channel of a recording into utterances. Streaming: ``stream(rate, grammar)`` opens a
`SpeechStream` that takes 16-bit PCM as it arrives and gives partial and final `StreamResult`s.
What an engine supports is declared in its `Capabilities` (livekit-agents' STT does the same), so
a caller asks ``engine.capabilities.streaming`` rather than which class it holds; an engine asked
for something it declared it cannot do raises `Unsupported`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from speech.types import Utterance, Word

Kind = Literal["partial", "final"]


@dataclass(frozen=True)
class Capabilities:
    """What an engine can do; callers check these instead of the engine's class."""

    streaming: bool  # ``stream()`` works: audio in as it arrives, results out as they form
    interim_results: bool  # streams give partial hypotheses before the final one
    grammar: bool  # recognition can be restricted to a list of phrases (and switched mid-stream)
    word_times: bool  # results carry per-word start and end times
    word_confidence: bool  # ... and a per-word confidence


class Unsupported(NotImplementedError):
    """The engine declared (in its `Capabilities`) that it cannot do this."""


@dataclass(frozen=True)
class StreamResult:
    """A partial (may still change) or final (fixed) hypothesis; times are from stream start.

    ``confidence``: how sure the engine is of a final (for Vosk the least sure word), None when
    it does not say (partials never do).
    """

    kind: Kind
    text: str
    words: tuple[Word, ...] = ()
    confidence: float | None = None

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
class SpeechStream(Protocol):
    """One live audio stream inside an engine: 16-bit little-endian mono PCM in, results out."""

    def accept(self, pcm: bytes) -> list[StreamResult]:
        """Results this chunk produced (often none); a partial only when its text changed."""
        ...

    def finish(self) -> list[StreamResult]:
        """Flush: the final result of speech still pending; the stream goes on, on the same clock."""
        ...

    def close(self) -> None:
        """Done: no audio after this; the engine may reuse what the stream held."""
        ...

    def set_grammar(self, phrases: Sequence[str] | None) -> None:
        """Listen for these phrases from now on (None: free speech); safe at any point of the stream."""
        ...


@runtime_checkable
class Transcriber(Protocol):
    """A speech-recognition engine: batch and streaming sides, with its capabilities declared."""

    name: str  # engine name, e.g. "vosk"
    model: str  # model name, for the transcript's provenance
    language: str
    sample_rate: int  # the rate audio should be decoded to for the batch side
    capabilities: Capabilities

    def transcribe_pcm(self, samples: np.ndarray, rate: int, speaker: str = "unknown") -> list[Utterance]:
        """One channel of int16 PCM -> utterances, times in seconds from its start."""
        ...

    def stream(self, sample_rate: int, grammar: Sequence[str] | None = None) -> SpeechStream:
        """A new stream (its own recognizer, the engine's shared model); `Unsupported` without streaming."""
        ...

    def missing_words(self, phrases: Sequence[str]) -> list[str] | None:
        """Tokens of ``phrases`` the model cannot recognize; None when the engine cannot tell."""
        ...
