"""Login, logout, where a login leads, and the CSRF token on every state-changing request."""

from __future__ import annotations

from typing import Any

from .conftest import CSRF, login
from .helpers import audits


def test_login_logout_and_bad_password(ws: Any) -> None:
    app, _ = ws
    c = app.test_client()
    assert c.get("/qa/login").status_code == 200
    r = login(c, "qa1", "wrong-password")
    assert r.status_code == 401 and "用户名或密码错误" in r.get_data(as_text=True)
    assert audits(app, "login_failed")
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
