"""Queries of the QA workspace: users, the call list at 100k calls, reviews, disputes, calibration,
samples, trends and the audit log.

The call list never loads everything: one query finds the ids of a page (filters that touch other
tables become EXISTS/JOIN only when set), a second loads those rows. Full-text search is a plain
``LIKE`` on ``transcripts.text`` so it works the same on SQLite and on PostgreSQL without extensions.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import String, and_, case, cast, delete, exists, func, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select
from werkzeug.security import check_password_hash, generate_password_hash

from store.base import utcnow
from store.models import Call
from store.models_pipeline import Recording, ScoreRow, TranscriptRow
from store.models_review import (
    ROLES,
    AuditEntry,
    CalibrationSession,
    Dispute,
    LoginThrottle,
    Review,
    ReviewComment,
    Sample,
    SamplePick,
    SamplingPolicy,
    User,
)

# Customer sentiment is stored in [-1, 1] (negative .. positive); these bands name its thirds.
SENTIMENT_BANDS: dict[str, tuple[float, float]] = {
    "negative": (-math.inf, -0.2),
    "neutral": (-0.2, 0.2),
    "positive": (0.2, math.inf),
}
FINITE_BOUND = 1e300  # SQL has no isfinite(): |x| < this excludes ±Infinity and (PostgreSQL) NaN
FLAGS = ("forbidden_phrase", "angry_customer", "long_silence", "auto_fail")
SORTS = {
    "started_at": Call.started_at,
    "duration": Call.duration_s,
    "agent": Call.agent_id,
    "total": ScoreRow.total,
    "sentiment": ScoreRow.customer_sentiment,
}


class ReviewError(ValueError):
    """A workspace rule was broken (unknown role, resolving one's own review...); message says which."""


class ScoreInputError(ReviewError):
    """A submitted number is not usable (not finite, out of range); the message names the field in Chinese."""


MAX_COMMENT_AT_S = 24 * 3600.0  # a comment's time in the recording: no call lasts a day
MAX_TURN = 100_000


# --------------------------------------------------------------------------- users


MIN_PASSWORD = 10  # characters; accounts made before this rule keep logging in with what they have


def check_password_rule(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ReviewError(f"password too short: it needs at least {MIN_PASSWORD} characters")


def create_user(s: Session, name: str, role: str, password: str, team: str = "") -> User:
    """Add an account; the password is stored only as a salted werkzeug hash."""
    if role not in ROLES:
        raise ReviewError(f"role must be one of {ROLES}, got {role!r}")
    if not name.strip():
        raise ReviewError("a user needs a name")
    check_password_rule(password)
    if s.scalar(select(User.id).where(User.name == name)) is not None:
        raise ReviewError(f"user {name!r} exists")
    user = User(name=name, role=role, password_hash=generate_password_hash(password), team=team, active=True)
    s.add(user)
    s.flush()
    return user


def set_password(s: Session, name: str, password: str, role: str | None = None) -> User:
    """New password (and role); every session the user had is revoked."""
    user = s.scalar(select(User).where(User.name == name))
    if user is None:
        raise ReviewError(f"no user {name!r}")
    check_password_rule(password)
    if role is not None and role not in ROLES:
        raise ReviewError(f"role must be one of {ROLES}, got {role!r}")
    user.password_hash = generate_password_hash(password)
    if role is not None:
        user.role = role
    user.session_version = (user.session_version or 0) + 1
    return user


def revoke_sessions(s: Session, user_id: int) -> None:
    """Bump the user's session version: every cookie issued before stops working (logout, role change)."""
    s.execute(update(User).where(User.id == user_id).values(session_version=User.session_version + 1))


@cache
def _dummy_hash() -> str:
    """A hash of a random password, checked for unknown names so they cost as long as known ones."""
    import secrets

    return generate_password_hash(secrets.token_urlsafe(18))


def authenticate(s: Session, name: str, password: str) -> User | None:
    """The active user with this name and password, or None. Unknown and inactive names check a
    dummy hash, so the answer takes as long as for a real account (no user enumeration by timing)."""
    user = s.scalar(select(User).where(User.name == name, User.active.is_(True)))
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return None
    if not check_password_hash(user.password_hash, password):
        return None
    return user


def get_user(s: Session, user_id: int) -> User | None:
    return s.get(User, user_id)


def list_users(s: Session, roles: Sequence[str] | None = None) -> list[User]:
    q = select(User).where(User.active.is_(True)).order_by(User.name)
    if roles:
        q = q.where(User.role.in_(list(roles)))
    return list(s.scalars(q))


# --------------------------------------------------------------------------- login throttle

# Attempts allowed before back-off starts, per account name and per client address. Then each
# attempt doubles the wait: 2 s, 4 s, 8 s ... up to 15 min. An hour without an attempt forgets
# them; a successful login clears its account's count and takes itself off its address's count
# (one good account must not reset an address that keeps guessing others' passwords).
THROTTLE_FREE = {"user": 5, "addr": 20}
THROTTLE_BASE_S = 2.0
THROTTLE_CAP_S = 15 * 60.0
THROTTLE_FORGET = timedelta(hours=1)


class LoginThrottled(Exception):
    """Too many recent attempts for this account or address; ``wait_s`` until the next is allowed."""

    def __init__(self, wait_s: float) -> None:
        super().__init__(f"login throttled for {wait_s:.0f} s")
        self.wait_s = wait_s


def backoff_seconds(failures: int, free: int, base_s: float = THROTTLE_BASE_S, cap_s: float = THROTTLE_CAP_S) -> float:
    """How long a key stays locked after its ``failures``-th attempt in a row (0: not locked)."""
    if failures < free:
        return 0.0
    return min(cap_s, base_s * 2.0 ** min(failures - free, 40))


def throttle_keys(name: str, addr: str) -> list[str]:
    """The throttle rows a login attempt counts against: its account name and its client address."""
    return [f"user:{name[:64]}", f"addr:{(addr or '-')[:64]}"]


def login_wait(s: Session, keys: Sequence[str], now: datetime) -> float:
    """Seconds until a login with these keys may be tried again (0: now)."""
    until = s.scalar(select(func.max(LoginThrottle.locked_until)).where(LoginThrottle.key.in_(list(keys))))
    if until is None:
        return 0.0
    return max(0.0, (utc(until) - utc(now)).total_seconds())


def _count_attempt(s: Session, key: str, now: datetime) -> int | None:
    """One atomic UPDATE: count an attempt on an unlocked key; None if the key is locked or new."""
    t = LoginThrottle
    q = (
        update(t)
        .where(t.key == key, or_(t.locked_until.is_(None), t.locked_until <= utc(now)))
        .values(
            failures=case((t.updated_at < utc(now) - THROTTLE_FORGET, 1), else_=t.failures + 1),
            updated_at=utc(now),
        )
        .returning(t.failures)
        .execution_options(synchronize_session=False)
    )
    return s.execute(q).scalar()


def begin_login_attempt(s: Session, keys: Sequence[str], now: datetime) -> None:
    """Count a login attempt against each key *before* its password is checked, or raise
    LoginThrottled. Counting first, in one UPDATE per key whose row lock (PostgreSQL) or write lock
    (SQLite) is held until commit, means concurrent attempts, from any number of processes, cannot
    all slip through the same unlocked moment. The caller rolls back when this raises."""
    wait = login_wait(s, keys, now)
    if wait > 0:
        raise LoginThrottled(wait)
    for key in keys:
        n = _count_attempt(s, key, now)
        if n is None:
            if s.scalar(select(LoginThrottle.id).where(LoginThrottle.key == key)) is None:
                try:
                    with s.begin_nested():
                        s.add(LoginThrottle(key=key, failures=1, updated_at=utc(now)))
                    n = 1
                except IntegrityError:  # another process inserted it first: count on its row
                    n = _count_attempt(s, key, now)
            if n is None:  # locked by an attempt that committed since login_wait
                raise LoginThrottled(max(1.0, login_wait(s, [key], now)))
        lock = backoff_seconds(n, THROTTLE_FREE[key.split(":", 1)[0]])
        if lock > 0:
            until = utc(now) + timedelta(seconds=lock)
            s.execute(update(LoginThrottle).where(LoginThrottle.key == key).values(locked_until=until))
    s.execute(delete(LoginThrottle).where(LoginThrottle.updated_at < utc(now) - timedelta(days=1)))


def login_succeeded(s: Session, keys: Sequence[str]) -> None:
    """The password was right: forget the account's attempts, take this one off the address's."""
    user_key, *others = keys
    s.execute(delete(LoginThrottle).where(LoginThrottle.key == user_key))
    t = LoginThrottle
    for key in others:
        free = THROTTLE_FREE[key.split(":", 1)[0]]
        s.execute(
            update(t)
            .where(t.key == key, t.failures > 0)
            .values(
                failures=t.failures - 1,
                locked_until=case((t.failures - 1 < free, None), else_=t.locked_until),
            )
            .execution_options(synchronize_session=False)
        )


def clear_login_failures(s: Session, keys: Sequence[str]) -> int:
    """Unlock: forget the attempts of these keys; returns how many keys had any."""
    rows = list(s.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(list(keys)))))
    for row in rows:
        s.delete(row)
    return len(rows)


def login_wait_of(row: LoginThrottle, now: datetime) -> float:
    return 0.0 if row.locked_until is None else max(0.0, (utc(row.locked_until) - utc(now)).total_seconds())


def login_throttles(s: Session, now: datetime) -> list[LoginThrottle]:
    """Keys with failures in the last hour, locked ones first (the admin's users page)."""
    q = (
        select(LoginThrottle)
        .where(LoginThrottle.updated_at >= utc(now) - THROTTLE_FORGET)
        .order_by(LoginThrottle.locked_until.desc(), LoginThrottle.key)
        .limit(200)
    )
    return list(s.scalars(q))


def all_users(s: Session) -> list[User]:
    return list(s.scalars(select(User).order_by(User.name)))


# --------------------------------------------------------------------------- audit


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
    q = (
        select(AuditEntry, func.coalesce(User.name, ""))
        .outerjoin(User, User.id == AuditEntry.user_id)
        .order_by(AuditEntry.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [(a, n) for a, n in s.execute(q)]


# --------------------------------------------------------------------------- call list


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


def finite_or_none(value: Any) -> float | None:
    """A stored or submitted number as a finite float, else None (missing, text, NaN, infinite)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        f = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return f if math.isfinite(f) else None


def utc(dt: datetime) -> datetime:
    """Aware -> UTC (SQLite stores wall-clock UTC and ignores tzinfo, so bounds must be UTC too)."""
    return dt.astimezone(UTC) if dt.tzinfo else dt.replace(tzinfo=UTC)


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
        lo, hi = SENTIMENT_BANDS[f.sentiment]
        if lo > -math.inf:
            score.append(ScoreRow.customer_sentiment >= lo)
        if hi < math.inf:
            score.append(ScoreRow.customer_sentiment < hi)
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


def call_detail(s: Session, call_id: int) -> CallDetail | None:
    call = s.get(Call, call_id)
    if call is None:
        return None
    score = s.scalar(select(ScoreRow).where(ScoreRow.call_id == call_id))
    transcript = s.scalar(select(TranscriptRow).where(TranscriptRow.call_id == call_id))
    recording = s.scalar(
        select(Recording)
        .where(Recording.call_id == call_id, Recording.audio_path != "")
        .order_by(Recording.id.desc())
        .limit(1)
    )
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
    return s.scalar(
        select(Recording)
        .where(Recording.call_id == call_id, Recording.audio_path != "")
        .order_by(Recording.id.desc())
        .limit(1)
    )


# --------------------------------------------------------------------------- reviews


def merge_items(auto_items: dict[str, Any], human: dict[str, float | None], notes: dict[str, str]) -> dict[str, Any]:
    """Per item: the automatic score and the human one side by side (``None`` human = confirmed).

    Items the scorer found not applicable (score None) or worth no points (auto-fail checks) keep
    ``human`` None: there is nothing to override, the auto-fail box covers them. A human score that
    is not a finite number within [0, max] raises ScoreInputError: it is never stored.
    """
    out: dict[str, Any] = {}
    for key, item in auto_items.items():
        mx = finite_or_none(item.get("max")) or 0.0
        auto = finite_or_none(item.get("score"))  # a broken stored score counts as not applicable
        h = human.get(key)
        if auto is None or mx <= 0:
            h = None
        elif h is not None:
            label = str(item.get("name", key))
            if not math.isfinite(h) or not -0.005 <= h <= mx + 0.005:
                raise ScoreInputError(f"「{label}」的人工评分须为 0 到 {mx:g} 之间的数字。")
            h = round(min(max(float(h), 0.0), mx), 2)
            if abs(h - auto) < 0.01:  # the form shows scores to two decimals: same value, no override
                h = None
        out[key] = {
            "name": str(item.get("name", key)),
            "auto": auto,
            "human": auto if h is None else h,
            "max": mx,
            "confirmed": h is None or auto is None or abs(h - auto) < 1e-9,
            "note": notes.get(key, ""),
        }
    return out


def human_total(auto_total: float | None, auto_fail: bool, items: dict[str, Any], human_fail: bool) -> float:
    """The automatic total moved by each override's difference (confirming everything keeps it);
    0 when the reviewer keeps an auto-fail; the sum of item scores when the reviewer lifts one."""
    if human_fail:
        return 0.0
    scored = [v for v in items.values() if v.get("auto") is not None and float(v.get("max") or 0) > 0]
    base = sum(float(v["auto"]) for v in scored) if auto_fail else float(auto_total or 0.0)
    delta = sum(float(v["human"]) - float(v["auto"]) for v in scored)
    return round(min(100.0, max(0.0, base + delta)), 2)


def submit_review(
    s: Session,
    call_id: int,
    reviewer_id: int,
    human: dict[str, float | None],
    notes: dict[str, str] | None = None,
    comment: str = "",
    *,
    auto_fail: bool | None = None,
    kind: str = "review",
    calibration_id: int | None = None,
) -> Review:
    """Store a review next to the automatic score (which stays untouched)."""
    score = s.scalar(select(ScoreRow).where(ScoreRow.call_id == call_id))
    if score is None:
        raise ReviewError(f"call {call_id} has no automatic score to review")
    if kind == "calibration":
        cal = s.get(CalibrationSession, calibration_id) if calibration_id else None
        if cal is None or cal.call_id != call_id:
            raise ReviewError("calibration session does not match the call")
        if reviewer_id not in (cal.reviewer_ids or []):
            raise ReviewError("not a reviewer of this calibration session")
        if cal.status != "open":
            raise ReviewError("calibration session is closed")
        old = s.scalar(select(Review).where(Review.calibration_id == cal.id, Review.reviewer_id == reviewer_id))
        if old is not None:
            raise ReviewError("already scored in this calibration session")
    items = merge_items(dict(score.items or {}), human, notes or {})
    fail = bool(score.auto_fail if auto_fail is None else auto_fail)
    review = Review(
        call_id=call_id,
        reviewer_id=reviewer_id,
        kind=kind,
        calibration_id=calibration_id,
        items=items,
        auto_total=score.total,
        total=human_total(score.total, bool(score.auto_fail), items, fail),
        auto_fail=fail,
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


# --------------------------------------------------------------------------- disputes


def raise_dispute(s: Session, review_id: int, user_id: int, reason: str) -> Dispute:
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


def resolve_dispute(
    s: Session,
    dispute_id: int,
    resolver: User,
    human: dict[str, float | None] | None,
    resolution: str,
) -> Dispute:
    """Uphold (``human`` None) or revise the review; the original items stay on the dispute."""
    d = s.get(Dispute, dispute_id)
    if d is None or d.status != "open":
        raise ReviewError(f"no open dispute {dispute_id}")
    review = s.get(Review, d.review_id)
    assert review is not None
    if resolver.id == review.reviewer_id and resolver.role != "admin":
        raise ReviewError("the original reviewer cannot resolve a dispute of their own review")
    if resolver.id == d.raised_by and resolver.role != "admin":
        raise ReviewError("whoever raised the dispute cannot resolve it")
    if human is None:
        d.status = "upheld"
        d.resolved_items = dict(d.original_items)
        d.resolved_total = d.original_total
        review.status = "submitted"
    else:
        auto_items = {
            k: {"score": v["auto"], "max": v["max"], "name": v.get("name", k)} for k, v in d.original_items.items()
        }
        notes = {k: v.get("note", "") for k, v in d.original_items.items()}
        items = merge_items(auto_items, human, notes)
        auto_fail = s.scalar(select(ScoreRow.auto_fail).where(ScoreRow.call_id == review.call_id))
        d.status = "revised"
        d.resolved_items = items
        d.resolved_total = human_total(review.auto_total, bool(auto_fail), items, review.auto_fail)
        review.items = items
        review.total = d.resolved_total
        review.status = "revised"
    d.resolver_id = resolver.id
    d.resolution = resolution.strip()
    d.resolved_at = utcnow()
    return d


def list_disputes(s: Session, status: str | None = None, limit: int = 200) -> list[Dispute]:
    q = select(Dispute).order_by(Dispute.id.desc()).limit(limit)
    if status:
        q = q.where(Dispute.status == status)
    return list(s.scalars(q))


# --------------------------------------------------------------------------- calibration


def create_calibration(s: Session, call_id: int, reviewer_ids: Sequence[int], created_by: int, title: str = "") -> Any:
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


def calibration_reviews(s: Session, cal_id: int) -> list[tuple[Review, str]]:
    q = (
        select(Review, User.name)
        .join(User, User.id == Review.reviewer_id)
        .where(Review.calibration_id == cal_id)
        .order_by(Review.id)
    )
    return [(r, n) for r, n in s.execute(q)]


def calibration_spread(reviews: Sequence[Review]) -> dict[str, Any]:
    """Per item and for the total: each reviewer's score, min, max, range and standard deviation."""

    def stats(values: list[float]) -> dict[str, float]:
        if not values:
            return {"min": 0.0, "max": 0.0, "range": 0.0, "stdev": 0.0, "mean": 0.0}
        return {
            "min": min(values),
            "max": max(values),
            "range": max(values) - min(values),
            "stdev": statistics.pstdev(values),
            "mean": statistics.fmean(values),
        }

    names: list[str] = []
    for r in reviews:
        for k in r.items or {}:
            if k not in names:
                names.append(k)
    items = {}
    for name in names:
        cells = [(r.items or {}).get(name) for r in reviews]
        # values that are not finite numbers (stored before inputs were checked) are left out
        vals = [v for c in cells if isinstance(c, dict) and (v := finite_or_none(c.get("human"))) is not None]
        if not vals:
            continue
        auto = next((finite_or_none(c.get("auto")) for c in cells if isinstance(c, dict)), None)
        items[name] = {"values": vals, "auto": auto, **stats(vals)}
    totals = [t for r in reviews if (t := finite_or_none(r.total)) is not None]
    return {"items": items, "total": stats(totals), "n": len(reviews)}


def list_calibrations(s: Session, limit: int = 100) -> list[CalibrationSession]:
    return list(s.scalars(select(CalibrationSession).order_by(CalibrationSession.id.desc()).limit(limit)))


# --------------------------------------------------------------------------- sampling


@dataclass
class Candidate:
    """A call eligible for sampling, with what the targeted picks look at."""

    call_id: int
    agent_id: str
    team: str
    started_at: datetime
    duration_s: float | None
    outcome: str
    survey_score: int | None
    total: float | None
    customer_sentiment: float | None
    flags: list[str]
    has_recording: bool
    reviewed: bool
    complaint: bool


def sampling_candidates(
    s: Session,
    team: str,
    start: datetime,
    end: datetime,
    *,
    min_duration_s: float = 0.0,
    require_recording: bool = False,
    exclude_reviewed: bool = False,
) -> list[Candidate]:
    """A team's calls of one week that pass the policy's filters (index on team, started_at)."""
    has_rec = exists().where(Recording.call_id == Call.id, Recording.audio_path != "")
    reviewed = exists().where(Review.call_id == Call.id, Review.kind == "review")
    q = (
        select(
            Call,
            ScoreRow.total,
            ScoreRow.customer_sentiment,
            ScoreRow.flags,
            ScoreRow.details,
            has_rec.label("has_rec"),
            reviewed.label("reviewed"),
        )
        .outerjoin(ScoreRow, ScoreRow.call_id == Call.id)
        .where(Call.started_at >= utc(start), Call.started_at < utc(end), Call.agent_id != "")
        .order_by(Call.id)
    )
    if team:
        q = q.where(Call.team == team)
    if min_duration_s > 0:
        q = q.where(Call.duration_s >= min_duration_s)
    if require_recording:
        q = q.where(has_rec)
    if exclude_reviewed:
        q = q.where(~reviewed)
    out = []
    for call, total, sent, flags, details, rec, rev in s.execute(q):
        fl = list(flags or [])
        path = " ".join(str(p) for p in (call.menu_path or []))
        complaint_turns = ((details or {}).get("sentiment") or {}).get("complaint_turns") or []
        out.append(
            Candidate(
                call_id=call.id,
                agent_id=call.agent_id,
                team=call.team,
                started_at=utc(call.started_at),
                duration_s=call.duration_s,
                outcome=call.outcome,
                survey_score=call.survey_score,
                total=total,
                customer_sentiment=sent,
                flags=fl,
                has_recording=bool(rec),
                reviewed=bool(rev),
                complaint=bool(complaint_turns) or "complaint" in path or "投诉" in path,
            )
        )
    return out


def latest_call_start(s: Session, team: str = "") -> datetime | None:
    """When the team's newest call started (UTC), or None; the (team, started_at) index answers it."""
    q = select(func.max(Call.started_at)).where(Call.agent_id != "")
    if team:
        q = q.where(Call.team == team)
    value = s.scalar(q)
    return utc(value) if isinstance(value, datetime) else None


def get_policy(s: Session, team: str) -> dict[str, Any] | None:
    row = s.scalar(select(SamplingPolicy).where(SamplingPolicy.team == team))
    return dict(row.policy) if row else None


def set_policy(s: Session, team: str, policy: dict[str, Any], user_id: int | None) -> None:
    row = s.scalar(select(SamplingPolicy).where(SamplingPolicy.team == team))
    if row is None:
        s.add(SamplingPolicy(team=team, policy=policy, updated_by=user_id))
    else:
        row.policy = policy
        row.updated_by = user_id


@dataclass
class PickIn:
    call_id: int
    agent_id: str
    reason: str
    detail: str = ""
    assignee_id: int | None = None


def save_sample(
    s: Session, team: str, week: str, seed: int, policy: dict[str, Any], picks: Sequence[PickIn], user_id: int | None
) -> Sample:
    sample = Sample(team=team, week=week, seed=seed, policy=policy, created_by=user_id)
    s.add(sample)
    s.flush()
    for p in picks:
        s.add(
            SamplePick(
                sample_id=sample.id,
                call_id=p.call_id,
                agent_id=p.agent_id,
                reason=p.reason,
                detail=p.detail,
                assignee_id=p.assignee_id,
            )
        )
    s.flush()
    return sample


def list_samples(s: Session, team: str | None = None, limit: int = 50) -> list[tuple[Sample, int]]:
    n = select(func.count(SamplePick.id)).where(SamplePick.sample_id == Sample.id).scalar_subquery()
    q = select(Sample, n).order_by(Sample.id.desc()).limit(limit)
    if team:
        q = q.where(Sample.team == team)
    return [(a, b) for a, b in s.execute(q)]


def sample_picks(s: Session, sample_id: int) -> list[tuple[SamplePick, str]]:
    q = (
        select(SamplePick, func.coalesce(User.name, ""))
        .outerjoin(User, User.id == SamplePick.assignee_id)
        .where(SamplePick.sample_id == sample_id)
        .order_by(SamplePick.agent_id, SamplePick.id)
    )
    return [(p, n) for p, n in s.execute(q)]


def my_picks(s: Session, user_id: int, limit: int = 100) -> list[SamplePick]:
    q = select(SamplePick).where(SamplePick.assignee_id == user_id).order_by(SamplePick.id.desc()).limit(limit)
    return list(s.scalars(q))


# --------------------------------------------------------------------------- trends


def _day(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def iso_week(d: date) -> str:
    y, w, _ = d.isocalendar()
    return f"{y}-W{w:02d}"


def weekly_scores(
    s: Session, start: datetime, end: datetime, by: str = "team", team: str = ""
) -> dict[str, dict[str, tuple[float, int]]]:
    """key (team or agent) -> ISO week -> (mean automatic score, calls); aggregated by day in SQL."""
    key = Call.agent_id if by == "agent" else Call.team
    day = func.date(Call.started_at)
    q = (
        select(key, day, func.sum(ScoreRow.total), func.count(ScoreRow.id))
        .join(ScoreRow, ScoreRow.call_id == Call.id)
        .where(Call.started_at >= utc(start), Call.started_at < utc(end))
        # only finite totals: an infinite (or, on PostgreSQL, NaN) one would poison the mean
        .where(ScoreRow.total > -FINITE_BOUND, ScoreRow.total < FINITE_BOUND)
        .group_by(key, day)
    )
    if team:
        q = q.where(Call.team == team)
    acc: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0.0, 0.0]))
    for k, d, total, n in s.execute(q):
        cell = acc[k or "(无)"][iso_week(_day(d))]
        cell[0] += float(total or 0.0)
        cell[1] += int(n)
    return {
        k: {w: (round(v[0] / v[1], 1) if v[1] else 0.0, int(v[1])) for w, v in sorted(weeks.items())}
        for k, weeks in acc.items()
    }


def score_histogram(s: Session, start: datetime, end: datetime, team: str = "", bins: int = 10) -> list[int]:
    """Counts of automatic totals in bins of 100/bins points (CASE buckets: portable SQL)."""
    width = 100 / bins
    cols = [
        func.sum(
            case(
                (
                    and_(ScoreRow.total >= i * width, ScoreRow.total < (i + 1) * width)
                    if i < bins - 1
                    else ScoreRow.total >= i * width,
                    1,
                ),
                else_=0,
            )
        )
        for i in range(bins)
    ]
    q = (
        select(*cols)
        .join(Call, Call.id == ScoreRow.call_id)
        .where(Call.started_at >= utc(start), Call.started_at < utc(end))
    )
    if team:
        q = q.where(Call.team == team)
    row = s.execute(q).one()
    return [int(v or 0) for v in row]


def sentiment_share(s: Session, start: datetime, end: datetime, team: str = "") -> dict[str, int]:
    cols = []
    for lo, hi in SENTIMENT_BANDS.values():
        conds = []
        if lo > -math.inf:
            conds.append(ScoreRow.customer_sentiment >= lo)
        if hi < math.inf:
            conds.append(ScoreRow.customer_sentiment < hi)
        cols.append(func.sum(case((and_(*conds), 1), else_=0)))
    q = (
        select(*cols)
        .join(Call, Call.id == ScoreRow.call_id)
        .where(Call.started_at >= utc(start), Call.started_at < utc(end))
    )
    if team:
        q = q.where(Call.team == team)
    row = s.execute(q).one()
    return {name: int(v or 0) for name, v in zip(SENTIMENT_BANDS, row, strict=True)}


def failed_items(
    s: Session, start: datetime, end: datetime, team: str = "", cap: int = 20000
) -> list[tuple[str, int, int]]:
    """(item, calls where it scored below its max, calls seen), most failed first; newest ``cap`` calls."""
    q = (
        select(ScoreRow.items)
        .join(Call, Call.id == ScoreRow.call_id)
        .where(Call.started_at >= utc(start), Call.started_at < utc(end))
        .order_by(Call.started_at.desc())
        .limit(cap)
    )
    if team:
        q = q.where(Call.team == team)
    failed: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    for (items,) in s.execute(q):
        for name, item in (items or {}).items():
            seen[name] += 1
            try:
                if float(item.get("score", 0)) < float(item.get("max", 0)):
                    failed[name] += 1
            except (TypeError, ValueError, AttributeError):
                continue
    return sorted(((n, failed[n], seen[n]) for n in seen), key=lambda t: (-t[1], t[0]))
