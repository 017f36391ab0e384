"""Workspace accounts in the store: password rules, constant-cost checks for unknown names, and
the login throttle (back-off, forgetting, and concurrent attempts on SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from store import users as repo
from store.db import make_engine, migrate, session_factory, transaction
from store.errors import ReviewError
from store.models_review import LoginThrottle, User


@pytest.fixture
def factory(tmp_path: Path) -> Iterator[Any]:
    """A migrated SQLite store with one QA account, qa1."""
    engine = make_engine(f"sqlite:///{tmp_path / 'users.db'}")
    migrate(engine)
    sessions = session_factory(engine)
    with transaction(sessions) as s:
        repo.create_user(s, "qa1", "qa", "secret-qa1")
    yield sessions
    engine.dispose()


def test_store_rejects_bad_accounts(factory: Any) -> None:
    with transaction(factory) as s:
        with pytest.raises(ReviewError, match="at least 10"):
            repo.create_user(s, "a", "qa", "short")
        with pytest.raises(ReviewError, match="role"):
            repo.create_user(s, "a", "root", "long-enough")
        with pytest.raises(ReviewError, match="exists"):
            repo.create_user(s, "qa1", "qa", "long-enough")
        with pytest.raises(ReviewError, match="no user"):
            repo.set_password(s, "nobody", "long-enough")


def test_unknown_names_cost_a_password_check(factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unknown name used to return before hashing (4 ms vs 117 ms): it now checks a dummy hash."""
    checked: list[str] = []
    real = repo.check_password_hash

    def spy(pwhash: str, password: str) -> bool:
        checked.append(pwhash)
        return real(pwhash, password)

    monkeypatch.setattr(repo, "check_password_hash", spy)
    with transaction(factory) as s:
        assert repo.authenticate(s, "no-such-user", "whatever-long") is None
        known = s.scalars(select(User).where(User.name == "qa1")).one().password_hash
        assert repo.authenticate(s, "qa1", "whatever-long") is None
    assert len(checked) == 2 and checked[0].split("$")[0] == known.split("$")[0]  # same method, same cost


def test_back_off_doubles_and_is_forgotten() -> None:
    free = 5
    assert [repo.backoff_seconds(n, free) for n in range(1, 10)] == [0, 0, 0, 0, 2, 4, 8, 16, 32]
    assert repo.backoff_seconds(60, free) == repo.THROTTLE_CAP_S


def test_back_off_through_the_store(factory: Any) -> None:
    keys = repo.throttle_keys("qa1", "10.0.0.1")
    t = datetime(2030, 1, 1, tzinfo=UTC)
    with transaction(factory) as s:
        for _ in range(5):
            repo.begin_login_attempt(s, keys, t)
        assert repo.login_wait(s, keys, t) == 2.0
    with pytest.raises(repo.LoginThrottled), transaction(factory) as s:
        repo.begin_login_attempt(s, keys, t + timedelta(seconds=1))
    with transaction(factory) as s:  # after the wait one more try, then twice as long
        repo.begin_login_attempt(s, keys, t + timedelta(seconds=2))
        assert repo.login_wait(s, keys, t + timedelta(seconds=2)) == 4.0
    with transaction(factory) as s:  # an hour later the count starts afresh
        later = t + timedelta(hours=2)
        repo.begin_login_attempt(s, keys, later)
        assert repo.login_wait(s, keys, later) == 0.0
        assert s.scalar(select(LoginThrottle.failures).where(LoginThrottle.key == keys[0])) == 1


def _concurrent_attempts(factory: Any, n: int) -> int:
    """n simultaneous attempts on one account, each in its own session: how many got through."""
    keys = repo.throttle_keys("qa1", "10.9.9.9")
    now = datetime.now(UTC)

    def one(_: int) -> bool:
        try:
            with transaction(factory) as s:
                repo.begin_login_attempt(s, keys, now)
            return True
        except repo.LoginThrottled:
            return False

    with ThreadPoolExecutor(max_workers=8) as pool:
        return sum(pool.map(one, range(n)))


def test_concurrent_attempts_cannot_slip_through_together(factory: Any) -> None:
    assert _concurrent_attempts(factory, 30) == repo.THROTTLE_FREE["user"]


@pytest.mark.scaleout
def test_concurrent_attempts_on_postgresql(pg_url: str) -> None:
    engine = make_engine(pg_url)
    migrate(engine)
    try:
        assert _concurrent_attempts(session_factory(engine), 30) == repo.THROTTLE_FREE["user"]
    finally:
        engine.dispose()
