"""Helpers for the pipeline tests: WAV files, calls with recordings, waiting."""

from __future__ import annotations

import time
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from store import pipeline as repo
from store.db import transaction
from store.models import Call


def write_wav(path: Path, seconds: float = 1.0, channels: int = 2, rate: int = 8000, tone: bool = True) -> Path:
    n = int(seconds * rate)
    t = np.arange(n) / rate
    sig = (3000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16) if tone else np.zeros(n, np.int16)
    frames = np.repeat(sig[:, None], channels, axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames.tobytes())
    return path


def add_call(sessions: sessionmaker[Session], name: str, url: str) -> tuple[int, int]:
    with transaction(sessions) as s:
        call, rec, _ = repo.ensure_call_recording(s, call_sid=f"CA{name}", recording_sid=f"RE{name}", source_url=url)
        return call.id, rec.id


def call_state(sessions: sessionmaker[Session], call_id: int) -> tuple[str, str]:
    with transaction(sessions) as s:
        call = s.get(Call, call_id)
        assert call is not None
        return call.pipeline_state, call.pipeline_error


def wait_for(pred: Callable[[], bool], timeout: float = 30.0, every: float = 0.1) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout}s")


def signed_post(client: object, settings: object, path: str, params: dict[str, str]) -> object:
    """POST a form to the app as Twilio would, with a valid X-Twilio-Signature."""
    from twilio.request_validator import RequestValidator

    token = settings.twilio_auth_token.reveal()  # type: ignore[attr-defined]
    url = "http://localhost" + path
    sig = RequestValidator(token).compute_signature(url, params)
    return client.post(path, data=params, headers={"X-Twilio-Signature": sig})  # type: ignore[attr-defined]


def recording_callback(call_sid: str, rec_sid: str, url: str, duration: float) -> dict[str, str]:
    return {
        "AccountSid": "AC" + "0" * 32,
        "CallSid": call_sid,
        "RecordingSid": rec_sid,
        "RecordingUrl": url,
        "RecordingStatus": "completed",
        "RecordingDuration": str(int(duration)),
        "RecordingChannels": "2",
        "RecordingSource": "DialVerb",
    }


def ensure_ivr(app: object) -> None:
    """Stopgap while the IVR blueprint is not yet listed in BLUEPRINTS."""
    if not any(r.rule == "/ivr/recording" for r in app.url_map.iter_rules()):  # type: ignore[attr-defined]
        from ivr.webhooks import register

        register(app)  # type: ignore[arg-type]
