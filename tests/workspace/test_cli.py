"""`hotline users` and `hotline sample` through click, against a seeded workspace store."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from hotline.cli import cli
from hotline.settings import Settings
from store import users as repo
from store.db import transaction
from store.models_review import SamplePick, User


def test_users_and_sample_commands(ws: tuple[Any, Any], settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    app, sd = ws
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(settings.data_dir))
    run = CliRunner().invoke
    r = run(cli, ["users", "add", "zhao", "--role", "supervisor", "--password", "pw-1234567", "--team", "售后二组"])
    assert r.exit_code == 0, r.output
    r = run(cli, ["users", "add", "zhao", "--role", "qa", "--password", "pw-1234567"])
    assert r.exit_code != 0 and "exists" in r.output
    r = run(cli, ["users", "add", "x", "--role", "boss", "--password", "pw-1234567"])
    assert r.exit_code != 0
    r = run(cli, ["users", "passwd", "zhao", "--password", "new-pass-1"])
    assert r.exit_code == 0, r.output
    with transaction(app.extensions["hotline"]["sessions"]) as s:
        u = s.scalars(select(User).where(User.name == "zhao")).one()
        assert u.role == "supervisor" and "new-pass-1" not in u.password_hash
        assert repo.authenticate(s, "zhao", "new-pass-1") is not None
        assert repo.authenticate(s, "zhao", "pw-1234567") is None
    assert "zhao" in run(cli, ["users", "list"]).output

    args = ["sample", "--team", "售后二组", "--week", sd.week, "--per-agent", "2", "--seed", "5"]
    r1 = run(cli, args)
    r2 = run(cli, args)
    assert r1.exit_code == 0, r1.output
    assert r1.output.split("\n", 1)[1] == r2.output.split("\n", 1)[1]  # same picks, same assignees
    assert "随机抽检" in r1.output
    with transaction(app.extensions["hotline"]["sessions"]) as s:
        picks = list(s.scalars(select(SamplePick)))
    agents = {p.agent_id for p in picks}
    assert agents == {"A2001", "A2002"}
    assert run(cli, ["sample", "--team", "售后二组", "--week", "2026-47"]).exit_code != 0
    r = run(cli, ["sample", "--team", "售后二组"])  # default: this week (the seed has calls in it)
    assert r.exit_code == 0 and f"week {sd.week}, seed {sd.week.replace('-W', '')}" in r.output, r.output
