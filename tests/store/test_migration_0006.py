"""Migration 0006 on a store the old code wrote: call events lose their personal data, ingest rows stay readable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from store.db import MIGRATIONS, make_engine, migrate


def _upgrade_to(engine: sa.Engine, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


OLD_EVENTS = [  # what 0004-era webhooks stored
    ("speech", {"text": "我的手机号是13812345678", "confidence": 0.9}),
    ("speech", {"text": "身份证110105194912310021谢谢", "confidence": None}),
    ("speech", {"text": "退款进度", "confidence": 0.92}),
    ("dtmf", {"digits": "2"}),
    ("dtmf", {"digits": "13812345"}),
    ("dtmf", {"length": 12}),  # an order number entry: already a count
    ("node", {"back": True}),
    ("route", {"to": "payment.refund", "confidence": 0.8}),
]


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.scaleout)])
def test_old_events_are_redacted_and_ingest_rows_trusted(backend: str, tmp_path: Path, request: Any) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}" if backend == "sqlite" else request.getfixturevalue("pg_url")
    engine = make_engine(url)
    _upgrade_to(engine, "0004_review_search")
    meta = sa.MetaData()
    meta.reflect(engine)
    calls, events, recordings = meta.tables["calls"], meta.tables["call_events"], meta.tables["recordings"]
    now = sa.func.now()
    with engine.begin() as conn:
        for sid in ("CAold", "ingest:archive-1"):
            conn.execute(
                calls.insert().values(
                    call_sid=sid, caller_masked="", started_at=now, status="completed", outcome="", menu_path=[],
                    flow_state={}, skill="", agent_id="", team="", recording_sid="", recording_url="",
                    pipeline_state="", pipeline_error="",
                )
            )  # fmt: skip
        ids = dict(conn.execute(sa.select(calls.c.call_sid, calls.c.id)).all())
        for kind, detail in OLD_EVENTS:
            conn.execute(events.insert().values(call_id=ids["CAold"], at=now, kind=kind, node="main", detail=detail))
        for sid, rec_url in (("CAold", "file:///etc/passwd"), ("ingest:archive-1", "file:///archive/1.wav")):
            conn.execute(
                recordings.insert().values(
                    call_id=ids[sid], recording_sid="RE" + sid[-4:], source_url=rec_url, audio_path="", sha256="",
                    channels=0, received_at=now,
                )
            )  # fmt: skip
    migrate(engine)  # to the head, as `hotline serve` does on start
    with engine.connect() as conn:
        got = [(k, d) for k, d in conn.execute(sa.text("SELECT kind, detail FROM call_events ORDER BY id")).all()]
        trusted = dict(conn.execute(sa.text("SELECT source_url, trusted_source FROM recordings")).all())
        dump = " ".join(str(row) for row in conn.execute(sa.text("SELECT * FROM call_events")).all())
    engine.dispose()
    details = [d if isinstance(d, dict) else json.loads(d) for _, d in got]  # SQLite hands back the JSON text
    assert details == [
        {"text": "我的手机号是[电话]", "confidence": 0.9},
        {"text": "身份证[身份证]谢谢", "confidence": None},
        {"text": "退款进度", "confidence": 0.92},  # nothing that is not PII is lost
        {"length": 1},
        {"length": 8},
        {"length": 12},
        {"back": True},
        {"to": "payment.refund", "confidence": 0.8},
    ]
    assert "13812345678" not in dump and "110105194912310021" not in dump
    assert {k: bool(v) for k, v in trusted.items()} == {"file:///etc/passwd": False, "file:///archive/1.wav": True}
