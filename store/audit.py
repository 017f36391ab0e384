"""The workspace's audit log: who did what to which object, and when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.base import utc
from store.models_review import AuditEntry, User


def audit(
    s: Session, user_id: int | None, action: str, object_type: str = "", object_id: object = "", **detail: Any
) -> None:
    """Record who did what to which object. Callers pass ids and counts, never transcript text."""
    s.add(AuditEntry(user_id=user_id, action=action, object_type=object_type, object_id=str(object_id), detail=detail))


def audited_since(s: Session, user_id: int, action: str, object_type: str, object_id: object, since: datetime) -> bool:
    """Whether the user did ``action`` on the object since ``since`` (to log a listen once, not
    once per HTTP request of the player)."""
    q = select(AuditEntry.id).where(
        AuditEntry.object_type == object_type,
        AuditEntry.object_id == str(object_id),
        AuditEntry.user_id == user_id,
        AuditEntry.action == action,
        AuditEntry.at >= utc(since),
    )
    return s.scalar(q.limit(1)) is not None


def list_audit(s: Session, limit: int = 100, offset: int = 0) -> list[tuple[AuditEntry, str]]:
    """Newest entries first, each with its user's name ("" for the CLI and failed logins)."""
    q = (
        select(AuditEntry, func.coalesce(User.name, ""))
        .outerjoin(User, User.id == AuditEntry.user_id)
        .order_by(AuditEntry.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [(a, n) for a, n in s.execute(q)]
