"""Shared fixtures: where ../shared is, and a fresh store per test.

On a fresh clone there is no ../shared: tests needing it skip with a reason. In CI
(CI=true) they must run, so a missing path fails instead of skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from hotline.settings import Secret, Settings

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("HOTLINE_SHARED_DIR", ROOT.parent / "shared"))
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


PG = os.environ.get("HOTLINE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("HOTLINE_TEST_REDIS", "redis://127.0.0.1:6379/0")


def skip_or_fail(reason: str) -> NoReturn:
    """The one rule for a missing prerequisite: skip on a developer's machine, fail in CI (CI=true)."""
    if IN_CI:
        pytest.fail(f"CI needs this: {reason}")
    pytest.skip(reason)


def need_shared(*parts: str) -> Path:
    """Path inside ../shared, or skip (fresh clone) / fail (CI) when it is missing."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        skip_or_fail(f"{path} not present (fresh clone without ../shared)")
    return path


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database on the local server (HOTLINE_TEST_PG), dropped afterwards."""
    from sqlalchemy import text

    from store.db import make_engine

    name = f"hotline_t_{uuid.uuid4().hex[:10]}"
    try:
        admin = make_engine(PG, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        skip_or_fail(f"PostgreSQL not reachable at {PG}: {exc}")
    yield PG.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser and scale-out tests are end to end by nature: they count as `slow` too."""
    for item in items:
        if item.get_closest_marker("browser") or item.get_closest_marker("scaleout"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One headless Chromium for every browser test of the run (tests/browser.py)."""
    from playwright.sync_api import sync_playwright

    from tests.browser import ARGS, CHROMIUM, need_chromium

    need_chromium()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def shared() -> Path:
    return need_shared()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # with a real token the public URL is required; the Flask test client's requests are http://localhost/...
    return Settings(
        data_dir=tmp_path / "var",
        twilio_auth_token=_secret("test-token"),
        public_url="http://localhost",
        shared_dir=SHARED,
    )


def _secret(value: str) -> Secret:
    return Secret(value)


@pytest.fixture
def app(settings: Settings) -> Iterator[object]:
    from hotline.app import create_app

    application = create_app(settings)
    yield application
    application.extensions["hotline"]["engine"].dispose()
