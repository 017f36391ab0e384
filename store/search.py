"""The workspace's call list at 100k calls (filters, sort, pages, full-text search) and one call's detail.

The call list never loads everything: one query finds the ids of a page (filters that touch other
tables become EXISTS/JOIN only when set), a second loads those rows. Full-text search is a plain
``LIKE`` on ``transcripts.text`` so it works the same on SQLite and on PostgreSQL without extensions.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, cast, exists, func, or_, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from store.base import utc
from store.models import Call
from store.models_pipeline import Recording, ScoreRow, TranscriptRow
from store.models_review import Dispute, Review, ReviewComment, User

# Customer sentiment is stored in [-1, 1] (negative .. positive); these bands name its thirds.
SENTIMENT_BANDS: dict[str, tuple[float, float]] = {
    "negative": (-math.inf, -0.2),
    "neutral": (-0.2, 0.2),
    "positive": (0.2, math.inf),
}
FLAGS = ("forbidden_phrase", "angry_customer", "long_silence", "auto_fail", "needs_review")
SORTS = {
    "started_at": Call.started_at,
    "duration": Call.duration_s,
    "agent": Call.agent_id,
    "total": ScoreRow.total,
    "sentiment": ScoreRow.customer_sentiment,
}


@dataclass
class CallFilter:
    """Everything the list page can filter by. Datetimes are UTC bounds (the view converts local dates)."""

    start: datetime | None = None
    end: datetime | None = None
    agent: str = ""
    team: str = ""
    menu: str = ""
    outcome: str = ""
    score_min: float | None = None
    score_max: float | None = None
    sentiment: str = ""
    flags: list[str] = field(default_factory=list)
    q: str = ""
    reviewed: bool | None = None
    scored_only: bool = False
    call_ids: list[int] | None = None
    sort: str = "-started_at"
    page: int = 1
    per_page: int = 50


@dataclass
class CallRow:
    id: int
    call_sid: str
    started_at: datetime
    agent_id: str
    team: str
    outcome: str
    menu_path: list[str]
    duration_s: float | None
    survey_score: int | None
    total: float | None
    auto_fail: bool
    customer_sentiment: float | None
    flags: list[str]
    has_recording: bool
    human_total: float | None


@dataclass
class Page:
    rows: list[CallRow]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def sentiment_conds(band: str) -> list[Any]:
    """SQL conditions for customer sentiment within a band (open ends add none)."""
    lo, hi = SENTIMENT_BANDS[band]
    conds = []
    if lo > -math.inf:
        conds.append(ScoreRow.customer_sentiment >= lo)
    if hi < math.inf:
        conds.append(ScoreRow.customer_sentiment < hi)
    return conds


def _like(value: str) -> str:
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _conds(f: CallFilter) -> tuple[list[Any], list[Any], Any | None]:
    """(conditions on calls, conditions on scores, the transcript search as ``call_id IN (...)``).

    Search is an IN over one scan of ``transcripts`` (the planner builds the id set once), which
    stays fast for rare words where a per-row EXISTS would walk every call.
    """
    call: list[Any] = []
    score: list[Any] = []
    if f.start is not None:
        call.append(Call.started_at >= utc(f.start))
    if f.end is not None:
        call.append(Call.started_at < utc(f.end))
    if f.agent:
        call.append(Call.agent_id == f.agent)
    if f.team:
        call.append(Call.team == f.team)
    if f.outcome:
        call.append(Call.outcome == f.outcome)
    if f.menu:
        call.append(cast(Call.menu_path, String).like(_like(f.menu), escape="\\"))
    if f.reviewed is not None:
        has = exists().where(Review.call_id == Call.id, Review.kind == "review")
        call.append(has if f.reviewed else ~has)
    if f.call_ids is not None:
        call.append(Call.id.in_(f.call_ids))
    if f.score_min is not None:
        score.append(ScoreRow.total >= f.score_min)
    if f.score_max is not None:
        score.append(ScoreRow.total <= f.score_max)
    if f.sentiment in SENTIMENT_BANDS:
        score.extend(sentiment_conds(f.sentiment))
    for flag in f.flags:
        if flag == "auto_fail":
            score.append(or_(ScoreRow.auto_fail.is_(True), cast(ScoreRow.flags, String).like('%"auto_fail"%')))
        else:
            score.append(cast(ScoreRow.flags, String).like(_like(f'"{flag}"'), escape="\\"))
    search = None
    if f.q.strip():
        search = select(TranscriptRow.call_id).where(TranscriptRow.text.like(_like(f.q.strip()), escape="\\"))
    return call, score, search


MAX_ID_LIST = 10000  # search matches passed back as an id list (bound parameters) up to this many


def _by_score(f: CallFilter) -> bool:
    return f.sort.lstrip("-") in ("total", "sentiment")


SEARCH_INDEX = "ix_transcripts_call_text"  # SQLite covering index (call_id, text), migration 0004
PROBE_IN, PROBE_EXISTS, PROBE_SQLITE = "in", "exists", "exists-sqlite"


def _text_exists(f: CallFilter, outer: Any, probe: str) -> Any:
    """EXISTS (this call's transcript contains ``f.q``). On SQLite the probe is pinned to the
    covering index: the planner would take the unique call_id index and then read the row, whose
    ``text`` sits after the utterances JSON (kilobytes of overflow pages per call)."""
    pattern = _like(f.q.strip())
    if probe == PROBE_SQLITE:
        outer_sql = "calls.id" if outer is Call.id else "scores.call_id"
        return text(
            f"EXISTS (SELECT 1 FROM transcripts AS tx INDEXED BY {SEARCH_INDEX} "
            f"WHERE tx.call_id = {outer_sql} AND tx.text LIKE :search_q ESCAPE '\\')"
        ).bindparams(search_q=pattern)
    return exists(
        select(TranscriptRow.call_id).where(
            TranscriptRow.call_id == outer, TranscriptRow.text.like(pattern, escape="\\")
        )
    )


def _probe_for(s: Session) -> str:
    return PROBE_SQLITE if s.get_bind().dialect.name == "sqlite" else PROBE_EXISTS


def _filtered(f: CallFilter, columns: Sequence[Any], *, probe: str = PROBE_IN) -> Select[Any]:
    """The filtered query over calls; joins scores only when a score filter or the sort needs it.

    Sorting by score lists scored calls only (inner join), so the score's index drives the sort.
    ``probe``: the transcript search as ``id IN (matches)`` or, for words most calls contain,
    per row (EXISTS).
    """
    call, score, text_q = _conds(f)
    q = select(*columns).select_from(Call)
    if score or f.scored_only or _by_score(f):
        q = q.join(ScoreRow, ScoreRow.call_id == Call.id)
    conds = call + score
    if text_q is not None and probe != PROBE_IN:
        conds.append(_text_exists(f, Call.id, probe))
    elif text_q is not None:
        conds.append(Call.id.in_(text_q))
    if conds:
        q = q.where(and_(*conds))
    return q


def _order(f: CallFilter) -> list[Any]:
    key = f.sort.lstrip("-")
    col = SORTS.get(key, Call.started_at)
    desc = f.sort.startswith("-")
    primary = col.desc() if desc else col.asc()
    tie = ScoreRow.id if _by_score(f) else Call.id  # the score index ends in its rowid: no sort step
    return [primary, tie.desc() if desc else tie.asc()]


def count_calls(s: Session, f: CallFilter, *, probe: str = PROBE_IN) -> int:
    """How many calls match. Filters only on scores/text count from those tables (one scan, no join)."""
    call, score, text_q = _conds(f)
    if not call and not score and text_q is not None and (f.scored_only or _by_score(f)):
        # scored calls whose transcript matches: one scan of the transcripts, a probe into scores
        joined = (
            text_q.with_only_columns(func.count())
            .select_from(TranscriptRow)
            .join(ScoreRow, ScoreRow.call_id == TranscriptRow.call_id)
        )
        return s.scalar(joined) or 0
    if not call and (score or f.scored_only or _by_score(f)):
        q = select(func.count()).select_from(ScoreRow).where(*score)
        if text_q is not None and probe != PROBE_IN:  # a common word: test it on the rows the scores leave
            q = q.where(_text_exists(f, ScoreRow.call_id, probe))
        elif text_q is not None:
            q = q.where(ScoreRow.call_id.in_(text_q))
        return s.scalar(q) or 0
    if not call and text_q is not None:
        return s.scalar(select(func.count()).select_from(text_q.subquery())) or 0
    if not call:
        return s.scalar(select(func.count(Call.id))) or 0
    sub = _filtered(f, [Call.id], probe=probe).subquery()
    return s.scalar(select(func.count()).select_from(sub)) or 0


def list_calls(s: Session, f: CallFilter, *, count: bool = True) -> Page:
    """One page of the filtered, sorted list: ids by LIMIT/OFFSET, then the rows for those ids."""
    per_page = max(1, min(f.per_page, 500))
    page = max(1, f.page)
    probe = PROBE_IN
    _, _, text_q = _conds(f)
    if text_q is not None:
        # A rare word: one scan of the transcripts gives an id list (bound parameters). A common
        # word stops that scan after MAX_ID_LIST matches and searches per row (EXISTS) instead,
        # which finds a page quickly; the count is then one aggregate in SQL, no ids fetched.
        if f.call_ids is None:
            matched = list(s.scalars(text_q.limit(MAX_ID_LIST + 1)))
        else:
            keep = set(f.call_ids)
            matched = [i for i in s.scalars(text_q) if i in keep]
        if len(matched) <= MAX_ID_LIST:
            f = replace(f, q="", call_ids=matched)
        else:
            probe = _probe_for(s)
    q = _filtered(f, [Call.id], probe=probe).order_by(*_order(f))
    ids = list(s.scalars(q.limit(per_page).offset((page - 1) * per_page)))
    total = count_calls(s, f, probe=probe) if count else 0
    return Page(rows=load_rows(s, ids), total=total, page=page, per_page=per_page)


def iter_calls(s: Session, f: CallFilter, batch: int = 1000, limit: int | None = None) -> Iterator[CallRow]:
    """Every row of a filtered list in list order, a batch at a time (for CSV and zip exports)."""
    offset = 0
    sent = 0
    while True:
        q = _filtered(f, [Call.id]).order_by(*_order(f)).limit(batch).offset(offset)
        ids = list(s.scalars(q))
        if not ids:
            return
        for row in load_rows(s, ids):
            yield row
            sent += 1
            if limit is not None and sent >= limit:
                return
        offset += batch


def load_rows(s: Session, ids: Sequence[int]) -> list[CallRow]:
    """The list columns of the given calls, in the order of ``ids``."""
    if not ids:
        return []
    idl = list(ids)
    q = (
        select(Call, ScoreRow.total, ScoreRow.auto_fail, ScoreRow.customer_sentiment, ScoreRow.flags)
        .outerjoin(ScoreRow, ScoreRow.call_id == Call.id)
        .where(Call.id.in_(idl))
    )
    rec_ids = set(s.scalars(select(Recording.call_id).where(Recording.call_id.in_(idl), Recording.audio_path != "")))
    human: dict[int, float] = {}
    for cid, tot in s.execute(
        select(Review.call_id, Review.total).where(Review.call_id.in_(idl), Review.kind == "review").order_by(Review.id)
    ):
        human[cid] = tot
    by_id: dict[int, CallRow] = {}
    for call, total, auto_fail, sent, flags in s.execute(q):
        by_id[call.id] = CallRow(
            id=call.id,
            call_sid=call.call_sid,
            started_at=call.started_at,
            agent_id=call.agent_id,
            team=call.team,
            outcome=call.outcome,
            menu_path=list(call.menu_path or []),
            duration_s=call.duration_s,
            survey_score=call.survey_score,
            total=total,
            auto_fail=bool(auto_fail),
            customer_sentiment=sent,
            flags=list(flags or []),
            has_recording=call.id in rec_ids,
            human_total=human.get(call.id),
        )
    return [by_id[i] for i in idl if i in by_id]


def distinct_values(s: Session, column: str, limit: int = 200) -> list[str]:
    """Values for a filter's drop-down (agents, teams, outcomes); uses the column's index."""
    col = {"agent": Call.agent_id, "team": Call.team, "outcome": Call.outcome}[column]
    return [v for v in s.scalars(select(col).where(col != "").group_by(col).order_by(col).limit(limit))]


# --------------------------------------------------------------------------- one call


@dataclass
class CallDetail:
    call: Call
    score: ScoreRow | None
    transcript: TranscriptRow | None
    recording: Recording | None
    reviews: list[tuple[Review, str]]
    comments: list[tuple[ReviewComment, str]]
    disputes: list[Dispute]


def has_call(s: Session, call_id: int) -> bool:
    return s.get(Call, call_id) is not None


def call_detail(s: Session, call_id: int) -> CallDetail | None:
    """Everything the call page shows, or None for an unknown id."""
    call = s.get(Call, call_id)
    if call is None:
        return None
    score = s.scalar(select(ScoreRow).where(ScoreRow.call_id == call_id))
    transcript = s.scalar(select(TranscriptRow).where(TranscriptRow.call_id == call_id))
    recording = recording_for(s, call_id)
    reviews = [
        (r, n)
        for r, n in s.execute(
            select(Review, User.name)
            .join(User, User.id == Review.reviewer_id)
            .where(Review.call_id == call_id, Review.kind == "review")
            .order_by(Review.id)
        )
    ]
    comments = [
        (c, n)
        for c, n in s.execute(
            select(ReviewComment, User.name)
            .join(User, User.id == ReviewComment.author_id)
            .where(ReviewComment.call_id == call_id)
            .order_by(ReviewComment.id)
        )
    ]
    disputes = list(s.scalars(select(Dispute).where(Dispute.call_id == call_id).order_by(Dispute.id)))
    return CallDetail(call, score, transcript, recording, reviews, comments, disputes)


def recording_for(s: Session, call_id: int) -> Recording | None:
    """The call's newest recording that has a file."""
    return s.scalar(
        select(Recording)
        .where(Recording.call_id == call_id, Recording.audio_path != "")
        .order_by(Recording.id.desc())
        .limit(1)
    )
