"""Shared fixtures: where ../shared is, and a fresh store per test.

On a fresh clone there is no ../shared: tests needing it skip with a reason. In CI
(CI=true) they must run, so a missing path fails instead of skipping.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotline.settings import Secret, Settings

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("HOTLINE_SHARED_DIR", ROOT.parent / "shared"))
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need_shared(*parts: str) -> Path:
    """Path inside ../shared, or skip (fresh clone) / fail (CI) when it is missing."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        if IN_CI:
            pytest.fail(f"CI needs {path}, which is missing")
        pytest.skip(f"{path} not present (fresh clone without ../shared)")
    return path


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
