"""Live audio for an engine that only decodes whole utterances (Whisper): the VAD closes each one.

`UtteranceEngine` wraps a batch `speech.stt.Transcriber` so it can ``stream()``: its
`UtteranceStream` runs webrtcvad on 30 ms frames as audio arrives; when speech is followed by
``min_silence`` of non-speech (or runs ``max_s``), the utterance is decoded at once with the
engine's batch side and given as final results on the stream's clock. No partials. The same
model and settings as batch transcription; one model per process, shared by every stream.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from speech.audio import _vad_flags
from speech.stt import Capabilities, SpeechStream, StreamResult, Transcriber
from speech.types import Utterance, Word

FRAME_MS = 30


class UtteranceStream:
    """One live stream over a batch engine (16-bit mono PCM in, a final per utterance out)."""

    def __init__(
        self, engine: Transcriber, rate: int, *, min_silence: float = 0.5, max_s: float = 15.0, pad: float = 0.2
    ) -> None:
        self.engine, self.rate = engine, rate
        self.frame = rate * FRAME_MS // 1000
        self.min_quiet = max(1, int(min_silence * 1000 / FRAME_MS))
        self.max_frames = int(max_s * 1000 / FRAME_MS)
        self.pad = int(pad * rate)
        self._audio = np.zeros(0, dtype=np.int16)  # from ``_base`` samples on
        self._base = 0  # stream sample of ``_audio[0]``
        self._vad_done = 0  # samples of ``_audio`` already classified
        self._start: int | None = None  # stream sample where the open utterance began
        self._quiet = 0
        self._frames = 0

    def accept(self, pcm: bytes) -> list[StreamResult]:
        self._audio = np.concatenate([self._audio, np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2")])
        out: list[StreamResult] = []
        while len(self._audio) - self._vad_done >= self.frame:
            chunk = self._audio[self._vad_done : self._vad_done + self.frame]
            flags, _ = _vad_flags(chunk, self.rate, 2)
            at = self._base + self._vad_done
            self._vad_done += self.frame
            speech = bool(flags.any())
            if self._start is None:
                if speech:
                    self._start, self._quiet, self._frames = at, 0, 0
                else:
                    self._drop_before(at + self.frame - self.pad)
                continue
            self._frames += 1
            self._quiet = 0 if speech else self._quiet + 1
            if self._quiet >= self.min_quiet or self._frames >= self.max_frames:
                out += self._close(self._base + self._vad_done)
        return out

    def finish(self) -> list[StreamResult]:
        return self._close(self._base + len(self._audio)) if self._start is not None else []

    def set_grammar(self, phrases: Sequence[str] | None) -> None:
        """Whisper takes no grammar: live calls are free speech."""

    def close(self) -> None:
        self._audio = np.zeros(0, dtype=np.int16)

    def _close(self, end: int) -> list[StreamResult]:
        start = max(self._base, (self._start or 0) - self.pad)
        seg = self._audio[start - self._base : end - self._base]
        self._start = None
        self._drop_before(end)
        shift = start / self.rate
        return [_final(u, shift) for u in self.engine.transcribe_pcm(seg, self.rate) if u.text.strip()]

    def _drop_before(self, sample: int) -> None:
        cut = max(0, min(sample - self._base, self._vad_done))
        if cut:
            self._audio = self._audio[cut:]
            self._base += cut
            self._vad_done -= cut


def _final(u: Utterance, shift: float) -> StreamResult:
    words = tuple(replace(w, start=w.start + shift, end=w.end + shift) for w in u.words) or (
        Word(u.text, u.start + shift, u.end + shift),
    )
    conf = min((w.conf for w in words), default=None)
    return StreamResult("final", u.text, words, conf)


class UtteranceEngine:
    """A batch engine that streams: each stream is an `UtteranceStream` over it."""

    def __init__(self, inner: Transcriber, **options: Any) -> None:
        self.inner, self.options = inner, options
        self.name, self.model, self.language = inner.name, inner.model, inner.language
        self.sample_rate = inner.sample_rate
        caps = inner.capabilities
        self.capabilities = Capabilities(True, False, False, caps.word_times, caps.word_confidence)

    def transcribe_pcm(self, samples: np.ndarray, rate: int, speaker: str = "unknown") -> list[Utterance]:
        return self.inner.transcribe_pcm(samples, rate, speaker)

    def stream(self, sample_rate: int, grammar: Sequence[str] | None = None) -> SpeechStream:
        return UtteranceStream(self.inner, sample_rate, **self.options)

    def missing_words(self, phrases: Sequence[str]) -> list[str] | None:
        return None
