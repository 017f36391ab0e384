"""Workspace accounts and the login throttle.

Passwords are stored only as salted werkzeug hashes. The throttle counts attempts per account
name and per client address in the database, so every process of the server shares one count.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import case, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from store.base import utc
from store.errors import ReviewError
from store.models_review import ROLES, LoginThrottle, User

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
    """Active accounts by name, optionally of some roles only."""
    q = select(User).where(User.active.is_(True)).order_by(User.name)
    if roles:
        q = q.where(User.role.in_(list(roles)))
    return list(s.scalars(q))


def user_names(s: Session) -> dict[int, str]:
    """Id -> name of the active accounts (pages show names where rows hold ids)."""
    return {u.id: u.name for u in list_users(s)}


def all_users(s: Session) -> list[User]:
    """Every account, inactive ones too (the admin's users page)."""
    return list(s.scalars(select(User).order_by(User.name)))


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
