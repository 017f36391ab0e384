"""The workspace's call list at 100k calls (pages, counts, full-text search) and one call's detail.

The call list never loads everything: one query finds the ids of a page (filters that touch other
tables become EXISTS/JOIN only when set), a second loads those rows. Full-text search reads the
character-bigram index (store/search_index.py: FTS5 on SQLite, tsvector + GIN on PostgreSQL); a
query with punctuation is confirmed by a LIKE on the rows the index leaves. Deep pages go by key
(``after``: the last row's sort value and id) rather than by OFFSET; counts are exact when they are
quick, else cached or estimated, and the page says which (see docs/archive.md).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import (
    Connection,
    func,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from store.models import Call
from store.models_pipeline import Recording, ScoreRow, TranscriptRow
from store.models_review import Dispute, Review, ReviewComment, User

# The filter vocabulary (CallFilter, FLAGS, SORTS …) is defined in store.search_filters and used here;
# callers list, count and filter calls through this one module.
from store.search_filters import (
    CACHED,
    ESTIMATE,
    EXACT,
    FLAGS,
    KEYSET_SORTS,
    MAX_ID_LIST,
    PROBE_EXISTS,
    PROBE_IN,
    SORTS,
    CallFilter,
    CallRow,
    Page,
    _by_score,
    _conds,
    _dialect,
    _filtered,
    _keyset,
    _order,
    _sort_cols,
)

__all__ = [  # what callers use: the filter vocabulary with the functions that run it
    "FLAGS",
    "KEYSET_SORTS",
    "MAX_ID_LIST",
    "SORTS",
    "CallDetail",
    "CallFilter",
    "CallRow",
    "Count",
    "Page",
    "call_detail",
    "count_calls",
    "distinct_values",
    "estimate_calls",
    "forget_counts",
    "has_call",
    "iter_calls",
    "list_calls",
    "load_rows",
    "recording_for",
    "smart_count",
]


@dataclass(frozen=True)
class Count:
    n: int
    kind: str = EXACT
    at: float = 0.0


COUNT_BUDGET_S = 0.12  # an exact count that takes longer is stopped and estimated instead
COUNT_TTL_S = 120.0  # how long a count is reused for the same filter
PART_TTL_S = 600.0  # one filter's own count, the factors of an estimate
_COUNTS: dict[tuple[Any, ...], tuple[float, int]] = {}
_COUNTS_LOCK = threading.Lock()


class _OverBudget(Exception):
    pass


def _cache_key(s: Session, f: CallFilter, what: str) -> tuple[Any, ...]:
    fields = (
        f.start,
        f.end,
        f.agent,
        f.team,
        f.menu,
        f.outcome,
        f.score_min,
        f.score_max,
        f.sentiment,
        tuple(sorted(f.flags)),
        f.q.strip(),
        f.reviewed,
        f.scored_only or _by_score(f),
        tuple(f.call_ids) if f.call_ids is not None else None,
    )
    bind = s.get_bind()
    url = bind.engine.url if isinstance(bind, Connection) else bind.url
    return (what, str(url), fields)


def _cached(key: tuple[Any, ...], ttl: float) -> tuple[float, int] | None:
    with _COUNTS_LOCK:
        hit = _COUNTS.get(key)
    if hit is None or time.time() - hit[0] > ttl:
        return None
    return hit


def _remember(key: tuple[Any, ...], n: int) -> None:
    with _COUNTS_LOCK:
        if len(_COUNTS) > 5000:
            _COUNTS.clear()
        _COUNTS[key] = (time.time(), n)


def forget_counts() -> None:
    """Drop every cached count (after retention deletes calls, in tests)."""
    with _COUNTS_LOCK:
        _COUNTS.clear()


def _budgeted(s: Session, stmt: Any, budget_s: float | None) -> int:
    """Run a count; with a budget, stop it when the budget is spent (SQLite progress handler,
    PostgreSQL statement_timeout) and raise _OverBudget. A savepoint keeps the transaction usable."""
    if budget_s is None:
        return int(s.scalar(stmt) or 0)
    dialect = _dialect(s)
    try:
        with s.begin_nested():
            if dialect == "sqlite":
                raw = s.connection().connection.dbapi_connection
                deadline = time.perf_counter() + budget_s
                raw.set_progress_handler(lambda: int(time.perf_counter() > deadline), 2000)  # type: ignore[union-attr]
                try:
                    return int(s.scalar(stmt) or 0)
                finally:
                    raw.set_progress_handler(None, 0)  # type: ignore[union-attr]
            s.execute(text(f"SET LOCAL statement_timeout = {max(1, int(budget_s * 1000))}"))
            n = int(s.scalar(stmt) or 0)
            s.execute(text("SET LOCAL statement_timeout = 0"))
            return n
    except DBAPIError as e:
        orig = e.orig
        if isinstance(orig, sqlite3.OperationalError) and "interrupt" in str(orig):
            raise _OverBudget() from e
        if getattr(orig, "sqlstate", "") == "57014":  # query_canceled: the statement_timeout
            raise _OverBudget() from e
        raise


def count_calls(s: Session, f: CallFilter, *, probe: str = PROBE_IN, budget_s: float | None = None) -> int:
    """How many calls match, exactly. Filters only on scores/text count from those tables (no join)."""
    return _budgeted(s, _count_stmt(s, f, probe), budget_s)


def _count_stmt(s: Session, f: CallFilter, probe: str) -> Any:
    dialect = _dialect(s)
    call, score, text_q = _conds(f)
    if not call and (score or f.scored_only or _by_score(f)):
        q = select(func.count()).select_from(ScoreRow).where(*score)
        if text_q is not None and probe != PROBE_IN:  # a common word: test it on the rows the scores leave
            q = q.where(text_q.probe(dialect, ScoreRow.call_id))
        elif text_q is not None:
            q = q.where(ScoreRow.call_id.in_(text_q.ids(dialect)))
        return q
    if not call and text_q is not None:
        return select(func.count()).select_from(text_q.ids(dialect).subquery())
    if not call:
        return select(func.count(Call.id))
    sub = _filtered(f, [Call.id], probe=probe, dialect=dialect).subquery()
    return select(func.count()).select_from(sub)


def _parts(f: CallFilter) -> list[CallFilter]:
    """The filter split into one-condition filters (the factors of an estimate)."""
    base = CallFilter(scored_only=f.scored_only or _by_score(f))
    out = []
    if f.start is not None or f.end is not None:
        out.append(replace(base, start=f.start, end=f.end))
    for name in ("agent", "team", "menu", "outcome", "sentiment", "q"):
        if getattr(f, name):
            out.append(replace(base, **{name: getattr(f, name)}))
    if f.score_min is not None or f.score_max is not None:
        out.append(replace(base, score_min=f.score_min, score_max=f.score_max))
    if f.flags:
        out.append(replace(base, flags=list(f.flags)))
    if f.reviewed is not None:
        out.append(replace(base, reviewed=f.reviewed))
    if f.call_ids is not None:  # a rare word's matches (or the caller's own list)
        out.append(replace(base, call_ids=list(f.call_ids)))
    return out


def _part_count(s: Session, f: CallFilter) -> int:
    key = _cache_key(s, f, "part")
    hit = _cached(key, PART_TTL_S)
    if hit is not None:
        return hit[1]
    n = count_calls(s, f, probe=PROBE_IN)
    _remember(key, n)
    return n


def estimate_calls(s: Session, f: CallFilter) -> int:
    """An estimate of how many calls match: the whole times each condition's share, as if the
    conditions were independent (what a query planner assumes). Each share is one indexed count,
    cached for PART_TTL_S."""
    whole = _part_count(s, CallFilter(scored_only=f.scored_only or _by_score(f)))
    est = float(whole)
    for part in _parts(f):
        est *= _part_count(s, part) / whole if whole else 0.0
    return round(est)


def smart_count(s: Session, f: CallFilter, probe: str) -> Count:
    """Exact if quick (COUNT_BUDGET_S), else the same filter's recent count, else an estimate.

    A slow filter's estimate is kept as long as a count is (its key says "estimate"), so a page
    view pays the budget once per COUNT_TTL_S, not every time."""
    key = _cache_key(s, f, "count")
    hit = _cached(key, COUNT_TTL_S)
    if hit is not None:
        return Count(hit[1], CACHED, hit[0])
    est_key = _cache_key(s, f, "estimate")
    hit = _cached(est_key, COUNT_TTL_S)
    if hit is not None:
        return Count(hit[1], ESTIMATE)
    try:
        n = count_calls(s, f, probe=probe, budget_s=COUNT_BUDGET_S)
    except _OverBudget:
        est = estimate_calls(s, f)
        _remember(est_key, est)
        return Count(est, ESTIMATE)
    _remember(key, n)
    return Count(n, EXACT)


def _planner_rows(s: Session, stmt: Any) -> float:
    """PostgreSQL's estimate of a statement's rows (EXPLAIN, no execution). A GIN bitmap cannot stop
    after the first matches as FTS5 does, so a common word's id list would cost every match."""
    sql = stmt.compile(s.get_bind(), compile_kwargs={"literal_binds": True})
    plan = s.execute(text(f"EXPLAIN (FORMAT JSON) {sql}")).scalar()
    try:
        return float(plan[0]["Plan"]["Plan Rows"])  # type: ignore[index]
    except (TypeError, KeyError, IndexError, ValueError):
        return 0.0


def list_calls(s: Session, f: CallFilter, *, count: bool = True) -> Page:
    """One page of the filtered, sorted list: ids by key (``f.after``) or LIMIT/OFFSET, then the rows."""
    per_page = max(1, min(f.per_page, 500))
    page = max(1, f.page)
    probe = PROBE_IN
    dialect = _dialect(s)
    _, _, text_q = _conds(f)
    if text_q is not None:
        # A rare word: the index gives an id list (bound parameters). A common word stops after
        # MAX_ID_LIST matches and is tested per row (EXISTS) instead, which finds a page quickly.
        if f.call_ids is None and dialect != "sqlite" and _planner_rows(s, text_q.ids(dialect)) > MAX_ID_LIST:
            matched = list(range(MAX_ID_LIST + 1))  # common by the planner's statistics: skip the id list
        elif f.call_ids is None:
            matched = list(s.scalars(text_q.ids(dialect).limit(MAX_ID_LIST + 1)))
        else:
            keep = set(f.call_ids)
            matched = [i for i in s.scalars(text_q.ids(dialect)) if i in keep]
        if len(matched) <= MAX_ID_LIST:
            f = replace(f, q="", call_ids=sorted(set(matched)))
        else:
            probe = PROBE_EXISTS
    q = _filtered(f, [Call.id, _sort_cols(f)[0]], probe=probe, dialect=dialect).order_by(*_order(f))
    if f.after is not None and _keyset(f):
        got = list(s.execute(q.limit(per_page + 1)))
    else:
        got = list(s.execute(q.limit(per_page + 1).offset((page - 1) * per_page)))
    more = len(got) > per_page
    got = got[:per_page]
    ids = [int(r[0]) for r in got]
    nxt = (got[-1][1], ids[-1]) if more and got and _keyset(f) else None
    c = smart_count(s, f, probe) if count else Count(0)
    return Page(
        rows=load_rows(s, ids),
        total=c.n,
        page=page,
        per_page=per_page,
        total_kind=c.kind,
        total_at=c.at,
        next_after=nxt,
        more=more,
    )


def iter_calls(s: Session, f: CallFilter, batch: int = 1000, limit: int | None = None) -> Iterator[CallRow]:
    """Every row of a filtered list in list order, a batch at a time (for CSV and zip exports);
    batches go by key where the sort allows, so the last batch costs what the first did."""
    sent = 0
    page = 1
    f = replace(f, page=1, per_page=batch, after=None)
    while True:
        res = list_calls(s, replace(f, page=page), count=False)
        if not res.rows:
            return
        for row in res.rows:
            yield row
            sent += 1
            if limit is not None and sent >= limit:
                return
        if _keyset(f):
            if res.next_after is None:
                return
            f = replace(f, after=res.next_after)
        else:
            page += 1


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
