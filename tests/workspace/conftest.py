"""Workspace fixtures: a migrated store seeded with real recordings, transcripts and scores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hotline.settings import Settings

from .seed import Audio, Seeded, make_audio, seed

CSRF = "test-csrf-token"


@pytest.fixture(scope="session")
def call_audio(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Audio]:
    return make_audio(tmp_path_factory.mktemp("audio"))


@pytest.fixture
def ws(settings: Settings, call_audio: dict[str, Audio]) -> Iterator[tuple[Any, Seeded]]:
    from hotline.app import create_app

    app = create_app(settings)
    app.config["TESTING"] = True
    seeded = seed(app.extensions["hotline"]["sessions"], Path(settings.data_dir), call_audio)
    yield app, seeded
    app.extensions["hotline"]["engine"].dispose()


def login(client: Any, name: str, password: str | None = None) -> Any:
    with client.session_transaction() as sess:
        sess["csrf_token"] = CSRF
    return client.post("/qa/login", data={"name": name, "password": password or "secret-" + name, "csrf_token": CSRF})


@pytest.fixture
def as_user(ws: tuple[Any, Seeded]) -> Any:
    app, _ = ws

    def make(name: str) -> Any:
        c = app.test_client()
        r = login(c, name)
        assert r.status_code == 302, r.data[:300]
        return c

    return make
