"""`hotline users` / `hotline sample` through click, and the workspace's pure helpers."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from hotline.cli import cli
from hotline.settings import Settings
from qa.review.present import is_miss, mark_phrases, note_label, phrase_label, sentiment_band, transcript_lines
from qa.review.sampling_run import assign_evenly, build_policy, default_policy_data, default_week, week_bounds
from store import review as repo
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


def test_week_bounds_are_local_weeks() -> None:
    start, end = week_bounds("2026-W47", "Asia/Shanghai")
    assert start.astimezone(UTC) == datetime(2026, 11, 15, 16, 0, tzinfo=UTC)  # Monday 00:00 in Shanghai
    assert (end - start).days == 7
    with pytest.raises(ValueError):
        week_bounds("47", "Asia/Shanghai")


def test_assignment_is_even_and_seeded() -> None:
    picks = list(range(11))
    a = assign_evenly(picks, [3, 1, 2], seed=9)
    assert a == assign_evenly(picks, [1, 2, 3], seed=9)
    counts = sorted(a.count(u) for u in (1, 2, 3))
    assert counts == [3, 4, 4]
    assert assign_evenly(picks, [], seed=1) == [None] * 11


def test_policy_defaults_follow_the_course() -> None:
    pol = build_policy(default_policy_data())
    assert pol.random_per_agent_week == 3 and pol.min_duration_s == 60
    assert "complaint" in [r.reason for r in pol.rules]
    assert "complaint" not in [r.reason for r in build_policy({**default_policy_data(), "complaints": False}).rules]


def test_mark_phrases_and_lines() -> None:
    segs = mark_phrases("这个不归我管，你自己去查。", [("不归我管", "politeness"), ("不存在", "x"), ("归我", "y")])
    assert [(s.text, s.item) for s in segs] == [("这个", ""), ("不归我管", "politeness"), ("，你自己去查。", "")]
    assert [s.text for s in mark_phrases("", [])] == [""]
    lines = transcript_lines(
        {"utterances": [{"speaker": "agent", "start": 0, "end": 1, "text": "您好"}]},
        {"greeting": {"evidence": [{"phrase": "您好", "turn": 0, "time": 0.0}, {"phrase": "x", "turn": 7}]}},
        {"sentiment": {"turns": [{"turn": 0, "role": "agent", "score": 0.6, "start": 0}]}},
    )
    assert lines[0].segments[0].item == "greeting" and lines[0].band == "positive" and lines[0].items == ["greeting"]
    assert sentiment_band(-0.5) == "negative" and sentiment_band(0.0) == "neutral" and sentiment_band(None) == ""


def test_human_total_rules() -> None:
    auto = {"a": {"score": 8.0, "max": 10.0}, "b": {"score": None, "max": 5.0}, "c": {"score": 0.0, "max": 0.0}}
    for bad in (12.0, -1.0, math.nan, math.inf):  # beyond the item's max, negative, not finite: refused
        with pytest.raises(repo.ScoreInputError, match="「a」"):
            repo.merge_items(auto, {"a": bad}, {})
    items = repo.merge_items(auto, {"a": 10.0, "b": 3.0, "c": 1.0}, {"a": "ok"})
    assert items["a"]["human"] == 10.0 and not items["a"]["confirmed"]
    assert items["b"]["human"] is None and items["c"]["human"] == 0.0  # n/a and auto-fail checks stay
    assert repo.human_total(80.0, False, items, False) == 82.0
    assert repo.human_total(0.0, True, items, False) == 10.0  # reviewer lifts an auto-fail
    assert repo.human_total(80.0, False, items, True) == 0.0


def test_store_rejects_bad_accounts(tmp_path: Path) -> None:
    from store.db import make_engine, migrate, session_factory

    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    migrate(engine)
    with transaction(session_factory(engine)) as s:
        with pytest.raises(repo.ReviewError):
            repo.create_user(s, "a", "qa", "short")
        with pytest.raises(repo.ReviewError):
            repo.create_user(s, "a", "root", "long-enough")
    engine.dispose()


def test_default_week_falls_back_to_the_newest_calls_week() -> None:
    tz = "Asia/Shanghai"
    monday_noon = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # Monday 12:00 in Shanghai, 2026-W48
    assert default_week(tz, None, monday_noon) == "2026-W48"
    assert default_week(tz, datetime(2026, 11, 23, 1, 0, tzinfo=UTC), monday_noon) == "2026-W48"
    # Sunday 23:30 Shanghai is still W47 although it is Sunday 15:30 UTC
    assert default_week(tz, datetime(2026, 11, 22, 15, 30, tzinfo=UTC), monday_noon) == "2026-W47"
    assert default_week(tz, datetime(2026, 11, 22, 16, 30, tzinfo=UTC), monday_noon) == "2026-W48"
    assert default_week(tz, datetime(2026, 10, 1, tzinfo=UTC), monday_noon) == "2026-W40"


def test_evidence_is_shown_in_chinese_and_misses_are_told_apart() -> None:
    assert phrase_label("247 chars/min") == "247 字/分"
    assert phrase_label("agent 34% of talk") == "客服说话占 34%"
    assert phrase_label("3.5s silence") == "静音 3.5 秒" and phrase_label("您好") == "您好"
    assert note_label("no closing phrase") == "结尾未见规范结束语" and note_label("negative -0.62") == "负面情绪 -0.62"
    assert note_label("with customer turn 3") == "与客户第 4 句重叠" and note_label("something new") == "something new"
    assert is_miss("no greeting in first agent turns") and is_miss("complaint without empathy")
    assert not is_miss("polite") and not is_miss(None)
    segs = mark_phrases(
        "喂。你好", [("喂。", "greeting", "no greeting in first agent turns"), ("你好", "politeness", "polite")]
    )
    assert [(s.text, s.item, s.miss) for s in segs] == [("喂。", "greeting", True), ("你好", "politeness", False)]
    assert segs[0].note == "开头未见规范问候语"
