"""The call list (filters, sort, pages by URL), the call page and the recording with ranges."""

from __future__ import annotations

from typing import Any

from store import search
from store.db import transaction

from .helpers import audits, sessions_of


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
    with transaction(sessions_of(app)) as s:
        page1 = search.list_calls(s, search.CallFilter(sort="total", per_page=3))
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
    assert audits(app, "view")


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
    listens = audits(app, "listen")
    assert len(listens) == 1 and listens[0].object_id == str(sd.good_ids[0])  # mid-file seeks are not listens
    assert as_user("qa2").get(url).status_code == 200
    assert [a.user_id for a in audits(app, "listen")] == [sd.users["qa1"], sd.users["qa2"]]
    assert c.get(f"/qa/calls/{sd.unscored_id}/audio").status_code == 404


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
    with transaction(sessions_of(app)) as s:
        rows = {r.id: r for r in search.load_rows(s, sd.call_ids)}
    order = _ids_in_order(c.get("/qa/calls?sort=-duration").get_data(as_text=True))
    assert rows[order[0]].duration_s == max(r.duration_s or 0 for r in rows.values())
    order = _ids_in_order(c.get("/qa/calls?sort=-agent").get_data(as_text=True))
    assert rows[order[0]].agent_id == "A2002"
    newest = _ids_in_order(c.get("/qa/calls?sort=evil;drop").get_data(as_text=True))
    assert newest == _ids_in_order(c.get("/qa/calls").get_data(as_text=True))


def test_call_page_shows_review_marks_with_their_audio_time(ws: Any, as_user: Any) -> None:
    """An item decided on words the recognizer was unsure of (qa.uncertain) shows 待人工确认 with the
    stretch of audio to listen to; broken stored marks do not break the page."""
    from sqlalchemy import select

    from store.models_pipeline import ScoreRow

    app, sd = ws
    cid = sd.good_ids[0]
    with transaction(sessions_of(app)) as s:
        row = s.scalars(select(ScoreRow).where(ScoreRow.call_id == cid)).one()
        items = dict(row.items)
        key = next(iter(items))
        marks = [
            {"reason": "sound_match", "turn": 0, "time": 62.4, "end": 64.0, "phrase": "您好", "conf": 0.31},
            {"reason": "??", "time": float("nan"), "phrase": 5},
            "junk",
        ]
        items[key] = {**items[key], "review": {"label": "待人工确认", "marks": marks}}
        row.items = items
        row.flags = [*row.flags, "needs_review"]
    html = as_user("qa1").get(f"/qa/calls/{cid}").get_data(as_text=True)
    row_html = html.split(f'id="item-{key}"', 1)[1].split("</tr>", 1)[0]
    assert "needs-review" in row_html.split(">", 1)[0]  # the row's class
    assert 'class="tag needs_review">待人工确认' in row_html
    assert 'data-time="62.4">待确认 1:02–1:04 「您好」' in row_html
    assert "按读音匹配（把握 31%）" in row_html
    assert 'data-time="">待确认 —' in row_html  # the broken mark: no time, a generic reason
    assert html.count("needs-review") == 1  # only that item
    # the list's 待人工确认 filter finds the call (the checkbox was there, the filter dropped it)
    listed = as_user("qa1").get("/qa/calls?flag=needs_review").get_data(as_text=True)
    assert '<b id="total">1</b>' in listed and _ids_in_order(listed) == [cid]


def test_next_page_link_goes_by_key_and_bad_cursors_are_400(ws: Any, as_user: Any) -> None:
    import html as htmllib
    import re

    c = as_user("qa1")
    first = c.get("/qa/calls?per_page=10").get_data(as_text=True)
    nxt = re.search(r'href="([^"]*after=[^"]*)">下一页', first)
    assert nxt is not None
    second = c.get(htmllib.unescape(nxt.group(1)))
    assert second.status_code == 200
    ids = lambda page: re.findall(r"/qa/calls/(\d+)\"", page)  # noqa: E731
    assert ids(second.get_data(as_text=True)) and not set(ids(first)) & set(ids(second.get_data(as_text=True)))
    for bad in ("x", "2026-13-01~1", "2026-01-01~0", "~5", "nan~3"):
        assert c.get(f"/qa/calls?after={bad}").status_code == 400, bad
    assert c.get("/qa/calls?sort=total&after=nan~3").status_code == 400
