"""Disputes of a review: raised on an agent's behalf, then upheld or revised. Both the original
and the resolved items stay on the dispute; who may resolve is ``workspace.rules``' call."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.base import utcnow
from store.errors import ReviewError
from store.models_review import Dispute, Review


def raise_dispute(s: Session, review_id: int, user_id: int, reason: str) -> Dispute:
    """Open a dispute of a review (one open dispute per review); the review shows as disputed."""
    review = s.get(Review, review_id)
    if review is None or review.kind != "review":
        raise ReviewError(f"no review {review_id}")
    if not reason.strip():
        raise ReviewError("a dispute needs a reason")
    if s.scalar(select(Dispute.id).where(Dispute.review_id == review_id, Dispute.status == "open")):
        raise ReviewError("this review already has an open dispute")
    d = Dispute(
        review_id=review_id,
        call_id=review.call_id,
        raised_by=user_id,
        reason=reason.strip(),
        status="open",
        original_items=dict(review.items),
        original_total=review.total,
    )
    review.status = "disputed"
    s.add(d)
    s.flush()
    return d


def get_dispute(s: Session, dispute_id: int) -> tuple[Dispute, Review] | None:
    """The dispute and the review it is about, or None."""
    d = s.get(Dispute, dispute_id)
    if d is None:
        return None
    review = s.get(Review, d.review_id)
    assert review is not None  # a foreign key
    return d, review


def get_open_dispute(s: Session, dispute_id: int) -> tuple[Dispute, Review]:
    """The dispute and its review, or ReviewError if there is no such open dispute."""
    got = get_dispute(s, dispute_id)
    if got is None or got[0].status != "open":
        raise ReviewError(f"no open dispute {dispute_id}")
    return got


def uphold_dispute(s: Session, dispute_id: int, resolver_id: int, resolution: str) -> Dispute:
    """The review stands as it was."""
    d, review = get_open_dispute(s, dispute_id)
    d.status = "upheld"
    d.resolved_items = dict(d.original_items)
    d.resolved_total = d.original_total
    review.status = "submitted"
    return _resolved(d, resolver_id, resolution)


def revise_dispute(
    s: Session, dispute_id: int, resolver_id: int, resolution: str, items: dict[str, Any], total: float
) -> Dispute:
    """The review takes the new items and total; the dispute keeps the original ones."""
    d, review = get_open_dispute(s, dispute_id)
    d.status = "revised"
    d.resolved_items = items
    d.resolved_total = total
    review.items = items
    review.total = total
    review.status = "revised"
    return _resolved(d, resolver_id, resolution)


def _resolved(d: Dispute, resolver_id: int, resolution: str) -> Dispute:
    d.resolver_id = resolver_id
    d.resolution = resolution.strip()
    d.resolved_at = utcnow()
    return d


def list_disputes(s: Session, status: str | None = None, limit: int = 200) -> list[Dispute]:
    q = select(Dispute).order_by(Dispute.id.desc()).limit(limit)
    if status:
        q = q.where(Dispute.status == status)
    return list(s.scalars(q))
