"""A dispute is raised by a supervisor, resolved by another reviewer, and keeps both versions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from store import search
from store.db import transaction
from store.models_review import Dispute, Review

from .conftest import CSRF
from .helpers import make_review, sessions_of


def test_dispute_flow_keeps_both_versions(ws: Any, as_user: Any) -> None:
    app, sd = ws
    cid = sd.bad_ids[0]
    with transaction(sessions_of(app)) as s:
        items = dict(search.call_detail(s, cid).score.items)  # type: ignore[union-attr]
    key = next(k for k, v in items.items() if v["score"] is not None and v["max"] > 0)
    rid = make_review(app, cid, sd.users["qa1"])
    qa = as_user("qa1")
    assert qa.post(f"/qa/reviews/{rid}/dispute", data={"csrf_token": CSRF, "reason": "x"}).status_code == 403
    sup = as_user("sup")
    r = sup.post(f"/qa/reviews/{rid}/dispute", data={"csrf_token": CSRF, "reason": "客户先骂人，客服已道歉"})
    assert r.status_code == 302
    with transaction(sessions_of(app)) as s:
        d = s.scalars(select(Dispute)).one()
        orig_total = d.original_total
    url = f"/qa/disputes/{d.id}"
    # the original reviewer and the supervisor cannot resolve
    r = qa.post(url + "/resolve", data={"csrf_token": CSRF, "decision": "revise", "resolution": "x"})
    assert r.status_code == 302
    with transaction(sessions_of(app)) as s:
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
    with transaction(sessions_of(app)) as s:
        d2 = s.get(Dispute, d.id)
        rv = s.get(Review, rid)
        assert d2 and rv and d2.status == "revised" and d2.resolution == "同意加分"
        assert d2.original_items[key]["human"] == items[key]["score"]  # original version kept
        assert d2.resolved_items and d2.resolved_items[key]["human"] == new
        assert rv.items[key]["human"] == new and rv.status == "revised"
        assert d2.resolved_total is not None and d2.resolved_total >= orig_total
    html = as_user("admin").get("/qa/disputes?status=all").get_data(as_text=True)
    assert "已改判" in html
