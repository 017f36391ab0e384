"""Retention: a dry run lists what is due and deletes nothing; a real run deletes it, holds calls
under review, removes only files no kept recording shares, and writes one audit entry with counts."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import func, select, update

from hotline import retention, scheduler
from hotline.cli import cli
from store import search
from store.base import utcnow
from store.db import transaction
from store.models import Call
from store.models_pipeline import Job, Recording, ScoreRow, TranscriptRow
from store.models_review import AuditEntry, Dispute, Review, Sample, SamplePick

from ..workspace.conftest import call_audio, ws  # noqa: F401 - fixtures: a seeded workspace


def _age_and_hold(app: Any, sd: Any) -> tuple[list[int], list[int]]:
    """Every call but the last two is 400 days old; one is disputed, one sampled and unreviewed,
    one sampled and reviewed (not held). Returns (old ids, held ids)."""
    sessions = app.extensions["hotline"]["sessions"]
    ids = sd.call_ids
    old = ids[:-2]
    disputed, sampled, reviewed = old[0], old[1], old[2]
    with transaction(sessions) as s:
        s.execute(update(Call).where(Call.id.in_(old)).values(started_at=utcnow() - timedelta(days=400)))
        s.add(AuditEntry(user_id=None, action="login", at=utcnow() - timedelta(days=2000)))
        me = sd.users["qa1"]
        rv = Review(call_id=disputed, reviewer_id=me, kind="review", total=50.0)
        done = Review(call_id=reviewed, reviewer_id=me, kind="review", total=70.0)
        s.add_all([rv, done])
        s.flush()
        s.add(Dispute(review_id=rv.id, call_id=disputed, raised_by=sd.users["sup"], reason="x", status="open"))
        sample = Sample(team="售后一组", week="2025-W01", seed=1)
        s.add(sample)
        s.flush()
        s.add_all(
            [
                SamplePick(sample_id=sample.id, call_id=sampled, reason="random"),
                SamplePick(sample_id=sample.id, call_id=reviewed, reason="random"),
            ]
        )
    return old, [disputed, sampled]


def _counts(app: Any) -> dict[str, int]:
    with transaction(app.extensions["hotline"]["sessions"]) as s:
        return {
            "audio": int(s.scalar(select(func.count()).where(Recording.audio_path != "")) or 0),
            "transcripts": int(s.scalar(select(func.count(TranscriptRow.id))) or 0),
            "scores": int(s.scalar(select(func.count(ScoreRow.id))) or 0),
        }


def test_dry_run_lists_and_real_run_deletes_and_audits(ws: Any, monkeypatch: Any) -> None:  # noqa: F811
    app, sd = ws
    settings = app.extensions["hotline"]["settings"]
    sessions = app.extensions["hotline"]["sessions"]
    old, held = _age_and_hold(app, sd)
    before = _counts(app)
    files = sorted(p.name for p in (Path(settings.data_dir) / "recordings").iterdir())

    monkeypatch.setenv("HOTLINE_DATA_DIR", str(settings.data_dir))
    out = CliRunner().invoke(cli, ["retention", "run", "--dry-run"])
    assert out.exit_code == 0, out.output
    assert "dry run: nothing deleted" in out.output
    assert f"held (review still open): {len(held)} calls" in out.output
    due_tr = [i for i in old if i not in held and i != sd.unscored_id]
    assert f"transcripts due: {len(due_tr)}" in out.output and str(due_tr[0]) in out.output
    assert _counts(app) == before  # nothing deleted

    res = retention.run(settings, sessions, dry_run=False)
    assert res.deleted["transcripts"] == len(due_tr) and res.deleted["audit_entries"] == 1
    after = _counts(app)
    assert after["transcripts"] == before["transcripts"] - len(due_tr)
    with transaction(sessions) as s:
        left = set(s.scalars(select(TranscriptRow.call_id)))
        assert set(held) <= left and not (set(due_tr) & left)
        # the index forgot them too: a word every seeded transcript has finds only what is kept
        found = {r.id for r in search.list_calls(s, search.CallFilter(q="您好", per_page=500)).rows}
        assert found <= left and set(held) & found
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "retention")).one()
        assert entry.detail["deleted"] == res.deleted and entry.detail["held"] == len(held)
        kept_paths = set(s.scalars(select(Recording.audio_path).where(Recording.audio_path != "")))
    now_files = sorted(p.name for p in (Path(settings.data_dir) / "recordings").iterdir())
    assert set(now_files) == {Path(p).name for p in kept_paths} and set(now_files) <= set(files)

    out = CliRunner().invoke(cli, ["retention", "run", "--json"])  # a second run finds nothing more
    assert json.loads(out.output)["deleted"]["transcripts"] == 0


def test_scheduler_claims_each_task_once_per_day(ws: Any) -> None:  # noqa: F811
    app, _ = ws
    ext = app.extensions["hotline"]
    night = utcnow().replace(hour=20, minute=30)  # 04:30 in Shanghai: after the maintenance hour
    assert scheduler.due_keys(night.replace(hour=17).astimezone(), 25) == []
    ran = scheduler.run_due(ext["settings"], ext["engine"], ext["sessions"], now=night)
    assert ran == ["retention", "analyze", "vacuum"]
    assert scheduler.run_due(ext["settings"], ext["engine"], ext["sessions"], now=night) == []
    with transaction(ext["sessions"]) as s:
        steps = {j.step: j.status for j in s.scalars(select(Job).where(Job.key.like("maint:%")))}
    assert steps == {"maint-retention": "done", "maint-analyze": "done", "maint-vacuum": "done"}


def test_storage_page_for_admins_only(ws: Any) -> None:  # noqa: F811
    from ..workspace.conftest import login

    app, _ = ws
    c = app.test_client()
    login(c, "admin")
    html = c.get("/qa/storage").get_data(as_text=True)
    assert 'id="disk-free"' in html and 'id="db-size"' in html and "录音保存 180 天" in html
    q = app.test_client()
    login(q, "qa1")
    assert q.get("/qa/storage").status_code == 403
