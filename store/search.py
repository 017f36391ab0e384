"""The workspace's call list at 100k calls (filters, sort, pages, full-text search) and one call's detail.

The call list never loads everything: one query finds the ids of a page (filters that touch other
tables become EXISTS/JOIN only when set), a second loads those rows. Full-text search reads the
character-bigram index (store/search_index.py: FTS5 on SQLite, tsvector + GIN on PostgreSQL); a
query with punctuation is confirmed by a LIKE on the rows the index leaves. Deep pages go by key
(``after``: the last row's sort value and id) rather than by OFFSET; counts are exact when they are
quick, else cached or estimated, and the page says which (see docs/archive.md).
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Connection,
    Integer,
    String,
    and_,
    bindparam,
    cast,
    exists,
    func,
    literal_column,
    select,
    text,
    tuple_,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from store import search_index
from store.base import utc
from store.models import Call
from store.models_pipeline import FLAG_BITS, Recording, ScoreRow, TranscriptRow
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
    after: tuple[Any, int] | None = None  # keyset: rows after this (sort value, call id), see list_calls


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


EXACT, CACHED, ESTIMATE = "exact", "cached", "estimate"


@dataclass
class Page:
    rows: list[CallRow]
    total: int
    page: int
    per_page: int
    total_kind: str = EXACT  # exact | cached (total_at: when counted) | estimate
    total_at: float = 0.0  # time.time() of a cached count
    next_after: tuple[Any, int] | None = None  # the keyset cursor of the next page (None: last page)
    more: bool = False  # a next page exists

    @property
    def counted_at(self) -> datetime:
        return datetime.fromtimestamp(self.total_at, UTC)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


class _Contains(ColumnElement[bool]):
    """``haystack`` contains ``needle`` as a substring: ``instr`` (SQLite) / ``strpos`` (PostgreSQL).

    Not ``LIKE '%x%'``: PostgreSQL guesses such a pattern matches almost nothing and then scans the
    whole calls table to sort it, where a walk of the newest calls finds a page at once."""

    inherit_cache = True
    type = Boolean()

    def __init__(self, haystack: Any, needle: str) -> None:
        self.haystack = haystack
        self.needle = bindparam(None, needle, type_=String())


@compiles(_Contains)
def _contains_default(el: _Contains, compiler: Any, **kw: Any) -> str:
    return f"(instr({compiler.process(el.haystack, **kw)}, {compiler.process(el.needle, **kw)}) > 0)"


@compiles(_Contains, "postgresql")
def _contains_pg(el: _Contains, compiler: Any, **kw: Any) -> str:
    return f"(strpos({compiler.process(el.haystack, **kw)}, {compiler.process(el.needle, **kw)}) > 0)"


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
        call.append(_Contains(cast(Call.menu_path, String), f.menu))
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
    mask = 0
    for flag in f.flags:
        mask |= FLAG_BITS.get(flag, 0)
    if mask:  # every bit pattern that has all the asked flags: an IN over the (flag_bits, call_id) index
        score.append(ScoreRow.flag_bits.in_([v for v in range(2 ** len(FLAG_BITS)) if v & mask == mask]))
    return call, score, text_ids(f.q)


MAX_ID_LIST = 10000  # search matches passed back as an id list (bound parameters) up to this many


def _by_score(f: CallFilter) -> bool:
    return f.sort.lstrip("-") in ("total", "sentiment")


PROBE_IN, PROBE_EXISTS = "in", "exists"
INDEX = search_index.TABLE


def _like_check(q: str, outer: Any) -> Any:
    """The transcript of ``outer`` contains ``q`` literally (for queries the index cannot answer alone)."""
    return exists(
        select(TranscriptRow.call_id).where(
            TranscriptRow.call_id == outer, TranscriptRow.text.like(_like(q.strip()), escape="\\")
        )
    )


def text_ids(q: str) -> Any | None:
    """SELECT of the ids of calls whose transcript contains ``q`` (None: no search).

    Both dialects' forms are written here; ``_dialect_text`` picks one when the statement runs
    (a CASE on the dialect is not possible in SQL, so the statement is built per session)."""
    if not q.strip():
        return None
    return _TextSearch(q.strip())


@dataclass(frozen=True)
class _TextSearch:
    q: str

    def ids(self, dialect: str) -> Any:
        """SELECT call ids matching (index, then the LIKE check where the index is not exact)."""
        fq = search_index.fts_query(self.q) if dialect == "sqlite" else search_index.ts_query(self.q)
        if fq is None:  # nothing to look up (punctuation only): a plain scan
            return select(TranscriptRow.call_id).where(TranscriptRow.text.like(_like(self.q), escape="\\"))
        if dialect == "sqlite":
            cond = text(f"{INDEX} MATCH :fq").bindparams(fq=fq)
            base = select(text("rowid AS call_id")).select_from(text(INDEX)).where(cond)
        else:
            cond = text(f"{INDEX}.terms @@ CAST(:fq AS tsquery)").bindparams(fq=fq)
            base = select(text("call_id")).select_from(text(INDEX)).where(cond)
        if search_index.is_exact(self.q):
            return base
        return select(TranscriptRow.call_id).where(
            TranscriptRow.call_id.in_(base), TranscriptRow.text.like(_like(self.q), escape="\\")
        )

    def probe(self, dialect: str, outer: Any) -> Any:
        """EXISTS (this call's transcript contains q): per row, for words many calls contain."""
        fq = search_index.fts_query(self.q) if dialect == "sqlite" else search_index.ts_query(self.q)
        if fq is None:
            return _like_check(self.q, outer)
        outer_sql = "calls.id" if outer is Call.id else "scores.call_id"
        if dialect == "sqlite":
            cond = text(f"EXISTS (SELECT 1 FROM {INDEX} WHERE {INDEX} MATCH :fq AND rowid = {outer_sql})")
        else:
            # Per row, through the call_id index: OFFSET 0 keeps the EXISTS a subplan (PostgreSQL
            # would otherwise make it a semi-join that first collects every match of a common word),
            # and the function form of @@ keeps the GIN index out of a one-row probe.
            cond = text(
                f"EXISTS (SELECT 1 FROM {INDEX} AS tt WHERE tt.call_id = {outer_sql} "
                "AND ts_match_vq(tt.terms, CAST(:fq AS tsquery)) OFFSET 0)"
            )
        cond = cond.bindparams(fq=fq)
        return cond if search_index.is_exact(self.q) else and_(cond, _like_check(self.q, outer))


def _dialect(s: Session) -> str:
    return str(s.get_bind().dialect.name)


def _filtered(f: CallFilter, columns: Sequence[Any], *, probe: str = PROBE_IN, dialect: str = "sqlite") -> Select[Any]:
    """The filtered query over calls; joins scores only when a score filter or the sort needs it.

    Sorting by score lists scored calls only (inner join), so the score's index drives the sort.
    ``probe``: the transcript search as ``id IN (matches)`` or, for words most calls contain,
    per row (EXISTS).
    """
    call, score, text_q = _conds(f)
    q = select(*columns).select_from(Call)
    if _by_score(f) and dialect == "sqlite":
        # "+" keeps SQLite from probing scores by call_id, so it walks the score's own index in
        # sort order (no sort of every scored call); PostgreSQL's planner needs no such hint
        q = q.join(ScoreRow, Call.id == literal_column("+scores.call_id"))
    elif score or f.scored_only or _by_score(f):
        q = q.join(ScoreRow, ScoreRow.call_id == Call.id)
    conds = call + score
    if text_q is not None and probe != PROBE_IN:
        conds.append(text_q.probe(dialect, Call.id))
    elif text_q is not None:
        conds.append(Call.id.in_(text_q.ids(dialect)))
    if f.after is not None and _keyset(f):
        col, tie = _sort_cols(f)
        value = utc(f.after[0]) if isinstance(f.after[0], datetime) else f.after[0]
        after = tuple_(bindparam(None, value, type_=col.type), bindparam(None, int(f.after[1]), type_=Integer()))
        key = tuple_(col, tie)
        conds.append(key < after if f.sort.startswith("-") else key > after)
    if conds:
        q = q.where(and_(*conds))
    return q


KEYSET_SORTS = ("started_at", "total", "sentiment")  # non-null sort columns: pages by key work


def _keyset(f: CallFilter) -> bool:
    return f.sort.lstrip("-") in KEYSET_SORTS


def _sort_cols(f: CallFilter) -> tuple[Any, Any]:
    col = SORTS.get(f.sort.lstrip("-"), Call.started_at)
    return col, (ScoreRow.call_id if _by_score(f) else Call.id)


def _order(f: CallFilter) -> list[Any]:
    col, tie = _sort_cols(f)  # the score indexes end in call_id: no sort step
    desc = f.sort.startswith("-")
    return [col.desc() if desc else col.asc(), tie.desc() if desc else tie.asc()]


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
