"""Calibration: blind until one has scored, spread per item, closed by a manager."""

from __future__ import annotations

from typing import Any

import pytest

from store import calibration as store_calibration
from store import search
from store.db import transaction
from workspace import rules

from .conftest import CSRF
from .helpers import sessions_of


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
    with transaction(sessions_of(app)) as s:
        items = dict(search.call_detail(s, cid).score.items)  # type: ignore[union-attr]
    key = next(k for k, v in items.items() if v["score"] is not None and v["max"] > 0 and v["score"] >= 3)
    qa2 = as_user("qa2")
    assert qa2.post(url + "/score", data={"csrf_token": CSRF, f"item.{key}": "0"}).status_code == 302
    page = qa1.get(url).get_data(as_text=True)
    assert "提交盲评" in page and 'id="spread"' not in page  # qa1 cannot see qa2's score yet
    assert qa1.post(url + "/score", data={"csrf_token": CSRF}).status_code == 302
    page = qa1.get(url).get_data(as_text=True)
    assert 'id="spread"' in page and "qa2" in page
    with transaction(sessions_of(app)) as s:
        cal_id = int(url.rsplit("/", 1)[1])
        spread = rules.calibration_spread([r for r, _ in store_calibration.calibration_reviews(s, cal_id)])
    assert spread["items"][key]["range"] == pytest.approx(items[key]["score"])
    admin = as_user("admin")
    assert admin.post(url + "/score", data={"csrf_token": CSRF}).status_code == 403  # not a participant
    assert qa1.post(url + "/close", data={"csrf_token": CSRF}).status_code == 403
    assert sup.post(url + "/close", data={"csrf_token": CSRF}).status_code == 302
