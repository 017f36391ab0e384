"""The post-call score is computed from the full recording's transcript: what the live board kept
for the call (turns heard live, alerts) does not change it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from hotline.pipeline import PipelineContext, job_key, redact_transcript, score_step, score_transcript
from hotline.settings import Settings
from speech.types import Transcript
from store.db import transaction
from store.live import append_event
from store.models_pipeline import Job, ScoreRow, TranscriptRow
from tests.hotline.pipeline.util import add_call

TRANSCRIPT = {
    "schema": 1,
    "duration": 30.0,
    "engine": "vosk",
    "model": "m",
    "language": "zh",
    "redacted": True,
    "utterances": [
        {"speaker": "agent", "start": 0.5, "end": 3.0, "text": "您好，京东客服，很高兴为您服务", "words": []},
        {"speaker": "customer", "start": 3.5, "end": 6.0, "text": "我的快递三天了还没到", "words": []},
        {"speaker": "agent", "start": 6.5, "end": 9.0, "text": "请您提供一下订单号，我帮您核实", "words": []},
        {"speaker": "agent", "start": 20.0, "end": 22.0, "text": "还有什么可以帮您，祝您生活愉快", "words": []},
    ],
}
LIVE = [  # what a live board might have kept: other words, harsh alerts
    {"type": "turn", "speaker": "agent", "start": 0.5, "end": 3.0, "text": "你烦不烦"},
    {"type": "alert", "kind": "forbidden", "time": 2.0, "evidence": "你烦不烦", "speaker": "agent", "detail": "abuse"},
    {"type": "alert", "kind": "missing", "time": 9.0, "evidence": "核实", "speaker": "agent", "detail": "verification"},
    {"type": "end", "time": 30.0},
]


def test_live_events_do_not_change_the_post_call_score(app: Any, settings: Settings) -> None:
    sessions = app.extensions["hotline"]["sessions"]

    def read(q: Any) -> Any:
        with transaction(sessions) as s:
            return q(s)

    ctx = PipelineContext(
        settings=settings,
        fetch=lambda url, local: None,  # type: ignore[arg-type,return-value]
        transcribe=lambda path: Transcript.from_dict(TRANSCRIPT),
        redact=lambda t: redact_transcript(t, settings),
        score=lambda t, call_id: score_transcript(t, settings, call_id),
        read=read,
    )
    totals = {}
    for name, live in (("L" + "1" * 32, True), ("Q" + "2" * 32, False)):
        call_id, rec_id = add_call(sessions, name, "https://api.twilio.com/x.wav")
        with transaction(sessions) as s:
            s.add(TranscriptRow(call_id=call_id, data=TRANSCRIPT, text=""))
        if live:
            for event in LIVE:
                append_event(sessions, f"CA{name}", event)
        write = score_step(ctx, Job(key=job_key("score", rec_id), step="score", call_id=call_id))
        with transaction(sessions) as s:
            write(s)
            row = s.scalars(select(ScoreRow).where(ScoreRow.call_id == call_id)).one()
            totals[live] = (row.total, row.auto_fail, row.items)
    assert totals[True] == totals[False]
    assert (
        totals[True][0] > 50 and totals[True][1] is False
    )  # scored; the live "forbidden" alert did not make the call an auto-fail
