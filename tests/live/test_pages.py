"""The supervisors' live board and call page (workspace, server-sent events), the agent's signed
assist page with its knowledge snippets, and the signed events API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hotline.settings import Settings
from live.web import assist_link
from speech.testing import Said
from store.db import transaction
from store.users import create_user
from tests.live.conftest import PerTrackEngine
from tests.live.test_board import play
from tests.workspace.conftest import login

DOC = """退款进度查询：退货完成后，用户若长时间未收到退款，可通过人工客服查询退款审核进度及到账时间。
配送问题：快递长时间未送达时，客服可以帮您查询物流轨迹，联系配送站点催促派送，并告知预计送达时间。
"""


@pytest.fixture
def app(settings: Settings, tmp_path: Path) -> Iterator[Any]:
    from hotline.app import create_app

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "service.txt").write_text(DOC, encoding="utf-8")
    application = create_app(settings.with_(live_calls=True, knowledge_dir=docs, live_max_viewers=2))
    application.config["TESTING"] = True
    with transaction(application.extensions["hotline"]["sessions"]) as s:
        create_user(s, "sup", "supervisor", "secret-sup")
        create_user(s, "qa1", "qa", "secret-qa1")
    board = application.extensions["hotline"]["live"]
    board.engine = lambda: PerTrackEngine([Said("我的 快递 一直 没 送到", 0.5, 2.0)], [Said("您好 请 稍等", 2.5, 3.5)])
    yield application
    application.extensions["hotline"]["engine"].dispose()


def client_as(app: Any, name: str) -> Any:
    c = app.test_client()
    assert login(c, name).status_code == 302
    return c


def live_call(app: Any, sid: str = "CA" + "3" * 32) -> str:
    board = app.extensions["hotline"]["live"]
    call = board.open(sid, {"agent": "alice", "team": "售后", "topic": "logistics"})
    play(call, 4.0)
    return sid


def test_the_board_lists_live_calls_for_supervisors_only(app: Any) -> None:
    sid = live_call(app)
    sup = client_as(app, "sup")
    page = sup.get("/qa/live")
    assert page.status_code == 200 and "实时监听" in page.get_data(as_text=True)
    assert sid[-8:] in page.get_data(as_text=True)
    assert "物流配送" in page.get_data(as_text=True)  # the menu's name for the caller's request
    detail = sup.get(f"/qa/live/{sid}").get_data(as_text=True)
    assert "我的快递一直没送到" in detail and "/live/assist/" + sid in detail
    assert client_as(app, "qa1").get("/qa/live").status_code == 403
    assert app.test_client().get("/qa/live/events").status_code in (302, 401)
    assert sup.get("/qa/live/CA" + "9" * 32).status_code == 404
    assert sup.get("/qa/live/bad-id!").status_code == 404


def test_board_events_are_pushed_as_server_sent_events(app: Any) -> None:
    sup = client_as(app, "sup")
    resp = sup.get("/qa/live/events", buffered=False)
    assert resp.status_code == 200 and resp.mimetype == "text/event-stream"
    chunk = next(iter(resp.response))
    assert "event: snapshot" in (chunk.decode() if isinstance(chunk, bytes) else chunk)
    resp.close()
    # the cap: two open streams, the third is refused (each holds a server thread)
    a = sup.get("/qa/live/events", buffered=False)
    b = sup.get("/qa/live/events", buffered=False)
    next(iter(a.response)), next(iter(b.response))
    assert sup.get("/qa/live/events").status_code == 503
    a.close()
    b.close()


def test_the_agent_assist_page_needs_its_signed_link_and_shows_help(app: Any) -> None:
    sid = live_call(app)
    secret = app.config["SECRET_KEY"]
    link = assist_link(secret, sid)
    page = app.test_client().get(link)
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "我的快递一直没送到" in text  # the transcript so far
    assert "身份/订单核实" in text  # the verification the agent still owes (order topic raised)
    assert "联系配送站点" in text  # a knowledge snippet for the customer's request
    assert app.test_client().get(link.replace("sig=", "sig=0")).status_code == 403
    assert app.test_client().get(assist_link(secret, sid, now=0)).status_code == 403  # expired
    assert app.test_client().get(assist_link("other-secret", sid)).status_code == 403


def test_the_events_api_is_signed_with_the_twilio_token(app: Any) -> None:
    from twilio.request_validator import RequestValidator

    sid = live_call(app)
    app.extensions["hotline"]["live"].calls[sid].listener.end("stop")
    path = f"/live/calls/{sid}/events"
    sig = RequestValidator("test-token").compute_signature("http://localhost" + path, {})
    ok = app.test_client().get(path, headers={"X-Twilio-Signature": sig})
    assert ok.status_code == 200 and ok.json["status"] == "ended"
    kinds = [e["type"] for e in ok.json["events"]]
    assert "turn" in kinds and kinds[-1] == "end"
    assert app.test_client().get(path, headers={"X-Twilio-Signature": "x"}).status_code == 403
    bad = path + "?after=x"
    bad_sig = RequestValidator("test-token").compute_signature("http://localhost" + bad, {})
    assert app.test_client().get(bad, headers={"X-Twilio-Signature": bad_sig}).status_code == 400
