"""Seeded traffic through the real webhooks; `hotline kpi --json` equals the figures counted by hand
from the plans (what each simulated caller did and what Twilio reported)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from hotline.cli import cli
from ivr.traffic import plan_calls, run_all
from store.models_kpi import Followup

from ..ivr.helpers import OPEN, TOKEN, SignedClient, menu

N, SEED = 200, 1


def test_plans_are_seeded_and_mixed() -> None:
    a, b = plan_calls(menu(), 50, 7), plan_calls(menu(), 50, 7)
    assert a == b and a != plan_calls(menu(), 50, 8)
    kinds = Counter(p.kind for p in plan_calls(menu(), N, SEED))
    assert set(kinds) == {"self-service", "menu-hangup", "abandon", "answered"}


def test_kpi_json_equals_the_hand_count(app: Any, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ivr.webhooks._now", lambda: OPEN)  # agents on duty
    tw = SignedClient(app.test_client())
    plans = plan_calls(menu(), N, SEED)
    results = run_all(plans, "http://localhost", TOKEN, post_factory=tw.poster, seed=SEED)
    assert all(r.ok for _, r in results), [r.detail for _, r in results if not r.ok][:3]
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(settings.data_dir))
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    res = CliRunner().invoke(cli, ["kpi", "--from", today, "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    got = json.loads(res.output)

    answered = [p for p in plans if p.kind == "answered"]
    gave_up = [p for p in plans if p.kind == "abandon"]
    offered = len(answered) + len(gave_up)
    assert got["calls"] == N
    assert got["offered"] == offered
    assert got["answered"] == len(answered)
    assert got["abandoned"] == sum(p.wait_s >= 5 for p in gave_up)
    assert got["short_abandoned"] == sum(p.wait_s < 5 for p in gave_up)
    assert got["answer_rate"] == round(len(answered) / offered, 4)
    assert got["avg_wait_s"] == round(sum(p.wait_s for p in answered) / len(answered), 2)
    assert got["service_level"] == round(sum(p.wait_s <= 20 for p in answered) / (offered - got["short_abandoned"]), 4)
    assert got["containment_rate"] == round(sum(p.kind == "self-service" for p in plans) / N, 4)
    assert got["aht_s"] == pytest.approx(sum(p.talk_s for p in answered) / len(answered), abs=1.0)
    surveys = [p.survey for p in plans if p.survey is not None]
    assert got["surveys"] == len(surveys) and got["survey_low"] == sum(s < 4 for s in surveys)

    entered: Counter[str] = Counter()
    left: Counter[str] = Counter()
    for p in plans:
        entered.update(set(p.nodes))
        if p.hangup_after is not None and p.kind in ("menu-hangup", "self-service"):
            left[p.nodes[-1]] += 1
    assert {f["node"]: (f["entered"], f["left"]) for f in got["funnel"]} == {n: (entered[n], left[n]) for n in entered}
    assert got["funnel"][0]["node"] == "main"

    with app.extensions["hotline"]["sessions"]() as s:
        tasks = list(s.scalars(select(Followup)))
    assert len(tasks) == sum(s < 4 for s in surveys) > 0

    # the hourly rollups kept up callback by callback equal a rebuild from every call's events
    res = CliRunner().invoke(cli, ["kpi", "--from", today, "--json", "--rebuild"], catch_exceptions=False)
    assert json.loads(res.output.splitlines()[-1]) == got


def test_week_report_holds_the_same_figures(
    app: Any, settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from openpyxl import load_workbook

    monkeypatch.setattr("ivr.webhooks._now", lambda: OPEN)
    tw = SignedClient(app.test_client())
    plans = plan_calls(menu(), 40, 5)
    run_all(plans, "http://localhost", TOKEN, post_factory=tw.poster, seed=5)
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(settings.data_dir))
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    week = f"{today.isocalendar().year}-W{today.isocalendar().week:02d}"
    runner = CliRunner()
    got = json.loads(runner.invoke(cli, ["kpi", "--from", today.isoformat(), "--json"]).output)
    out = tmp_path / "week.xlsx"
    res = runner.invoke(cli, ["report", "--week", week, "--out", str(out)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    ws = load_workbook(out)["概览"]
    rows = {r[0]: r[1:] for r in ws.iter_rows(min_row=5, values_only=True)}
    assert rows["来电量"][0] == got["calls"] == 40
    assert rows["人工接通"][0] == got["answered"]
    assert rows["接通率"][0] == got["answer_rate"]
    assert rows["平均等待（接通，秒）"][0] == got["avg_wait_s"]
    assert rows["来电量"][1] == 0  # last week: nothing
    assert rows["接通率"][4] in ("达标", "未达标")
    funnel = {r[0]: r[2] for r in load_workbook(out)["菜单漏斗"].iter_rows(min_row=2, values_only=True)}
    assert funnel == {f["node"]: f["entered"] for f in got["funnel"]}


@pytest.mark.parametrize(
    "args",
    [
        ["kpi", "--from", "2026-13-01"],
        ["kpi", "--from", "2026-11-02", "--to", "2026-11-01"],
        ["kpi", "--from", "2020-01-01", "--to", "2026-01-01"],
        ["report", "--week", "2026-W99", "--out", "x.xlsx"],
        ["report", "--week", "nonsense", "--out", "x.xlsx"],
        ["report", "--out", "x.xlsx"],
    ],
)
def test_bad_periods_are_usage_errors(args: list[str], tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 2, res.output
    assert not (tmp_path / "x.xlsx").exists()
