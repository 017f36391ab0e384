"""From a recording to a Transcript: decode, split the call's channels, recognize, merge by time.

Every engine is a `speech.stt.Transcriber` (batch and streaming sides, declared capabilities).
`build_transcriber` is the factory the composition root (hotline/) calls with plain values from
its settings; this package never imports hotline.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from speech.audio import Audio, decode, split_call
from speech.stt import Transcriber
from speech.types import Transcript, Utterance

ENGINES = ("vosk", "whisper")


def merge(channels: Iterable[list[Utterance]]) -> list[Utterance]:
    """One dialogue ordered by start time (ties: earlier end first, then speaker)."""
    allu = [u for ch in channels for u in ch]
    return sorted(allu, key=lambda u: (u.start, u.end, u.speaker))


def transcribe_audio(audio: Audio, transcriber: Transcriber, caller_channel: int = 0) -> Transcript:
    """Two channels -> customer/agent recognized separately and merged; mono -> speaker unknown."""
    parts = split_call(audio, caller_channel)
    per_channel = [transcriber.transcribe_pcm(samples, audio.rate, speaker) for speaker, samples in parts.items()]
    return Transcript(
        duration=audio.duration,
        engine=transcriber.name,
        model=transcriber.model,
        language=transcriber.language,
        utterances=tuple(merge(per_channel)),
    )


def transcribe_file(path: str | Path, transcriber: Transcriber, caller_channel: int = 0) -> Transcript:
    """Decode ``path`` at the engine's rate and transcribe it. Raises speech.audio.AudioError."""
    return transcribe_audio(decode(path, rate=transcriber.sample_rate), transcriber, caller_channel)


def build_transcriber(
    engine: str, model_dir: str | Path, language: str = "zh", threads: int | None = None, **options: Any
) -> Transcriber:
    """Engine by name with an explicit model directory (engines import their library lazily).

    ``threads`` is the CPU threads one transcriber may use (whisper); Vosk is single-threaded per
    stream. Extra ``options`` go to the engine (e.g. ``vad=False``, ``grammar=[...]``, ``beam_size``).
    """
    if engine == "vosk":
        from speech.engines.vosk import VoskTranscriber

        return VoskTranscriber(model_dir, language=language, **options)
    if engine == "whisper":
        from speech.engines.whisper import WhisperTranscriber

        return WhisperTranscriber(model_dir, language=language, threads=threads or 1, **options)
    raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
