"""Small helpers the workspace's tests share: the app's store, its audit rows, a review, a sample."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from store.db import transaction
from store.models_review import AuditEntry


def sessions_of(app: Any) -> Any:
    return app.extensions["hotline"]["sessions"]


def audits(app: Any, action: str) -> list[AuditEntry]:
    with transaction(sessions_of(app)) as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def make_review(app: Any, call_id: int, user_id: int, **human: float) -> int:
    """A review of the call by the user (``human`` overrides by item), through the workspace's rules."""
    from workspace.review import record_review

    with transaction(sessions_of(app)) as s:
        return record_review(s, call_id, user_id, dict(human), {}, "").id


def make_sample(app: Any, seeded: Any) -> int:
    """This week's sample of 售后一组 (seed 1), run by the supervisor."""
    from workspace.sampling_run import run_sample

    with transaction(sessions_of(app)) as s:
        return run_sample(s, "售后一组", seeded.week, seed=1, user_id=seeded.users["sup"]).sample_id
