"""faster-whisper engine (optional extra ``[whisper]``): slower than Vosk, better batch accuracy.

Mandarin works with a multilingual CTranslate2 model (e.g. whisper-base-ct2) with language "zh".
Whisper may write traditional characters; output is converted to simplified (``zhtext.convert``, OpenCC).
Silences are skipped with our VAD (speech.audio.speech_regions): speech regions close together are
grouped into windows of at most ~28 s, each decoded on the recording's own clock. This keeps word
times right (faster-whisper's built-in VAD glues chunks together and its word times can land
seconds early), lets a repeated phrase after a pause come out twice, and keeps Whisper from
inventing text in silence. No streaming: Whisper decodes 30 s windows.

Defaults favour accuracy, this engine's reason to exist: float32 weights and beam 5 gave CER 0.138
on shared/speech/zh where int8 with beam 1 gave 0.201 (RTF 0.22 vs 0.13 on 2 threads; see docs/speech.md).
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
        join_gap: float = 1.5,
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
        if not self.vad:
            return [(0, len(samples))] if len(samples) else []
        out: list[tuple[int, int]] = []
        for s, e in speech_regions(samples, rate, min_silence=self.min_silence, pad=0.2):
            if out and s - out[-1][1] < self.join_gap * rate and e - out[-1][0] <= self.max_window * rate:
                out[-1] = (out[-1][0], e)
            else:
                out.append((s, e))
        return out

    def transcribe_pcm(self, samples: np.ndarray, rate: int, speaker: str = "unknown") -> list[Utterance]:
        if rate != 16000:
            samples = resample(np.asarray(samples, dtype=np.int16), rate, 16000)
        audio = np.asarray(samples, dtype=np.float32) / 32768.0
        out: list[Utterance] = []
        for s, e in self.windows(np.asarray(samples, dtype=np.int16), 16000):
            out.extend(self._decode(audio[s:e], s / 16000, e / 16000, speaker))
        return out

    def stream(self, sample_rate: int, grammar: Sequence[str] | None = None) -> SpeechStream:
        raise Unsupported("whisper decodes 30 s windows: no streaming (use the vosk engine for live audio)")

    def missing_words(self, phrases: Sequence[str]) -> list[str] | None:
        return None  # an open vocabulary of subwords: nothing to look up

    def _decode(self, audio: np.ndarray, offset: float, limit: float, speaker: str) -> list[Utterance]:
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
            words = tuple(
                Word(
                    to_simplified(w.word.strip()) if simplify else w.word.strip(),
                    t(w.start),
                    t(w.end),
                    float(w.probability),
                )
                for w in (seg.words or [])
                if w.word.strip()
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
