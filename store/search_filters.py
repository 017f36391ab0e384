"""The calls list's filters as SQL: what QA staff can ask for (team, agent, dates, scores, flags,
sentiment, menu path, outcome, review state, full-text search) and the order of the list.

`store.search` runs them (pages by key, counts); this module only builds conditions and the
id query, so both the list and its counts read the same definition of a filter.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Integer,
    String,
    and_,
    bindparam,
    cast,
    exists,
    literal_column,
    select,
    text,
    tuple_,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from store import search_index
from store.base import utc
from store.models import Call
from store.models_pipeline import FLAG_BITS, ScoreRow, TranscriptRow
from store.models_review import Review

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
