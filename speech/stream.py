"""Live audio into any streaming engine, in the framing telephony uses (μ-law or PCM chunks).

`StreamingRecognizer` is the one adapter over `speech.stt.SpeechStream`: it takes Twilio Media
Streams payloads (8 kHz μ-law, 20 ms frames) as they come, converts them to PCM for the engine,
counts the audio fed and refuses audio after `close`. Anything else (grammar, partials, finals)
is the engine's stream as is.
"""

from __future__ import annotations

from collections.abc import Sequence

from speech.audio import ulaw_to_pcm
from speech.stt import StreamResult, Transcriber


class StreamingRecognizer:
    """What the IVR holds per call: μ-law or PCM in, partial/final results out.

    ``feed_*`` return the results produced by that chunk (often empty). Partials are reported
    only when their text changes. After `close` the stream takes no more audio.
    """

    def __init__(self, engine: Transcriber, sample_rate: int = 8000, grammar: Sequence[str] | None = None):
        self.sample_rate = sample_rate
        self._stream = engine.stream(sample_rate, grammar)
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
        """Switch the phrase list (e.g. the caller moved to another menu); None = free speech.
        What was said under the old list and not yet final is dropped: it answered another question."""
        self._stream.set_grammar(phrases)

    def cut(self) -> list[StreamResult]:
        """End the pending utterance now (its final result, if any speech) and go on listening."""
        if self._closed:
            return []
        return self._stream.finish()

    def close(self) -> list[StreamResult]:
        """Flush: the last final result, if any speech is pending; the engine gets its recognizer back."""
        if self._closed:
            return []
        self._closed = True
        try:
            return self._stream.finish()
        finally:
            self._stream.close()
