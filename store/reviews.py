"""Human reviews of scored calls and the comments on a call.

A review is stored next to the automatic score, which it never changes. The items and the human
total are worked out by the workspace's rules (``workspace.rules``); this module only keeps them.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.errors import ReviewError, ScoreInputError
from store.models import Call
from store.models_pipeline import ScoreRow
from store.models_review import Review, ReviewComment

MAX_COMMENT_AT_S = 24 * 3600.0  # a comment's time in the recording: no call lasts a day
MAX_TURN = 100_000


def automatic_score(s: Session, call_id: int) -> ScoreRow | None:
    """The call's automatic score (what a review is made against), or None if it has none yet."""
    return s.scalar(select(ScoreRow).where(ScoreRow.call_id == call_id))


def get_review(s: Session, review_id: int) -> Review | None:
    return s.get(Review, review_id)


def add_review(
    s: Session,
    call_id: int,
    reviewer_id: int,
    *,
    items: dict[str, Any],
    auto_total: float | None,
    total: float,
    auto_fail: bool,
    comment: str = "",
    kind: str = "review",
    calibration_id: int | None = None,
) -> Review:
    """Store a review (a calibration entry with ``kind="calibration"``); a non-empty comment is
    also kept as a comment on the call."""
    review = Review(
        call_id=call_id,
        reviewer_id=reviewer_id,
        kind=kind,
        calibration_id=calibration_id,
        items=items,
        auto_total=auto_total,
        total=total,
        auto_fail=auto_fail,
        comment=comment,
        status="submitted",
    )
    s.add(review)
    s.flush()
    if comment.strip():
        s.add(ReviewComment(call_id=call_id, review_id=review.id, author_id=reviewer_id, text=comment.strip()))
    return review


def add_comment(
    s: Session, call_id: int, author_id: int, text: str, at_s: float | None = None, turn: int | None = None
) -> ReviewComment:
    """A comment on the call, optionally pinned to a time in the recording or a transcript turn."""
    if not text.strip():
        raise ReviewError("empty comment")
    if at_s is not None and not (math.isfinite(at_s) and 0 <= at_s <= MAX_COMMENT_AT_S):
        raise ScoreInputError(f"时间点须为 0 到 {MAX_COMMENT_AT_S:.0f} 秒之间的数字。")
    if turn is not None and not 0 <= turn < MAX_TURN:
        raise ScoreInputError("句子序号超出范围。")
    if s.get(Call, call_id) is None:
        raise ReviewError(f"no call {call_id}")
    c = ReviewComment(call_id=call_id, author_id=author_id, text=text.strip()[:2000], at_s=at_s, turn=turn)
    s.add(c)
    s.flush()
    return c
