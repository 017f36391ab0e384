"""Issue 12, the workspace's part: numbers that are checked and shown safely, logins that are
throttled, sessions that can be revoked, CSV cells that cannot become formulas, and no 500 for
hostile input on any route."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import subprocess
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

from hotline.settings import Settings
from store import calibration as store_calibration
from store import disputes as store_disputes
from store import sampling as store_sampling
from store import search
from store import users as store_users
from store.db import transaction
from store.models import Call
from store.models_pipeline import ScoreRow, TranscriptRow
from store.models_review import (
    AuditEntry,
    CalibrationSession,
    Dispute,
    LoginThrottle,
    Review,
    ReviewComment,
    SamplingPolicy,
    User,
)
from workspace.inputs import InputError, safe_next, whole
from workspace.present import fmt_metric, fmt_num, fmt_time, json_safe
from workspace.writers import csv_cell

from ..conftest import ROOT
from .conftest import CSRF, login
from .helpers import make_review
from .seed import Audio, seed

INF, NAN = math.inf, math.nan


def _sessions(app: Any) -> Any:
    return app.extensions["hotline"]["sessions"]


def _count(app: Any, model: Any) -> int:
    with transaction(_sessions(app)) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def _strict_json(text: str) -> Any:
    """json.loads that refuses NaN/Infinity, as a browser's JSON.parse does."""

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def _page_json(html: str) -> list[Any]:
    return [_strict_json(m) for m in re.findall(r'<script type="application/json" id="[\w-]+">(.*?)</script>', html)]


# --------------------------------------------------------------------------- pure helpers


def test_presentation_helpers_never_raise_on_broken_numbers() -> None:
    for bad in (None, NAN, INF, -INF, "abc", [], 1e300):
        assert fmt_time(bad) == "—"
        assert fmt_num(bad) == "—"
        assert fmt_metric(bad, "int") == "—" and fmt_metric(bad, "pct") == "—"
    assert fmt_time(75.4) == "1:15" and fmt_num(-0.35, 2, sign=True) == "-0.35" and fmt_num(None, missing="") == ""
    assert json_safe({"a": [1.0, NAN, {"b": INF}], "c": "x"}) == {"a": [1.0, None, {"b": None}], "c": "x"}


def test_number_fields_and_next_targets() -> None:
    assert whole({"t": "12"}, "t", "句子", 0, 100) == 12
    for bad in ("9" * 30, "²", "٣", "1.5", "nan", "-1", "abc"):
        with pytest.raises(InputError, match="句子"):
            whole({"t": bad}, "t", "句子", 0, 100)
    assert safe_next("/qa/calls?team=售后一组", "/d") == "/qa/calls?team=售后一组"
    for bad in ("/qa/calls\r\nSet-Cookie: x=1", "//evil.example/qa/", "https://evil.example/qa/", "/qa/\\evil", "/x"):
        assert safe_next(bad, "/d") == "/d", bad


def test_csv_cells_cannot_start_formulas() -> None:
    for bad in ("=1+1", "+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("http://x")'):
        assert csv_cell(bad) == "'" + bad
    for ok in ("-0.35", "+5", "12", "A1001", "售后一组", "", "a=b"):
        assert csv_cell(ok) == ok


# --------------------------------------------------------------------------- stored broken numbers


def _poison(app: Any, sd: Any, json_nan: bool) -> dict[str, Any]:
    """Write broken numbers straight into the store, as the old webhook and forms could.

    SQLite keeps infinities in float columns (NaN becomes NULL there) and NaN inside JSON text;
    PostgreSQL keeps NaN and infinities in float columns but refuses them in JSON, so JSON fields
    get text where a number belongs instead."""
    a, b = sd.good_ids[0], sd.bad_ids[0]
    bad_json: Any = NAN if json_nan else "abc"
    nan = -INF if json_nan else NAN  # SQLite stores NaN as NULL, which NOT NULL columns refuse
    with transaction(_sessions(app)) as s:
        s.execute(update(Call).where(Call.id == a).values(duration_s=INF))
        s.execute(update(Call).where(Call.id == b).values(duration_s=NAN))
        s.execute(
            update(ScoreRow)
            .where(ScoreRow.call_id == a)
            .values(total=INF, customer_sentiment=nan, customer_satisfaction=-INF)
        )
        s.execute(update(ScoreRow).where(ScoreRow.call_id == b).values(total=nan))
        score = s.scalars(select(ScoreRow).where(ScoreRow.call_id == a)).one()
        items = json.loads(json.dumps(score.items))
        key = next(iter(items))
        items[key]["score"], items[key]["max"] = bad_json, bad_json
        details = json.loads(json.dumps(score.details))
        details.setdefault("metrics", {}).update({"silences": bad_json, "talk_ratio": bad_json})
        turns = (details.get("sentiment") or {}).get("turns") or []
        if turns:
            turns[0]["score"], turns[0]["start"] = bad_json, bad_json
        score.items, score.details = items, details
        tr = s.scalars(select(TranscriptRow).where(TranscriptRow.call_id == a)).one()
        data = json.loads(json.dumps(tr.data))
        data["utterances"][0]["start"] = bad_json
        tr.data = data
        uid = sd.users["qa1"]
        s.add(ReviewComment(call_id=a, author_id=uid, text="批注一", at_s=INF, turn=3))
        s.add(ReviewComment(call_id=b, author_id=uid, text="批注二", at_s=NAN))
        bad_item = {"name": key, "auto": bad_json, "human": bad_json, "max": 10.0, "confirmed": False, "note": ""}
        bad_items = {key: bad_item}
        rv = Review(call_id=a, reviewer_id=uid, items=bad_items, auto_total=INF, total=nan, status="disputed")
        s.add(rv)
        s.flush()
        s.add(
            Dispute(
                review_id=rv.id,
                call_id=a,
                raised_by=sd.users["sup"],
                reason="x",
                original_items=bad_items,
                original_total=nan,
                resolved_total=INF,
            )
        )
        cal = CalibrationSession(call_id=a, reviewer_ids=[uid, sd.users["qa2"]], created_by=sd.users["sup"])
        s.add(cal)
        s.flush()
        for who, total in ((uid, nan), (sd.users["qa2"], INF)):
            cal_review = Review(call_id=a, reviewer_id=who, kind="calibration", items=bad_items, total=total)
            cal_review.calibration_id = cal.id
            s.add(cal_review)
        pick = store_sampling.PickIn
        picks = [pick(a, "A1001", "random", "x", uid), pick(b, "A1001", "random", "y", uid)]
        smp = store_sampling.save_sample(s, "售后一组", sd.week, 1, {}, picks, sd.users["sup"])
        s.add(SamplingPolicy(team="售后一组", policy={"min_duration_s": bad_json, "random_per_agent_week": 2}))
        s.add(AuditEntry(user_id=uid, action="review", object_type="call", object_id=str(a), detail={"t": bad_json}))
        did = s.scalar(select(Dispute.id))
    return {"a": a, "b": b, "sample": smp.id, "cal": cal.id, "dispute": did}


def _every_page_answers(app: Any, sd: Any, ids: dict[str, Any], as_user: Any) -> None:
    admin = as_user("admin")
    pages = [
        "/qa/calls",
        "/qa/calls?sort=-duration",
        "/qa/calls?sort=duration",
        "/qa/calls?sort=total",
        "/qa/calls?sort=-sentiment",
        "/qa/calls?score_min=0&score_max=100",
        f"/qa/calls/{ids['a']}",
        f"/qa/calls/{ids['b']}",
        "/qa/trends",
        "/qa/trends?team=售后一组",
        f"/qa/samples/{ids['sample']}",
        f"/qa/calibration/{ids['cal']}",
        "/qa/calibration",
        "/qa/disputes?status=all",
        f"/qa/disputes/{ids['dispute']}",
        "/qa/sampling?team=售后一组",
        "/qa/audit",
        "/qa/users",
    ]
    for url in pages:
        r = admin.get(url)
        assert r.status_code == 200, (url, r.status_code)
        html = r.get_data(as_text=True)
        _page_json(html)  # every chart's data is valid JSON (no NaN/Infinity)
        assert ">inf<" not in html and ">nan<" not in html, url
    call_a = admin.get(f"/qa/calls/{ids['a']}").get_data(as_text=True)
    assert "时长 <b>—</b>" in call_a and 'id="auto-total">—<' in call_a
    assert "时长 <b>—</b>" in admin.get(f"/qa/calls/{ids['b']}").get_data(as_text=True)
    assert as_user("qa1").get("/qa/my").status_code == 200
    exports = [
        "/qa/calls.csv",
        "/qa/export.zip",
        f"/qa/samples/{ids['sample']}.csv",
        f"/qa/samples/{ids['sample']}.zip",
    ]
    for url in exports:
        r = admin.get(url)
        assert r.status_code == 200, (url, r.status_code)
        if url.endswith(".zip"):
            z = zipfile.ZipFile(io.BytesIO(r.data))
            text = z.read("summary.csv").decode("utf-8-sig")
            for name in z.namelist():
                if name.endswith(".json"):
                    _strict_json(z.read(name).decode())
        else:
            text = r.get_data(as_text=True).lstrip("\ufeff")
        rows = list(csv.reader(io.StringIO(text)))
        by_id = {row[0]: row for row in rows[1:]}
        assert by_id[str(ids["a"])][7] == "" and by_id[str(ids["b"])][7] == "", url  # duration left empty
        assert not any(c in ("inf", "nan", "-inf") for row in rows for c in row), url


def test_broken_stored_numbers_leave_every_page_answering(ws: Any, as_user: Any) -> None:
    app, sd = ws
    _every_page_answers(app, sd, _poison(app, sd, json_nan=True), as_user)


@pytest.mark.scaleout
def test_broken_stored_numbers_on_postgresql(
    pg_url: str,
    tmp_path: Path,
    call_audio: dict[str, Audio],
) -> None:
    from hotline.app import create_app

    settings = Settings(data_dir=tmp_path / "var", database_url=pg_url)
    app = create_app(settings)
    app.config["TESTING"] = True
    try:
        sd = seed(_sessions(app), Path(settings.data_dir), call_audio)
        ids = _poison(app, sd, json_nan=False)
        with transaction(_sessions(app)) as s:  # PostgreSQL really holds the NaN
            assert math.isnan(s.scalar(select(Call.duration_s).where(Call.id == ids["b"])) or 0.0)

        def as_user(name: str) -> Any:
            c = app.test_client()
            assert login(c, name).status_code == 302
            return c

        _every_page_answers(app, sd, ids, as_user)
    finally:
        app.extensions["hotline"]["engine"].dispose()


# --------------------------------------------------------------------------- numbers refused


def test_bad_numbers_are_refused_naming_the_field_and_nothing_is_stored(ws: Any, as_user: Any) -> None:
    app, sd = ws
    cid = sd.good_ids[0]
    with transaction(_sessions(app)) as s:
        items = search.call_detail(s, cid).score.items  # type: ignore[union-attr]
        cal = store_calibration.create_calibration(s, cid, [sd.users["qa1"], sd.users["qa2"]], sd.users["sup"]).id
    key = next(k for k, v in items.items() if v["score"] is not None and v["max"] > 0)
    name = items[key]["name"]
    qa = as_user("qa1")
    base = {"csrf_token": CSRF}
    comments, reviews = _count(app, ReviewComment), _count(app, Review)
    for at in ("1e999", "nan", "inf", "-1", "abc", "86401"):
        r = qa.post(f"/qa/calls/{cid}/comments", data={**base, "text": "x", "at": at})
        assert r.status_code == 400 and "时间点" in r.get_data(as_text=True), at
    for turn in ("9" * 30, "²", "-1", "1.5"):
        r = qa.post(f"/qa/calls/{cid}/comments", data={**base, "text": "x", "turn": turn})
        assert r.status_code == 400 and "句子序号" in r.get_data(as_text=True), turn
    for v in ("nan", "inf", "-inf", "1e999", "abc", "-1", str(float(items[key]["max"]) + 1)):
        r = qa.post(f"/qa/calls/{cid}/review", data={**base, f"item.{key}": v})
        assert r.status_code == 400 and f"「{name}」" in r.get_data(as_text=True), v
        r = qa.post(f"/qa/calibration/{cal}/score", data={**base, f"item.{key}": v})
        assert r.status_code == 400 and f"「{name}」" in r.get_data(as_text=True), v
    assert (_count(app, ReviewComment), _count(app, Review)) == (comments, reviews)  # nothing stored
    rid = make_review(app, cid, sd.users["qa2"])
    with transaction(_sessions(app)) as s:
        did = store_disputes.raise_dispute(s, rid, sd.users["sup"], "不同意").id
    r = qa.post(f"/qa/disputes/{did}/resolve", data={**base, "decision": "revise", f"item.{key}": "nan"})
    assert r.status_code == 400 and f"「{name}」" in r.get_data(as_text=True)
    with transaction(_sessions(app)) as s:
        assert s.get(Dispute, did).status == "open"  # type: ignore[union-attr]
    sup = as_user("sup")
    policy = {**base, "team": "售后一组", "week": sd.week, "seed": "1"}
    for field, label in (("min_duration_s", "最短时长"), ("per_agent", "随机抽检"), ("lowest_below", "最低分阈值")):
        for v in ("inf", "nan", "1e999", "-5"):
            for route in ("/qa/sampling/policy", "/qa/sampling/run"):
                r = sup.post(route, data={**policy, field: v, "t_lowest": "on"})
                assert r.status_code == 400 and label in r.get_data(as_text=True), (route, field, v)
    assert _count(app, SamplingPolicy) == 0
    r = sup.post("/qa/sampling/run", data={**policy, "seed": "9" * 30})
    assert r.status_code == 400 and "随机种子" in r.get_data(as_text=True)
    for url, label in (
        ("/qa/calls?score_min=nan", "最低分"),
        ("/qa/calls?score_max=1e999", "最高分"),
        ("/qa/calls?page=" + "9" * 30, "页码"),
        ("/qa/calls.csv?from=0001-01-01", "开始日期"),
        ("/qa/export.zip?to=9999-12-31", "结束日期"),
        ("/qa/trends?weeks=inf", "周数"),
        ("/qa/audit?page=-3", "页码"),
    ):
        r = as_user("admin").get(url)
        assert r.status_code == 400 and label in r.get_data(as_text=True), url


def test_week_is_stored_in_its_canonical_form(ws: Any, as_user: Any) -> None:
    """'2026-w047' named the right week but matched no pick (picks carry '2026-W47')."""
    app, sd = ws
    year, wk = sd.week.split("-W")
    sup = as_user("sup")
    r = sup.post(
        "/qa/sampling/run",
        data={"csrf_token": CSRF, "team": "售后一组", "week": f"{year}-w0{wk}", "seed": "3", "per_agent": "2"},
    )
    assert r.status_code == 302
    from store.models_review import Sample, SamplePick

    with transaction(_sessions(app)) as s:
        smp = s.scalars(select(Sample)).one()
        assert smp.week == sd.week and s.scalar(select(func.count(SamplePick.id))) > 0


# --------------------------------------------------------------------------- stray 500s


def test_stray_500s_are_4xx(ws: Any, as_user: Any) -> None:
    app, sd = ws
    c = app.test_client()
    with c.session_transaction() as sess:
        sess["csrf_token"] = CSRF
    r = c.post(
        "/qa/login?next=/qa/calls%0D%0ASet-Cookie:%20evil=1",
        data={"name": "qa1", "password": "secret-qa1", "csrf_token": CSRF},
    )
    assert r.status_code == 302 and r.headers["Location"].endswith("/qa/calls") and "evil" not in str(r.headers)
    qa = as_user("qa1")
    r = qa.post("/qa/calls/999999/comments", data={"csrf_token": CSRF, "text": "x"})
    assert r.status_code == 404
    r = qa.post(f"/qa/calls/{sd.good_ids[0]}/comments", data={"csrf_token": CSRF, "text": "x", "turn": "9" * 30})
    assert r.status_code == 400
    for url in ("/qa/calls/" + "9" * 30, "/qa/samples/" + "9" * 20 + ".zip", "/qa/disputes/" + "9" * 25):
        assert qa.get(url).status_code in (403, 404), url
    r = qa.post("/qa/calls/" + "9" * 30 + "/comments", data={"csrf_token": CSRF, "text": "x"})
    assert r.status_code == 404
    r = qa.post(f"/qa/calls/{sd.good_ids[0]}/comments", data={"csrf_token": CSRF, "text": "a\x00b"})
    assert r.status_code == 400 and "NUL" in r.get_data(as_text=True)


HOSTILE = [
    "nan",
    "inf",
    "-inf",
    "1e999",
    "-1",
    "",
    "abc",
    "²",
    "٣",
    "9" * 30,
    "0x10",
    " 1 ",
    "\r\n",
    "a\x00b",
    "x" * 5000,
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "=cmd|' /C calc'!A0",
]


def test_hostile_values_in_every_form_and_query_never_answer_500(ws: Any, as_user: Any) -> None:
    """Table-driven: every field of every form and query, one hostile value at a time."""
    app, sd = ws
    cid = sd.good_ids[1]
    with transaction(_sessions(app)) as s:
        key = next(iter(search.call_detail(s, cid).score.items))  # type: ignore[union-attr]
        cal = store_calibration.create_calibration(s, cid, [sd.users["qa1"], sd.users["admin"]], sd.users["sup"]).id
    rid = make_review(app, cid, sd.users["qa2"])
    with transaction(_sessions(app)) as s:
        did = store_disputes.raise_dispute(s, rid, sd.users["sup"], "x").id
    sampling = ["team", "week", "seed", "per_agent", "max_targeted", "min_duration_s", "lowest_n", "lowest_below"]
    forms: list[tuple[str, str, list[str]]] = [
        ("admin", f"/qa/calls/{cid}/review", [f"item.{key}", f"note.{key}", "comment", "auto_fail"]),
        ("admin", f"/qa/calls/{cid}/comments", ["text", "at", "turn"]),
        ("admin", f"/qa/reviews/{rid}/dispute", ["reason"]),
        ("admin", f"/qa/disputes/{did}/resolve", ["decision", "resolution", f"item.{key}"]),
        ("admin", "/qa/calibration", ["call_id", "reviewer", "title"]),
        ("admin", f"/qa/calibration/{cal}/score", [f"item.{key}", "comment"]),
        ("admin", "/qa/sampling/policy", [*sampling, "negative_below"]),
        ("admin", "/qa/sampling/run", sampling),
        ("admin", "/qa/users/unlock", ["key"]),
    ]
    queries: list[tuple[str, list[str]]] = [
        ("/qa/calls", ["from", "to", "agent", "team", "menu", "outcome", "score_min", "score_max"]),
        ("/qa/calls", ["sentiment", "flag", "q", "reviewed", "sort", "page", "per_page"]),
        ("/qa/calls.csv", ["from", "score_min", "page", "sort"]),
        ("/qa/disputes", ["status"]),
        ("/qa/sampling", ["team", "week", "seed"]),
        ("/qa/trends", ["weeks", "team"]),
        ("/qa/audit", ["page"]),
    ]
    valid = {
        "call_id": str(cid),
        "reviewer": str(sd.users["qa1"]),
        "text": "ok",
        "reason": "ok",
        "team": "售后一组",
        "week": sd.week,
        "seed": "1",
        "key": "user:nobody",
    }
    admin = as_user("admin")
    seen: list[tuple[str, str, str, int]] = []
    for _who, url, fields in forms:
        for field in fields:
            for value in HOSTILE:
                r = admin.post(url, data={**valid, "csrf_token": CSRF, field: value})
                seen.append((url, field, value[:20], r.status_code))
    for url, params in queries:
        for field in params:
            for value in HOSTILE:
                r = admin.get(url, query_string={field: value})
                seen.append((url, field, value[:20], r.status_code))
    anon = app.test_client()
    with anon.session_transaction() as sess:
        sess["csrf_token"] = CSRF
    for field in ("name", "password", "next"):
        for value in HOSTILE:
            data = {"name": "qa2", "password": "wrong-password", "csrf_token": CSRF, field: value}
            r = anon.post("/qa/login", data=data, query_string={"next": value} if field == "next" else {})
            seen.append(("/qa/login", field, value[:20], r.status_code))
    errors = [x for x in seen if x[3] >= 500]
    assert not errors, errors[:10]
    assert len(seen) > 1000


# --------------------------------------------------------------------------- login throttle


def _try(c: Any, name: str, password: str) -> Any:
    with c.session_transaction() as sess:
        sess["csrf_token"] = CSRF
    return c.post("/qa/login", data={"name": name, "password": password, "csrf_token": CSRF})


def test_thirty_wrong_passwords_get_429_and_an_admin_unlocks(ws: Any, as_user: Any) -> None:
    app, _ = ws
    c = app.test_client()
    codes = [_try(c, "qa1", f"wrong-{i}").status_code for i in range(30)]
    assert codes[: store_users.THROTTLE_FREE["user"]] == [401] * store_users.THROTTLE_FREE["user"]
    assert set(codes[store_users.THROTTLE_FREE["user"] :]) == {429}
    r = _try(c, "qa1", "secret-qa1")  # even the right password waits
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert "登录尝试次数过多" in r.get_data(as_text=True)
    assert _try(app.test_client(), "qa2", "secret-qa2").status_code == 302  # another account is not held up
    admin = as_user("admin")
    page = admin.get("/qa/users").get_data(as_text=True)
    assert "账号 qa1" in page and "解锁" in page
    assert as_user("sup").get("/qa/users").status_code == 403
    assert as_user("sup").post("/qa/users/unlock", data={"csrf_token": CSRF, "key": "user:qa1"}).status_code == 403
    r = admin.post("/qa/users/unlock", data={"csrf_token": CSRF, "key": "user:qa1"})
    assert r.status_code == 302
    assert _try(c, "qa1", "secret-qa1").status_code == 302
    with transaction(_sessions(app)) as s:
        assert s.scalar(select(LoginThrottle).where(LoginThrottle.key == "user:qa1")) is None  # success clears
        assert s.scalar(select(AuditEntry).where(AuditEntry.action == "unlock")) is not None


def test_unknown_names_are_throttled_alike_and_the_address_too(ws: Any) -> None:
    app, _ = ws
    c = app.test_client()
    codes = [_try(c, "nobody", "x" * 12).status_code for _ in range(8)]
    assert codes == [401] * 5 + [429] * 3  # same answers as for a real account: no enumeration
    free = store_users.THROTTLE_FREE["addr"]
    codes = [_try(c, f"guess{i}", "x" * 12).status_code for i in range(free + 2)]  # new name each time
    assert 429 in codes and codes.index(429) <= free - 5
    assert _try(c, "qa1", "secret-qa1").status_code == 429  # this address now waits, whatever the account


def test_good_logins_do_not_use_up_their_address(ws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Attempts are counted before the password is checked; a right one is taken off again, so an
    office behind one address is not locked out by its own logins."""
    app, _ = ws
    monkeypatch.setitem(store_users.THROTTLE_FREE, "addr", 3)
    codes = [_try(app.test_client(), "qa1", "secret-qa1").status_code for _ in range(6)]
    assert codes == [302] * 6
    c = app.test_client()
    assert [_try(c, f"x{i}", "wrong-password").status_code for i in range(4)] == [401, 401, 401, 429]


CHILD = """
import sys
from hotline.app import create_app
from hotline.settings import Settings
app = create_app(Settings.from_env())
c = app.test_client()
for _ in range(int(sys.argv[1])):
    with c.session_transaction() as sess:
        sess["csrf_token"] = "t"
    r = c.post("/qa/login", data={"name": "qa1", "password": "wrong-password", "csrf_token": "t"})
    print(r.status_code)
"""


def test_throttle_is_shared_by_processes(ws: Any, settings: Settings) -> None:
    """The count lives in the database: attempts in another process count here too."""
    app, _ = ws
    env = {"HOTLINE_DATA_DIR": str(settings.data_dir), "PATH": "/usr/bin:/bin", "HOME": str(settings.data_dir)}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, "4"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["401"] * 4
    c = app.test_client()
    assert _try(c, "qa1", "wrong-password").status_code == 401  # the 5th
    assert _try(c, "qa1", "secret-qa1").status_code == 429


def test_password_length_and_cli_unlock(ws: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from hotline.cli import cli

    app, _ = ws
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(settings.data_dir))
    run = CliRunner().invoke
    r = run(cli, ["users", "add", "wu", "--role", "qa", "--password", "123456789"])
    assert r.exit_code != 0 and "at least 10 characters" in r.output
    r = run(cli, ["users", "passwd", "qa1", "--password", "short"])
    assert r.exit_code != 0 and "at least 10 characters" in r.output
    with transaction(_sessions(app)) as s:  # an account made under the old 6-character rule
        old_hash = store_users.generate_password_hash("abc123")
        s.add(User(name="old", role="qa", password_hash=old_hash, team="", active=True))
    assert _try(app.test_client(), "old", "abc123").status_code == 302
    c = app.test_client()
    for _ in range(6):
        _try(c, "qa2", "wrong-password")
    assert _try(c, "qa2", "secret-qa2").status_code == 429
    r = run(cli, ["users", "unlock", "qa2"])
    assert r.exit_code == 0 and "unlocked" in r.output, r.output
    assert _try(c, "qa2", "secret-qa2").status_code == 302
    assert "was not locked" in run(cli, ["users", "unlock", "qa2"]).output
    r = run(cli, ["sample", "--team", "售后一组", "--seed", "9" * 30])  # an int column: refused, not a traceback
    assert r.exit_code == 2 and "--seed" in r.output


# --------------------------------------------------------------------------- session cookie


def _session_cookie(resp: Any) -> str:
    return next(h for h in resp.headers.getlist("Set-Cookie") if h.startswith("session="))


def test_session_cookie_flags_and_idle_lifetime(ws: Any) -> None:
    app, _ = ws
    c = app.test_client()
    r = _try(c, "qa1", "secret-qa1")
    cookie = _session_cookie(r)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    expires = re.search(r"Expires=([^;]+)", cookie)
    assert expires, cookie  # a dated cookie, refreshed by activity
    left = datetime.strptime(expires.group(1), "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=UTC) - datetime.now(UTC)
    assert timedelta(hours=11) < left <= timedelta(hours=12)
    assert "session=" in str(c.get("/qa/calls").headers.getlist("Set-Cookie"))  # re-issued on activity


def test_session_cookie_is_secure_behind_https(settings: Settings, call_audio: dict[str, Audio]) -> None:
    from hotline.app import create_app

    app = create_app(settings.with_(public_url="https://hotline.example.com"))
    try:
        seed(_sessions(app), Path(settings.data_dir), call_audio, calls_per_agent=1)
        c = app.test_client()
        cookie = _session_cookie(_try(c, "qa1", "secret-qa1"))
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    finally:
        app.extensions["hotline"]["engine"].dispose()


def _cookie_value(c: Any) -> str:
    got = c.get_cookie("session")
    assert got is not None
    return str(got.value)


def _with_cookie(app: Any, value: str) -> Any:
    c = app.test_client()
    c.set_cookie("session", value)
    return c


def test_a_cookie_copied_before_logout_stops_working(ws: Any) -> None:
    app, _ = ws
    c = app.test_client()
    assert _try(c, "sup", "secret-sup").status_code == 302
    copied = _cookie_value(c)
    assert _with_cookie(app, copied).get("/qa/calls").status_code == 200  # the copy works while logged in
    assert c.post("/qa/logout", data={"csrf_token": CSRF}).status_code == 302
    r = _with_cookie(app, copied).get("/qa/calls")
    assert r.status_code == 302 and "/qa/login" in r.headers["Location"]


def test_password_or_role_change_revokes_sessions(ws: Any) -> None:
    app, _ = ws
    c = app.test_client()
    assert _try(c, "qa2", "secret-qa2").status_code == 302
    assert c.get("/qa/calls").status_code == 200
    with transaction(_sessions(app)) as s:
        store_users.set_password(s, "qa2", "another-password", role="supervisor")
    r = c.get("/qa/calls")
    assert r.status_code == 302 and "/qa/login" in r.headers["Location"]
    assert _try(c, "qa2", "another-password").status_code == 302
    assert c.get("/qa/sampling").status_code == 200  # the new role, in a new session


def test_an_idle_cookie_expires_after_12_hours(ws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import itsdangerous.timed

    app, _ = ws
    c = app.test_client()
    assert _try(c, "qa1", "secret-qa1").status_code == 302
    real = itsdangerous.timed.TimestampSigner.get_timestamp
    monkeypatch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", lambda self: real(self) + 11 * 3600)
    assert c.get("/qa/calls").status_code == 200  # 11 h later: still valid, and refreshed
    monkeypatch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", lambda self: real(self) + 24 * 3600)
    assert c.get("/qa/calls").status_code == 302  # 13 h after that request: gone


# --------------------------------------------------------------------------- CSV injection


def test_exports_escape_formula_cells(ws: Any, as_user: Any) -> None:
    app, sd = ws
    evil = {"agent_id": '=HYPERLINK("http://evil.example","x")', "team": "@SUM(A1)", "call_sid": "-2+3"}
    cid = sd.bad_ids[1]
    with transaction(_sessions(app)) as s:
        s.execute(update(Call).where(Call.id == cid).values(menu_path=["+cmd|' /C calc'!A0"], **evil))
        s.execute(update(ScoreRow).where(ScoreRow.call_id == cid).values(customer_sentiment=-0.35))
        smp = store_sampling.save_sample(
            s, "售后一组", sd.week, 1, {}, [store_sampling.PickIn(cid, "x", "random", "=1+1", sd.users["qa1"])], None
        ).id
        s.execute(update(User).where(User.id == sd.users["qa1"]).values(name="\t=qa"))
    sup = as_user("sup")

    def summary(url: str) -> str:
        return zipfile.ZipFile(io.BytesIO(sup.get(url).data)).read("summary.csv").decode("utf-8-sig")

    tables = {
        "calls.csv": sup.get("/qa/calls.csv").get_data(as_text=True).lstrip("\ufeff"),
        "sample.csv": sup.get(f"/qa/samples/{smp}.csv").get_data(as_text=True).lstrip("\ufeff"),
        "export.zip": summary("/qa/export.zip"),
        "sample.zip": summary(f"/qa/samples/{smp}.zip"),
    }
    for name, text in tables.items():
        rows = list(csv.reader(io.StringIO(text)))
        row = next(r for r in rows if r[0] == str(cid))
        assert row[1] == "'-2+3" and row[3] == "'" + evil["agent_id"] and row[4] == "'@SUM(A1)", (name, row)
        assert row[6] == "'+cmd|' /C calc'!A0" and row[11] == "-0.35", (name, row)  # numbers stay numbers
        for r in rows:
            for cell in r:
                assert not cell.startswith(("=", "+", "@", "\t", "\r")) and (
                    not cell.startswith("-") or re.fullmatch(r"-\d+(\.\d+)?", cell)
                ), (name, cell)
    sample_row = next(r for r in csv.reader(io.StringIO(tables["sample.csv"])) if r[0] == str(cid))
    assert sample_row[-2:] == ["'=1+1", "'\t=qa"]
