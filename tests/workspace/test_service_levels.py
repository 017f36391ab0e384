"""运营指标: the page's figures equal the hand count of seeded traffic; live figures; 回访 tasks;
the report page and its Excel; supervisors only; hostile inputs are clear 4xx."""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from datetime import timedelta
from typing import Any

import pytest

from ivr.traffic import plan_calls, run_all

from ..ivr.helpers import OPEN, TOKEN, SignedClient, menu
from .conftest import CSRF


@pytest.fixture
def traffic(ws: Any, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    app, _ = ws
    monkeypatch.setattr("ivr.webhooks._now", lambda: OPEN)
    tw = SignedClient(app.test_client())
    plans = plan_calls(menu(), 60, 3)
    results = run_all(plans, "http://localhost", TOKEN, post_factory=tw.poster, seed=3)
    assert all(r.ok for _, r in results)
    return plans


def _tile(html: str, key: str) -> str:
    m = re.search(rf'data-k="{key}">([^<]*)<', html)
    assert m, key
    return m.group(1).strip()


def test_page_shows_the_hand_counted_figures(ws: Any, as_user: Any, traffic: list[Any]) -> None:
    c = as_user("sup")
    r = c.get("/qa/service")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    answered = [p for p in traffic if p.kind == "answered"]
    offered = answered + [p for p in traffic if p.kind == "abandon"]
    assert _tile(html, "calls") == "60"
    assert _tile(html, "offered") == str(len(offered))
    assert _tile(html, "answered") == str(len(answered))
    assert _tile(html, "answer_rate") == f"{100 * len(answered) / len(offered):.1f}%"
    assert _tile(html, "avg_wait_s") == f"{sum(p.wait_s for p in answered) / len(answered):.0f} 秒"
    assert "红线 接通率 95%" in html and "红线 平均等待 180 秒" in html
    for table in ("hour-table", "day-table", "funnel-table", "team-table"):
        assert f'id="{table}"' in html
    data = json.loads(html.split('id="service-data">')[1].split("</script>")[0])
    main = next(f for f in data["funnel"] if f["node"] == "main")
    assert main["entered"] == 60
    assert main["left"] == sum(p.kind == "menu-hangup" and p.nodes == ("main",) for p in traffic)


def test_qa_staff_may_not_see_it(ws: Any, as_user: Any) -> None:
    c = as_user("qa1")
    assert c.get("/qa/service").status_code == 403
    assert c.get("/qa/service/live").status_code == 403
    assert c.get("/qa/service/followups").status_code == 403


def test_live_figures(ws: Any, as_user: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    app, _ = ws
    monkeypatch.setattr("ivr.webhooks._now", lambda: OPEN)
    tw = SignedClient(app.test_client())
    tw.post("/ivr/voice", {"CallSid": "CA" + "1" * 32, "From": "+8613800000001", "CallStatus": "ringing"})
    r = tw.post("/ivr/voice", {"CallSid": "CA" + "2" * 32, "From": "+8613800000002", "CallStatus": "ringing"})
    g = ET.fromstring(r.data).find("Gather")
    assert g is not None
    tw.post(str(g.get("action")), {"CallSid": "CA" + "2" * 32, "Digits": "0"})  # waiting in the queue
    got = as_user("sup").get("/qa/service/live").get_json()
    assert got["in_ivr"] >= 1 and got["waiting"] == 1 and got["longest_wait_s"] is not None


def test_low_surveys_become_followups_with_a_deadline(ws: Any, as_user: Any, traffic: list[Any]) -> None:
    app, _ = ws
    low = [p for p in traffic if p.survey is not None and p.survey < 4]
    assert low
    c = as_user("sup")
    html = c.get("/qa/service/followups").get_data(as_text=True)
    assert html.count('class="fu-open"') == len(low)
    assert "47 小时" in html  # time left of a survey just answered
    rows, counts = app.extensions["hotline"]["service_levels"].followups()
    assert counts["open"] == len(low) and {r["score"] for r in rows} <= {1, 2, 3}
    assert all(r["due_at"] - r["surveyed_at"] == timedelta(hours=48) for r in rows)
    later = rows[0]["due_at"] + timedelta(minutes=1)
    _, counts = app.extensions["hotline"]["service_levels"].followups(now=later)
    assert counts["overdue"] >= 1
    fid = rows[0]["id"]
    assert c.post(f"/qa/service/followups/{fid}/done", data={"note": "已回访"}).status_code == 400  # no CSRF
    r = c.post(f"/qa/service/followups/{fid}/done", data={"note": "已回访，客户满意", "csrf_token": CSRF})
    assert r.status_code == 302
    rows, counts = app.extensions["hotline"]["service_levels"].followups(state="done")
    assert counts["done"] == 1 and rows[0]["done_by"] == "sup" and rows[0]["state"] == "done"
    r = c.post("/qa/service/followups/999999/done", data={"csrf_token": CSRF})
    assert r.status_code == 404


def test_report_page_and_excel(ws: Any, as_user: Any, traffic: list[Any]) -> None:
    from openpyxl import load_workbook

    c = as_user("sup")
    html = c.get("/qa/service/report").get_data(as_text=True)
    assert "周报" in html and "接通率" in html and 'id="report"' in html
    r = c.get("/qa/service/report.xlsx")
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    ws_ = load_workbook(io.BytesIO(r.data))["概览"]
    rows = {row[0]: row[1:] for row in ws_.iter_rows(min_row=5, values_only=True)}
    assert rows["来电量"][0] == 60


@pytest.mark.parametrize(
    "url",
    [
        "/qa/service?from=2026-13-01",
        "/qa/service?from=2026-11-02&to=2026-11-01",
        "/qa/service?from=2020-01-01&to=2026-01-01",
        "/qa/service?team=" + "x" * 65,
        "/qa/service/followups?state=bogus",
        "/qa/service/report?week=2026-W99",
        "/qa/service/report?month=2026-13",
        "/qa/service/report?week=2026-W01&month=2026-01",
        "/qa/service/report.xlsx?week=nonsense",
    ],
)
def test_bad_inputs_are_400(ws: Any, as_user: Any, url: str) -> None:
    assert as_user("sup").get(url).status_code == 400
