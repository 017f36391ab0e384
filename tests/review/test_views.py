"""Every workspace route through Flask's client, for every role, with real recordings and scores."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from store import review as repo
from store.db import transaction
from store.models import Call
from store.models_review import AuditEntry, Dispute, Review, Sample, SamplePick

from .conftest import CSRF, login

ROLES = ("qa1", "sup", "admin")


def _sessions(app: Any) -> Any:
    return app.extensions["hotline"]["sessions"]


def _audits(app: Any, action: str) -> list[AuditEntry]:
    with transaction(_sessions(app)) as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def _review(app: Any, call_id: int, user_id: int, **human: float) -> int:
    with transaction(_sessions(app)) as s:
        return repo.submit_review(s, call_id, user_id, dict(human), {}, "").id


def _sample(app: Any, seeded: Any) -> int:
    from qa.review.sampling_run import run_sample

    with transaction(_sessions(app)) as s:
        return run_sample(s, "售后一组", seeded.week, seed=1, user_id=seeded.users["sup"]).sample_id


def _urls(app: Any, sd: Any) -> dict[str, str]:
    sid = _sample(app, sd)
    cal_call = sd.good_ids[0]
    with transaction(_sessions(app)) as s:
        cal = repo.create_calibration(s, cal_call, [sd.users["qa1"], sd.users["qa2"]], sd.users["sup"]).id
    rid = _review(app, sd.bad_ids[0], sd.users["qa2"])
    with transaction(_sessions(app)) as s:
        did = repo.raise_dispute(s, rid, sd.users["sup"], "客服不同意").id
    return {
        "call": f"/qa/calls/{sd.bad_ids[0]}",
        "audio": f"/qa/calls/{sd.bad_ids[0]}/audio",
        "sample": f"/qa/samples/{sid}",
        "sample_zip": f"/qa/samples/{sid}.zip",
        "sample_csv": f"/qa/samples/{sid}.csv",
        "cal": f"/qa/calibration/{cal}",
        "dispute": f"/qa/disputes/{did}",
        "review": str(rid),
    }


# route -> roles allowed (others get 403)
GET_ROUTES = {
    "/qa/calls": ROLES,
    "/qa/calls?from=2020-01-01&to=2099-12-31&q=退款&flag=angry_customer&sort=-total&page=1": ROLES,
    "/qa/calls.csv": ("sup", "admin"),
    "/qa/export.zip?agent=A1001": ("sup", "admin"),
    "call": ROLES,
    "audio": ROLES,
    "/qa/disputes": ROLES,
    "dispute": ROLES,
    "/qa/calibration": ROLES,
    "cal": ("qa1", "sup", "admin"),
    "/qa/sampling": ("sup", "admin"),
    "sample": ROLES,
    "sample_zip": ("sup", "admin"),
    "sample_csv": ("sup", "admin"),
    "/qa/my": ROLES,
    "/qa/trends": ROLES,
    "/qa/trends?team=售后一组&weeks=4": ROLES,
    "/qa/audit": ("admin",),
}


def test_every_get_route_for_every_role(ws: Any, as_user: Any) -> None:
    app, sd = ws
    urls = _urls(app, sd)
    clients = {name: as_user(name) for name in ROLES}
    anon = app.test_client()
    for route, allowed in GET_ROUTES.items():
        url = urls.get(route, route)
        r = anon.get(url)
        assert r.status_code == 302 and "/qa/login" in r.headers["Location"], url
        for name, c in clients.items():
            r = c.get(url)
            want = (200, 206) if name in allowed else (403,)
            assert r.status_code in want, (url, name, r.status_code)
            if r.status_code == 403:
                assert "无权访问" in r.get_data(as_text=True)


def test_login_logout_and_bad_password(ws: Any) -> None:
    app, _ = ws
    c = app.test_client()
    assert c.get("/qa/login").status_code == 200
    r = login(c, "qa1", "wrong-password")
    assert r.status_code == 401 and "用户名或密码错误" in r.get_data(as_text=True)
    assert _audits(app, "login_failed")
    r = login(c, "qa1")
    assert r.status_code == 302
    assert c.get("/qa/").headers["Location"].endswith("/qa/my")  # QA staff land on their tasks
    assert c.post("/qa/logout", data={"csrf_token": CSRF}).status_code == 302
    assert c.get("/qa/calls").status_code == 302
    sup = app.test_client()
    login(sup, "sup")
    assert sup.get("/qa/").headers["Location"].endswith("/qa/calls")


def test_login_redirects_only_inside_the_workspace(ws: Any) -> None:
    app, _ = ws
    c = app.test_client()
    with c.session_transaction() as sess:
        sess["csrf_token"] = CSRF
    r = c.post(
        "/qa/login?next=https://evil.example/", data={"name": "qa1", "password": "secret-qa1", "csrf_token": CSRF}
    )
    assert r.headers["Location"].endswith("/qa/calls")


def test_csrf_is_required(ws: Any, as_user: Any) -> None:
    _app, sd = ws
    c = as_user("qa1")
    r = c.post(f"/qa/calls/{sd.good_ids[0]}/comments", data={"text": "x"})
    assert r.status_code == 400 and "CSRF" in r.get_data(as_text=True)
    r = c.post(f"/qa/calls/{sd.good_ids[0]}/comments", data={"text": "x", "csrf_token": "forged"})
    assert r.status_code == 400
    r = c.post(f"/qa/calls/{sd.good_ids[0]}/comments", data={"text": "好", "csrf_token": CSRF})
    assert r.status_code == 302


def test_calls_list_filters_sort_and_paginate(ws: Any, as_user: Any) -> None:
    app, sd = ws
    c = as_user("qa1")
    page = c.get("/qa/calls").get_data(as_text=True)
    assert f'共 <b id="total">{len(sd.call_ids) + 1}</b> 通' in page
    r = c.get("/qa/calls?agent=A1001").get_data(as_text=True)
    assert '<b id="total">6</b>' in r
    r = c.get("/qa/calls?team=售后二组&q=退款").get_data(as_text=True)
    assert f'<b id="total">{sum(1 for i in sd.bad_ids if i > sd.call_ids[11])}</b>' in r
    r = c.get("/qa/calls?score_max=50").get_data(as_text=True)
    assert f'<b id="total">{len(sd.bad_ids)}</b>' in r
    r = c.get("/qa/calls?sentiment=negative").get_data(as_text=True)
    assert f'<b id="total">{len(sd.bad_ids)}</b>' in r
    r = c.get("/qa/calls?menu=aftersales").get_data(as_text=True)
    assert f'<b id="total">{len(sd.bad_ids)}</b>' in r
    r = c.get("/qa/calls?outcome=abandoned").get_data(as_text=True)
    assert '<b id="total">1</b>' in r
    r = c.get("/qa/calls?per_page=10&page=3").get_data(as_text=True)
    assert "第 3 / 3 页" in r
    r = c.get("/qa/calls?reviewed=yes").get_data(as_text=True)
    assert '<b id="total">0</b>' in r
    # sorted by score ascending: the bad calls first
    with transaction(_sessions(app)) as s:
        page1 = repo.list_calls(s, repo.CallFilter(sort="total", per_page=3))
    assert {r.id for r in page1.rows} <= set(sd.bad_ids)


def test_call_page_shows_transcript_highlights_metrics_ivr(ws: Any, as_user: Any) -> None:
    app, sd = ws
    c = as_user("qa1")
    html = c.get(f"/qa/calls/{sd.bad_ids[0]}").get_data(as_text=True)
    assert "不归我管" in html and 'class="hit"' in html and 'href="#item-' in html
    assert "line sp-customer negative" in html  # per-turn sentiment colour
    assert "客服说话占比" in html and "IVR 路径" in html and "aftersales" in html
    assert "满意度评分" in html and 'id="survey">2<' in html
    assert 'id="sentchart"' in html and "wavesurfer.min.js" in html
    assert _audits(app, "view")


def test_audio_serves_ranges_and_audits_listens(ws: Any, as_user: Any) -> None:
    app, sd = ws
    c = as_user("qa1")
    url = f"/qa/calls/{sd.good_ids[0]}/audio"
    full = c.get(url)
    assert full.status_code == 200 and full.data[:4] == b"RIFF" and full.mimetype == "audio/wav"
    part = c.get(url, headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.data == full.data[1000:2000]
    assert part.headers["Content-Range"].startswith("bytes 1000-1999/")
    assert c.get(url, headers={"Range": "bytes=0-"}).status_code == 206  # the player again, same listen
    listens = _audits(app, "listen")
    assert len(listens) == 1 and listens[0].object_id == str(sd.good_ids[0])  # mid-file seeks are not listens
    assert as_user("qa2").get(url).status_code == 200
    assert [a.user_id for a in _audits(app, "listen")] == [sd.users["qa1"], sd.users["qa2"]]
    assert c.get(f"/qa/calls/{sd.unscored_id}/audio").status_code == 404


def test_review_override_keeps_automatic_score(ws: Any, as_user: Any) -> None:
    app, sd = ws
    cid = sd.good_ids[0]
    with transaction(_sessions(app)) as s:
        d = repo.call_detail(s, cid)
        assert d and d.score
        auto_total, items = d.score.total, dict(d.score.items)
    key = next(k for k, v in items.items() if v["score"] is not None and v["max"] > 0 and v["score"] >= 2)
    new = items[key]["score"] - 2
    c = as_user("qa1")
    r = c.post(
        f"/qa/calls/{cid}/review",
        data={"csrf_token": CSRF, f"item.{key}": str(new), f"note.{key}": "语气生硬", "comment": "整体尚可"},
    )
    assert r.status_code == 302
    with transaction(_sessions(app)) as s:
        d = repo.call_detail(s, cid)
        assert d and d.score and d.score.total == auto_total  # the automatic score is untouched
        review, name = d.reviews[-1]
        assert name == "qa1" and not review.items[key]["confirmed"]
        assert review.items[key]["auto"] == items[key]["score"] and review.items[key]["human"] == new
        assert review.total == pytest.approx(auto_total - 2, abs=0.01)
        assert any(cm.text == "整体尚可" for cm, _ in d.comments)
    html = c.get(f"/qa/calls/{cid}").get_data(as_text=True)
    assert "语气生硬" in html and 'id="human-total"' in html
    assert _audits(app, "review")[0].detail["overridden"] == [key]
    # supervisors do not review
    sup = as_user("sup")
    assert sup.post(f"/qa/calls/{cid}/review", data={"csrf_token": CSRF}).status_code == 403


def test_comment_at_time_and_turn(ws: Any, as_user: Any) -> None:
    _app, sd = ws
    c = as_user("sup")
    cid = sd.bad_ids[0]
    r = c.post(f"/qa/calls/{cid}/comments", data={"csrf_token": CSRF, "text": "这里推诿", "at": "3.5", "turn": "2"})
    assert r.status_code == 302
    html = c.get(f"/qa/calls/{cid}").get_data(as_text=True)
    assert "这里推诿" in html and "第 3 句" in html and 'data-time="3.5"' in html


def test_dispute_flow_keeps_both_versions(ws: Any, as_user: Any) -> None:
    app, sd = ws
    cid = sd.bad_ids[0]
    with transaction(_sessions(app)) as s:
        items = dict(repo.call_detail(s, cid).score.items)  # type: ignore[union-attr]
    key = next(k for k, v in items.items() if v["score"] is not None and v["max"] > 0)
    rid = _review(app, cid, sd.users["qa1"])
    qa = as_user("qa1")
    assert qa.post(f"/qa/reviews/{rid}/dispute", data={"csrf_token": CSRF, "reason": "x"}).status_code == 403
    sup = as_user("sup")
    r = sup.post(f"/qa/reviews/{rid}/dispute", data={"csrf_token": CSRF, "reason": "客户先骂人，客服已道歉"})
    assert r.status_code == 302
    with transaction(_sessions(app)) as s:
        d = s.scalars(select(Dispute)).one()
        orig_total = d.original_total
    url = f"/qa/disputes/{d.id}"
    # the original reviewer and the supervisor cannot resolve
    r = qa.post(url + "/resolve", data={"csrf_token": CSRF, "decision": "revise", "resolution": "x"})
    assert r.status_code == 302
    with transaction(_sessions(app)) as s:
        assert s.get(Dispute, d.id).status == "open"  # type: ignore[union-attr]
    assert sup.post(url + "/resolve", data={"csrf_token": CSRF}).status_code == 403
    assert "由另一位质检员或管理员处理" in qa.get(url).get_data(as_text=True)
    qa2 = as_user("qa2")
    assert "按上表改判" in qa2.get(url).get_data(as_text=True)
    new = float(items[key]["max"])
    r = qa2.post(
        url + "/resolve",
        data={"csrf_token": CSRF, "decision": "revise", "resolution": "同意加分", f"item.{key}": str(new)},
    )
    assert r.status_code == 302
    with transaction(_sessions(app)) as s:
        d2 = s.get(Dispute, d.id)
        rv = s.get(Review, rid)
        assert d2 and rv and d2.status == "revised" and d2.resolution == "同意加分"
        assert d2.original_items[key]["human"] == items[key]["score"]  # original version kept
        assert d2.resolved_items and d2.resolved_items[key]["human"] == new
        assert rv.items[key]["human"] == new and rv.status == "revised"
        assert d2.resolved_total is not None and d2.resolved_total >= orig_total
    html = as_user("admin").get("/qa/disputes?status=all").get_data(as_text=True)
    assert "已改判" in html


def test_calibration_is_blind_until_scored(ws: Any, as_user: Any) -> None:
    app, sd = ws
    cid = sd.good_ids[1]
    sup = as_user("sup")
    qa1 = as_user("qa1")
    assert qa1.post("/qa/calibration", data={"csrf_token": CSRF, "call_id": cid}).status_code == 403
    r = sup.post(
        "/qa/calibration",
        data={
            "csrf_token": CSRF,
            "call_id": str(cid),
            "title": "第47周",
            "reviewer": [sd.users["qa1"], sd.users["qa2"]],
        },
    )
    assert r.status_code == 302
    url = r.headers["Location"]
    with transaction(_sessions(app)) as s:
        items = dict(repo.call_detail(s, cid).score.items)  # type: ignore[union-attr]
    key = next(k for k, v in items.items() if v["score"] is not None and v["max"] > 0 and v["score"] >= 3)
    qa2 = as_user("qa2")
    assert qa2.post(url + "/score", data={"csrf_token": CSRF, f"item.{key}": "0"}).status_code == 302
    page = qa1.get(url).get_data(as_text=True)
    assert "提交盲评" in page and 'id="spread"' not in page  # qa1 cannot see qa2's score yet
    assert qa1.post(url + "/score", data={"csrf_token": CSRF}).status_code == 302
    page = qa1.get(url).get_data(as_text=True)
    assert 'id="spread"' in page and "qa2" in page
    with transaction(_sessions(app)) as s:
        cal_id = int(url.rsplit("/", 1)[1])
        spread = repo.calibration_spread([r for r, _ in repo.calibration_reviews(s, cal_id)])
    assert spread["items"][key]["range"] == pytest.approx(items[key]["score"])
    admin = as_user("admin")
    assert admin.post(url + "/score", data={"csrf_token": CSRF}).status_code == 403  # not a participant
    assert qa1.post(url + "/close", data={"csrf_token": CSRF}).status_code == 403
    assert sup.post(url + "/close", data={"csrf_token": CSRF}).status_code == 302


def test_sampling_page_run_is_reproducible_and_assigned_evenly(ws: Any, as_user: Any) -> None:
    app, sd = ws
    sup = as_user("sup")
    assert "每周抽检" in sup.get("/qa/sampling").get_data(as_text=True)
    form = {
        "csrf_token": CSRF,
        "team": "售后一组",
        "week": sd.week,
        "seed": "42",
        "per_agent": "2",
        "max_targeted": "5",
        "min_duration_s": "60",
        "require_recording": "on",
        "skip_reviewed": "on",
        "t_lowest": "on",
        "lowest_n": "1",
        "lowest_below": "70",
        "t_complaint": "on",
    }
    r1 = sup.post("/qa/sampling/run", data=form)
    r2 = sup.post("/qa/sampling/run", data=form)
    assert r1.status_code == 302 and r2.status_code == 302
    with transaction(_sessions(app)) as s:
        samples = list(s.scalars(select(Sample).order_by(Sample.id)))
        picks = [
            [
                (p.call_id, p.reason, p.assignee_id)
                for p in s.scalars(select(SamplePick).where(SamplePick.sample_id == x.id))
            ]
            for x in samples
        ]
        durations = {c: repo.load_rows(s, [c])[0].duration_s for c, _, _ in picks[0]}
    assert picks[0] == picks[1] and picks[0]  # same seed, same picks and assignees
    assert all(d is not None and d >= 60 for d in durations.values())  # 45 s calls filtered out
    reasons = {r for _, r, _ in picks[0]}
    assert "random" in reasons and "lowest_score" in reasons
    by_reviewer = [sum(1 for *_, a in picks[0] if a == u) for u in (sd.users["qa1"], sd.users["qa2"])]
    assert abs(by_reviewer[0] - by_reviewer[1]) <= 1 and sum(by_reviewer) == len(picks[0])
    page = sup.get(r1.headers["Location"]).get_data(as_text=True)
    assert "本周最低分" in page and "随机抽检" in page and "下载录音包" in page
    # another seed may differ; the policy form saved per team comes back on the page
    r = sup.post("/qa/sampling/policy", data={**form, "per_agent": "4"})
    assert r.status_code == 302
    assert 'name="per_agent" type="number" min="0" max="20" class="num" value="4"' in sup.get(
        "/qa/sampling?team=售后一组"
    ).get_data(as_text=True)
    assert as_user("qa1").post("/qa/sampling/run", data=form).status_code == 403
    assert _audits(app, "sample")


def test_sample_zip_and_csv_exports(ws: Any, as_user: Any) -> None:
    app, sd = ws
    sid = _sample(app, sd)
    sup = as_user("sup")
    r = sup.get(f"/qa/samples/{sid}.zip")
    assert r.status_code == 200 and r.mimetype == "application/zip"
    z = zipfile.ZipFile(io.BytesIO(r.data))
    names = z.namelist()
    assert "summary.csv" in names
    assert any(n.startswith("recordings/") and n.endswith(".wav") for n in names)
    assert any(n.startswith("transcripts/") and n.endswith(".json") for n in names)
    assert any(n.startswith("scorecards/") for n in names)
    rows = list(csv.reader(io.StringIO(z.read("summary.csv").decode("utf-8-sig"))))
    assert rows[0][0] == "通话ID" and len(rows) > 1 and rows[1][-4]  # reason recorded
    wav = next(n for n in names if n.endswith(".wav"))
    assert z.read(wav)[:4] == b"RIFF"
    r = sup.get(f"/qa/samples/{sid}.csv")
    assert r.status_code == 200 and "抽检原因" in r.get_data(as_text=True)
    r = sup.get("/qa/calls.csv?team=售后二组")
    lines = list(csv.reader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))
    assert lines[0][0] == "通话ID" and len(lines) == 1 + 12 and all(row[4] == "售后二组" for row in lines[1:])
    r = sup.get("/qa/export.zip?agent=A2001")
    z = zipfile.ZipFile(io.BytesIO(r.data))
    assert sum(1 for n in z.namelist() if n.endswith(".wav")) == 6
    exports = _audits(app, "export")
    assert {e.object_type for e in exports} >= {"sample", "sample_csv", "calls_csv", "calls_zip"}


def test_trends_and_audit_pages(ws: Any, as_user: Any) -> None:
    _app, _sd = ws
    c = as_user("sup")
    html = c.get("/qa/trends").get_data(as_text=True)
    assert "售后一组" in html and "售后二组" in html and 'id="weekly"' in html and 'id="failed"' in html
    html = c.get("/qa/trends?team=售后一组").get_data(as_text=True)
    assert "A1001" in html and "A2001" not in html.split('id="trend-data"')[0]
    admin = as_user("admin")
    html = admin.get("/qa/audit").get_data(as_text=True)
    assert "登录" in html


def test_not_found_pages(ws: Any, as_user: Any) -> None:
    _app, _ = ws
    c = as_user("admin")
    for url in (
        "/qa/calls/999999",
        "/qa/disputes/999",
        "/qa/calibration/999",
        "/qa/samples/999",
        "/qa/samples/999.zip",
    ):
        assert c.get(url).status_code == 404, url


def _ids_in_order(html: str) -> list[int]:
    import re

    seen: list[int] = []
    for m in re.finditer(r'href="/qa/calls/(\d+)"', html):
        cid = int(m.group(1))
        if cid not in seen:
            seen.append(cid)
    return seen


def test_calls_list_date_range_flags_and_sort_by_url(ws: Any, as_user: Any) -> None:
    from datetime import date, timedelta

    app, sd = ws
    c = as_user("qa1")
    year, week = sd.week.split("-W")
    monday = date.fromisocalendar(int(year), int(week), 1)
    # one call per agent was last week (local days; the end day is inclusive)
    r = c.get(f"/qa/calls?from={monday - timedelta(days=7)}&to={monday - timedelta(days=1)}").get_data(as_text=True)
    assert '<b id="total">4</b>' in r
    r = c.get(f"/qa/calls?from={monday}").get_data(as_text=True)
    assert f'<b id="total">{len(sd.call_ids) + 1 - 4}</b>' in r
    r = c.get(f"/qa/calls?to={monday - timedelta(days=8)}").get_data(as_text=True)
    assert '<b id="total">0</b>' in r
    # flags: the bad script has a forbidden phrase and an angry customer, the good one neither
    for url in ("/qa/calls?flag=forbidden_phrase", "/qa/calls?flag=forbidden_phrase&flag=angry_customer"):
        html = c.get(url).get_data(as_text=True)
        assert f'<b id="total">{len(sd.bad_ids)}</b>' in html, url
        assert set(_ids_in_order(html)) == set(sd.bad_ids)
    assert '<b id="total">0</b>' in c.get("/qa/calls?flag=long_silence&flag=angry_customer").get_data(as_text=True)
    assert f'<b id="total">{len(sd.call_ids) + 1}</b>' in c.get("/qa/calls?flag=bogus").get_data(as_text=True)
    # sorting through the query string: by score ascending the bad calls come first; by duration
    # descending the longest call first; an unknown sort falls back to newest first
    order = _ids_in_order(c.get("/qa/calls?sort=total").get_data(as_text=True))
    assert set(order[: len(sd.bad_ids)]) == set(sd.bad_ids)
    with transaction(_sessions(app)) as s:
        rows = {r.id: r for r in repo.load_rows(s, sd.call_ids)}
    order = _ids_in_order(c.get("/qa/calls?sort=-duration").get_data(as_text=True))
    assert rows[order[0]].duration_s == max(r.duration_s or 0 for r in rows.values())
    order = _ids_in_order(c.get("/qa/calls?sort=-agent").get_data(as_text=True))
    assert rows[order[0]].agent_id == "A2002"
    newest = _ids_in_order(c.get("/qa/calls?sort=evil;drop").get_data(as_text=True))
    assert newest == _ids_in_order(c.get("/qa/calls").get_data(as_text=True))


def test_full_text_search_common_word_path_counts_right(ws: Any, as_user: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A word in more transcripts than MAX_ID_LIST takes the per-row (EXISTS) path: same answers."""
    app, sd = ws
    filters = [
        repo.CallFilter(q="订单"),
        repo.CallFilter(q="订单", team="售后一组"),
        repo.CallFilter(q="订单", sort="total"),
        repo.CallFilter(q="订单", score_min=50),
        repo.CallFilter(q="退款", flags=["angry_customer"], sort="-total"),
        repo.CallFilter(q="订单", agent="A1001", per_page=2, page=2),
    ]
    with transaction(_sessions(app)) as s:
        by_list = [repo.list_calls(s, f) for f in filters]
    monkeypatch.setattr(repo, "MAX_ID_LIST", 2)
    with transaction(_sessions(app)) as s:
        by_exists = [repo.list_calls(s, f) for f in filters]
    for f, a, b in zip(filters, by_list, by_exists, strict=True):
        assert (a.total, [r.id for r in a.rows]) == (b.total, [r.id for r in b.rows]), f
    good = len(sd.good_ids)
    assert [p.total for p in by_exists[:4]] == [good, good // 2, good, good]
    assert by_exists[4].total == len(sd.bad_ids) and len(by_exists[5].rows) == 2
    c = as_user("qa1")
    assert f'<b id="total">{good}</b>' in c.get("/qa/calls?q=订单").get_data(as_text=True)


def test_sampling_page_proposes_the_week_with_calls(ws: Any, as_user: Any) -> None:
    app, sd = ws
    sup = as_user("sup")
    html = sup.get("/qa/sampling?team=售后一组").get_data(as_text=True)
    assert f'name="week" value="{sd.week}"' in html and 'id="week-note"' not in html
    with transaction(_sessions(app)) as s:  # a team whose newest call was last week
        s.add(Call(call_sid="CAold", started_at=datetime.now(UTC) - timedelta(days=8), agent_id="B1", team="旧组"))
    html = sup.get("/qa/sampling?team=旧组").get_data(as_text=True)
    assert 'id="week-note"' in html and f'name="week" value="{sd.week}"' not in html
    assert f'name="week" value="{sd.week}"' in sup.get(f"/qa/sampling?team=旧组&week={sd.week}").get_data(as_text=True)
