"""The call list's store queries: the id-list and the per-row (EXISTS) search paths agree."""

from __future__ import annotations

from typing import Any

import pytest

from store import search
from store.db import transaction

from ..workspace.conftest import as_user, call_audio, ws  # noqa: F401 - fixtures: a seeded workspace
from ..workspace.helpers import sessions_of


def test_full_text_search_common_word_path_counts_right(
    ws: Any,  # noqa: F811 - the fixture imported above
    as_user: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A word in more transcripts than MAX_ID_LIST takes the per-row (EXISTS) path: same answers."""
    app, sd = ws
    filters = [
        search.CallFilter(q="订单"),
        search.CallFilter(q="订单", team="售后一组"),
        search.CallFilter(q="订单", sort="total"),
        search.CallFilter(q="订单", score_min=50),
        search.CallFilter(q="退款", flags=["angry_customer"], sort="-total"),
        search.CallFilter(q="订单", agent="A1001", per_page=2, page=2),
    ]
    with transaction(sessions_of(app)) as s:
        by_list = [search.list_calls(s, f) for f in filters]
    monkeypatch.setattr(search, "MAX_ID_LIST", 2)
    with transaction(sessions_of(app)) as s:
        by_exists = [search.list_calls(s, f) for f in filters]
    for f, a, b in zip(filters, by_list, by_exists, strict=True):
        assert (a.total, [r.id for r in a.rows]) == (b.total, [r.id for r in b.rows]), f
    good = len(sd.good_ids)
    assert [p.total for p in by_exists[:4]] == [good, good // 2, good, good]
    assert by_exists[4].total == len(sd.bad_ids) and len(by_exists[5].rows) == 2
    c = as_user("qa1")
    assert f'<b id="total">{good}</b>' in c.get("/qa/calls?q=订单").get_data(as_text=True)
