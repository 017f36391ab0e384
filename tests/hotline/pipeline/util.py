"""Helpers for the pipeline tests: WAV files, calls with recordings, waiting."""

from __future__ import annotations

import sys
import threading
import time
import traceback
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


def add_call(sessions: sessionmaker[Session], name: str, url: str, *, trusted: bool = True) -> tuple[int, int]:
    """A call with a recording, stored as `hotline ingest` does (``trusted``) or as a webhook would."""
    with transaction(sessions) as s:
        call, rec, _ = repo.ensure_call_recording(
            s, call_sid=f"CA{name}", recording_sid=f"RE{name}", source_url=url, trusted=trusted
        )
        return call.id, rec.id


def call_state(sessions: sessionmaker[Session], call_id: int) -> tuple[str, str]:
    with transaction(sessions) as s:
        call = s.get(Call, call_id)
        assert call is not None
        return call.pipeline_state, call.pipeline_error


def wait_for(
    pred: Callable[[], bool],
    timeout: float = 30.0,
    every: float = 0.1,
    describe: Callable[[], str] | None = None,
) -> None:
    """Poll ``pred``; on timeout the error carries ``describe()`` (what was stuck) and every thread's stack."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(every)
    detail = describe() if describe is not None else ""
    raise AssertionError(f"condition not met within {timeout}s\n{detail}\n{thread_stacks()}")


def thread_stacks() -> str:
    """The stack of every live thread, to tell a stuck runner from an idle one after a timeout."""
    names = {t.ident: t.name for t in threading.enumerate()}
    out = []
    for ident, frame in sys._current_frames().items():
        out.append(f"--- thread {names.get(ident, ident)}\n" + "".join(traceback.format_stack(frame, limit=12)))
    return "\n".join(out)


def pipeline_snapshot(sessions: sessionmaker[Session]) -> str:
    """Jobs and call states as the database holds them (for timeout messages)."""
    from sqlalchemy import select

    from store.models_pipeline import Job

    with transaction(sessions) as s:
        jobs = s.scalars(select(Job).order_by(Job.id)).all()
        calls = s.scalars(select(Call).order_by(Call.id)).all()
        lines = [
            f"job {j.id} {j.step} call={j.call_id} {j.status} {j.attempts}/{j.max_attempts} "
            f"updated={j.updated_at} worker={j.worker} error={j.error[:80]!r}"
            for j in jobs
        ]
        lines += [f"call {c.id} {c.pipeline_state} {c.pipeline_error[:80]!r}" for c in calls]
    lines.append(f"now={repo.now_utc()}")
    return "\n".join(lines)


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
