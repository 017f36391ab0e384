"""The composition root: the bare address and the health check."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hotline.cli import cli


def test_bare_address_leads_to_the_workspace_login(app: Any) -> None:
    client = app.test_client()
    home = client.get("/")
    assert home.status_code == 302 and home.headers["Location"] == "/qa/"
    page = client.get("/", follow_redirects=True)
    assert page.status_code == 200 and page.request.path == "/qa/login"


def test_healthz(app: Any) -> None:
    resp = app.test_client().get("/healthz")
    assert resp.status_code == 200 and resp.get_json() == {"status": "ok"}


def test_serve_says_how_to_create_the_first_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    served: list[object] = []
    monkeypatch.setattr("waitress.serve", lambda app, **kw: served.append(app))  # do not block the test
    env = {"HOTLINE_DATA_DIR": str(tmp_path / "var"), "HOTLINE_DATABASE_URL": "", "HOTLINE_REDIS_URL": ""}
    runner = CliRunner()
    with caplog.at_level(logging.WARNING, logger="hotline.cli.serve"):
        assert runner.invoke(cli, ["serve", "--ws-port", "0"], env=env).exit_code == 0
    assert len(served) == 1 and "hotline users add NAME --role admin" in caplog.text
    added = runner.invoke(cli, ["users", "add", "boss", "--role", "admin", "--password", "long-enough-pass"], env=env)
    assert added.exit_code == 0, added.output
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="hotline.cli.serve"):
        assert runner.invoke(cli, ["serve", "--ws-port", "0"], env=env).exit_code == 0
    assert len(served) == 2 and "hotline users add" not in caplog.text
