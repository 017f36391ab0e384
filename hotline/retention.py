"""Applying the retention policy of the settings: plan, delete in batches, one audit entry with counts.

Each batch is its own short transaction, so a run over a year of calls never holds a long write
lock (the IVR keeps answering on SQLite). The audit entry (action ``retention``) carries counts and
the policy, never ids of people or text.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from hotline.settings import Settings
from store import retention, search
from store.audit import audit
from store.base import utcnow
from store.db import transaction

log = logging.getLogger(__name__)


def policy_of(settings: Settings) -> retention.Policy:
    return retention.Policy(
        recordings_days=settings.retain_recordings_days,
        transcripts_days=settings.retain_transcripts_days,
        audit_days=settings.retain_audit_days,
    )


@dataclass
class Result:
    plan: retention.Plan
    deleted: dict[str, int]
    dry_run: bool


def _unlinker(data_dir: Path) -> retention.Unlink:
    root = data_dir.resolve()

    def unlink(rel: str) -> bool:
        path = (root / rel).resolve()
        if root not in path.parents or not path.is_file():  # never outside the data dir
            return False
        path.unlink()
        return True

    return unlink


def run(settings: Settings, sessions: sessionmaker[Session], *, dry_run: bool, now: datetime | None = None) -> Result:
    """Plan (dry run) or apply the policy; a real run writes one ``retention`` audit entry."""
    now = now or utcnow()
    policy = policy_of(settings)
    with transaction(sessions) as s:
        p = retention.plan(s, policy, now)
    deleted = {"recordings": 0, "transcripts": 0, "scores": 0, "audit_entries": 0}
    if dry_run:
        return Result(p, deleted, True)
    unlink = _unlinker(Path(settings.data_dir))
    rec_before = retention.cutoff(now, policy.recordings_days)
    tr_before = retention.cutoff(now, policy.transcripts_days)
    audit_before = retention.cutoff(now, policy.audit_days)
    while rec_before is not None:
        with transaction(sessions) as s:
            n = retention.purge_recordings(s, rec_before, unlink)
        deleted["recordings"] += n
        if n == 0:
            break
    while tr_before is not None:
        with transaction(sessions) as s:
            n_tr, n_sc = retention.purge_transcripts(s, tr_before)
        deleted["transcripts"] += n_tr
        deleted["scores"] += n_sc
        if n_tr == 0 and n_sc == 0:
            break
    while audit_before is not None:
        with transaction(sessions) as s:
            n = retention.purge_audit(s, audit_before)
        deleted["audit_entries"] += n
        if n == 0:
            break
    with transaction(sessions) as s:
        audit(
            s,
            None,
            "retention",
            "store",
            "",
            deleted=deleted,
            held=p.held,
            policy={
                "recordings_days": policy.recordings_days,
                "transcripts_days": policy.transcripts_days,
                "audit_days": policy.audit_days,
            },
        )
    search.forget_counts()
    log.info("retention: deleted %s, held %d calls under review", deleted, p.held)
    return Result(p, deleted, False)
