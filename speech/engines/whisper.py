"""faster-whisper engine (optional extra ``[whisper]``): slower than Vosk, better batch accuracy.

Mandarin works with a multilingual CTranslate2 model (e.g. whisper-base-ct2) with language "zh".
Whisper may write traditional characters; output is converted to simplified (``zhtext.convert``, OpenCC).
Silences are skipped with our VAD (speech.audio.speech_regions): speech regions less than ``join_gap``
(6 s) apart are grouped into windows of at most ~28 s, each decoded on the recording's own clock.
This keeps word times right (faster-whisper's built-in VAD glues chunks together and its word times
can land seconds early), lets a repeated phrase after a pause come out twice, and keeps Whisper from
inventing text in silence. A 6 s gap (1.5 s before) gives the short turns of a call their
neighbours as context (CER 0.171 -> 0.164 on six development calls, docs/qa-accuracy.md); the words
Whisper then places in a silence of the window are moved back to the speech (``snap_to_speech``).
No streaming: Whisper decodes 30 s windows.

Defaults favour accuracy, this engine's reason to exist: float32 weights and beam 5 gave CER 0.138
on shared/speech/zh where int8 with beam 1 gave 0.201 (RTF 0.22 vs 0.13 on 2 threads; see docs/speech.md).
Beam 10 was measured for the development calls and not kept (0.158 -> 0.156 on 20 calls, 9% slower, and
one digit string on speech/zh written in Arabic digits; docs/qa-accuracy.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from speech.audio import resample, speech_regions
from speech.models import ModelError
from speech.stt import Capabilities, SpeechStream, Unsupported
from speech.types import Utterance, Word
from zhtext.convert import to_simplified
from zhtext.tokens import join_tokens

_MODELS: dict[tuple[str, int, str], Any] = {}
TEMPERATURE_FALLBACK = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)  # faster-whisper's default


def available() -> bool:
    try:
        import faster_whisper  # noqa: F401
    except ImportError:
        return False
    return True


def load_model(model_dir: str | Path, threads: int = 1, compute_type: str = "float32") -> Any:
    path = Path(model_dir).expanduser().resolve()
    key = (str(path), threads, compute_type)
    model = _MODELS.get(key)
    if model is None:
        if not (path / "model.bin").is_file():
            raise ModelError(f"{path} is not a CTranslate2 Whisper model directory (no model.bin)")
        try:
            from faster_whisper import WhisperModel
        except ImportError:
            raise ModelError("faster-whisper is not installed: pip install 'hotline[whisper]'") from None
        model = WhisperModel(str(path), device="cpu", compute_type=compute_type, cpu_threads=threads)
        _MODELS[key] = model
    return model


class WhisperTranscriber:
    """Batch recognition only (a `speech.stt.Transcriber` that declares ``streaming=False``)."""

    name = "whisper"
    sample_rate = 16000
    capabilities = Capabilities(
        streaming=False, interim_results=False, grammar=False, word_times=True, word_confidence=True
    )

    def __init__(
        self,
        model_dir: str | Path,
        language: str = "zh",
        threads: int = 1,
        beam_size: int = 5,
        vad: bool = True,
        word_timestamps: bool = True,
        compute_type: str = "float32",
        min_silence: float = 1.0,
        join_gap: float = 6.0,
        max_window: float = 28.0,
        hotwords: str | None = None,
        initial_prompt: str | None = None,
        temperature: float | Sequence[float] = TEMPERATURE_FALLBACK,
    ) -> None:
        self.model_dir = Path(model_dir)
        self._model = load_model(model_dir, threads, compute_type)
        self.model = self.model_dir.resolve().name
        self.language = language
        self.beam_size = beam_size
        self.vad = vad
        self.word_timestamps = word_timestamps
        self.min_silence = min_silence
        self.join_gap = join_gap
        self.max_window = max_window
        # vocabulary the decoder is primed with (faster-whisper puts both into the previous-text
        # prompt of every window); None = no prompt, as before
        self.hotwords = hotwords or None
        self.initial_prompt = initial_prompt or None
        # greedy/beam at the first temperature, sampling at the next ones when a window's text repeats
        # itself or its log-probability is low (faster-whisper's fallback); one value = no fallback
        self.temperature = float(temperature) if isinstance(temperature, int | float) else tuple(temperature)

    def windows(self, samples: np.ndarray, rate: int) -> list[tuple[int, int]]:
        """Sample ranges to decode: VAD speech regions, neighbours closer than ``join_gap`` s joined
        while the window stays under ``max_window`` s."""
        return [w for w, _ in self._windows(samples, rate)]

    def _windows(self, samples: np.ndarray, rate: int) -> list[tuple[tuple[int, int], list[tuple[int, int]]]]:
        """Each window with the speech regions inside it."""
        if not self.vad:
            return [((0, len(samples)), [(0, len(samples))])] if len(samples) else []
        out: list[tuple[tuple[int, int], list[tuple[int, int]]]] = []
        for s, e in speech_regions(samples, rate, min_silence=self.min_silence, pad=0.2):
            last = out[-1][0] if out else None
            if last and s - last[1] < self.join_gap * rate and e - last[0] <= self.max_window * rate:
                out[-1] = ((last[0], e), [*out[-1][1], (s, e)])
            else:
                out.append(((s, e), [(s, e)]))
        return out

    def transcribe_pcm(self, samples: np.ndarray, rate: int, speaker: str = "unknown") -> list[Utterance]:
        if rate != 16000:
            samples = resample(np.asarray(samples, dtype=np.int16), rate, 16000)
        audio = np.asarray(samples, dtype=np.float32) / 32768.0
        out: list[Utterance] = []
        for (s, e), regions in self._windows(np.asarray(samples, dtype=np.int16), 16000):
            speech = [(a / 16000, b / 16000) for a, b in regions]
            out.extend(self._decode(audio[s:e], s / 16000, e / 16000, speaker, speech))
        return out

    def stream(self, sample_rate: int, grammar: Sequence[str] | None = None) -> SpeechStream:
        raise Unsupported("whisper decodes 30 s windows: no streaming (use the vosk engine for live audio)")

    def missing_words(self, phrases: Sequence[str]) -> list[str] | None:
        return None  # an open vocabulary of subwords: nothing to look up

    def _decode(
        self,
        audio: np.ndarray,
        offset: float,
        limit: float,
        speaker: str,
        speech: Sequence[tuple[float, float]] = (),
    ) -> list[Utterance]:
        segments, _info = self._model.transcribe(
            audio,
            language=self.language,
            beam_size=self.beam_size,
            vad_filter=False,
            word_timestamps=self.word_timestamps,
            condition_on_previous_text=False,
            hotwords=self.hotwords,
            initial_prompt=self.initial_prompt,
            temperature=self.temperature,
        )
        simplify = self.language.startswith("zh")

        def t(x: float) -> float:
            return min(max(float(x) + offset, offset), limit)

        out: list[Utterance] = []
        for seg in segments:
            words = snap_to_speech(
                [
                    Word(
                        to_simplified(w.word.strip()) if simplify else w.word.strip(),
                        t(w.start),
                        t(w.end),
                        float(w.probability),
                    )
                    for w in (seg.words or [])
                    if w.word.strip()
                ],
                speech,
            )
            text = seg.text.strip()
            text = to_simplified(text) if simplify else text
            if simplify:
                text = join_tokens(text.split())
            if not text:
                continue
            start = words[0].start if words else t(seg.start)
            end = words[-1].end if words else t(seg.end)
            out.append(Utterance(speaker, start, end, text, words))
        return out


def snap_to_speech(words: Sequence[Word], speech: Sequence[tuple[float, float]]) -> tuple[Word, ...]:
    """Words placed in a silence of their window moved to the nearest edge of the speech around it.

    Whisper's word times come from attention and drift when a window holds several speech regions
    with silence between them: on the development calls a word landed up to 4 s into a silence (after
    the other party had started speaking), which reorders the dialogue the QA checks read. The VAD
    knows where the speech is; a word whose middle is outside every region is moved, keeping its
    length where it fits, and words keep their order.
    """
    out: list[Word] = []
    for w in words:
        start, end = w.start, w.end
        mid = (start + end) / 2
        if speech and not any(a <= mid <= b for a, b in speech):
            a, b = min(speech, key=lambda r: min(abs(mid - r[0]), abs(mid - r[1])))
            length = min(end - start, b - a)
            start, end = (a, a + length) if mid < a else (b - length, b)
        if out and start < out[-1].end:  # never before the word said before it
            start = out[-1].end
            end = max(end, start)
        out.append(Word(w.text, start, end, w.conf) if (start, end) != (w.start, w.end) else w)
    return tuple(out)
