"""Calibration sessions: several reviewers score one call blind, then compare."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.errors import ReviewError
from store.models import Call
from store.models_review import CalibrationSession, Review, User


def create_calibration(
    s: Session, call_id: int, reviewer_ids: Sequence[int], created_by: int, title: str = ""
) -> CalibrationSession:
    """A session on one call for at least two active reviewers."""
    if len(set(reviewer_ids)) < 2:
        raise ReviewError("calibration needs at least two reviewers")
    known = set(s.scalars(select(User.id).where(User.id.in_(list(reviewer_ids)), User.active.is_(True))))
    if known != set(reviewer_ids):
        raise ReviewError(f"no active user with id {sorted(set(reviewer_ids) - known)}")
    if s.get(Call, call_id) is None:
        raise ReviewError(f"no call {call_id}")
    cal = CalibrationSession(
        call_id=call_id, reviewer_ids=sorted(set(reviewer_ids)), created_by=created_by, title=title, status="open"
    )
    s.add(cal)
    s.flush()
    return cal


def get_calibration(s: Session, cal_id: int) -> CalibrationSession | None:
    return s.get(CalibrationSession, cal_id)


def has_scored(s: Session, cal_id: int, reviewer_id: int) -> bool:
    """Whether the reviewer already scored in this session."""
    q = select(Review.id).where(Review.calibration_id == cal_id, Review.reviewer_id == reviewer_id)
    return s.scalar(q.limit(1)) is not None


def close_calibration(s: Session, cal_id: int) -> bool:
    """Close the session (no more scores); False if there is no such session."""
    cal = s.get(CalibrationSession, cal_id)
    if cal is None:
        return False
    cal.status = "closed"
    return True


def calibration_reviews(s: Session, cal_id: int) -> list[tuple[Review, str]]:
    """The session's scores so far, each with its reviewer's name."""
    q = (
        select(Review, User.name)
        .join(User, User.id == Review.reviewer_id)
        .where(Review.calibration_id == cal_id)
        .order_by(Review.id)
    )
    return [(r, n) for r, n in s.execute(q)]


def list_calibrations(s: Session, limit: int = 100) -> list[CalibrationSession]:
    return list(s.scalars(select(CalibrationSession).order_by(CalibrationSession.id.desc()).limit(limit)))
