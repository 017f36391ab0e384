"""Every workspace page for every role (200 or 403, and anonymous -> login), and the 404s."""

from __future__ import annotations

from typing import Any

from store import calibration as store_calibration
from store import disputes as store_disputes
from store.db import transaction

from .helpers import make_review, make_sample, sessions_of

ROLES = ("qa1", "sup", "admin")

def _urls(app: Any, sd: Any) -> dict[str, str]:
    sid = make_sample(app, sd)
    cal_call = sd.good_ids[0]
    with transaction(sessions_of(app)) as s:
        cal = store_calibration.create_calibration(s, cal_call, [sd.users["qa1"], sd.users["qa2"]], sd.users["sup"]).id
    rid = make_review(app, sd.bad_ids[0], sd.users["qa2"])
    with transaction(sessions_of(app)) as s:
        did = store_disputes.raise_dispute(s, rid, sd.users["sup"], "客服不同意").id
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
