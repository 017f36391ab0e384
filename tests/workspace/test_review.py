"""A reviewer overrides items next to the automatic score, and comments at a time and turn."""

from __future__ import annotations

from typing import Any

import pytest

from store import search
from store.db import transaction

from .conftest import CSRF
from .helpers import audits, sessions_of


def test_review_override_keeps_automatic_score(ws: Any, as_user: Any) -> None:
    app, sd = ws
    cid = sd.good_ids[0]
    with transaction(sessions_of(app)) as s:
        d = search.call_detail(s, cid)
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
    with transaction(sessions_of(app)) as s:
        d = search.call_detail(s, cid)
        assert d and d.score and d.score.total == auto_total  # the automatic score is untouched
        review, name = d.reviews[-1]
        assert name == "qa1" and not review.items[key]["confirmed"]
        assert review.items[key]["auto"] == items[key]["score"] and review.items[key]["human"] == new
        assert review.total == pytest.approx(auto_total - 2, abs=0.01)
        assert any(cm.text == "整体尚可" for cm, _ in d.comments)
    html = c.get(f"/qa/calls/{cid}").get_data(as_text=True)
    assert "语气生硬" in html and 'id="human-total"' in html
    assert audits(app, "review")[0].detail["overridden"] == [key]
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
