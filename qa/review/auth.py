"""Login (flask-login), a per-session CSRF token and role checks for the workspace.

The session cookie holds only ``<user id>:<session version>``; the user is reloaded from the store
on every request, so a deactivated account or a changed role takes effect at once, and a cookie
whose version is behind the user's (logout, new password, new role) is refused: Flask's sessions
live in the cookie, so bumping the version is how a copied cookie is revoked.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from flask import Flask, abort, current_app, request, session
from flask_login import LoginManager, UserMixin, current_user

from store import review as repo
from store.db import transaction

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRFToken"
ROLE_LABELS = {"qa": "质检员", "supervisor": "主管", "admin": "管理员"}
SESSION_IDLE = timedelta(hours=12)  # a session cookie unused this long is refused (its signature is dated)


class WorkspaceUser(UserMixin):
    """The logged-in account as the views see it (a detached copy, no session attached)."""

    def __init__(self, uid: int, name: str, role: str, team: str, version: int = 0) -> None:
        self.id = uid
        self.name = name
        self.role = role
        self.team = team
        self.version = version

    def get_id(self) -> str:
        """What flask-login puts in the cookie (and a remember cookie): id and session version."""
        return f"{self.id}:{self.version}"

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)

    def has(self, *roles: str) -> bool:
        return self.role in roles


def sessions() -> Any:
    return current_app.extensions["hotline"]["sessions"]


def init_login(app: Flask) -> None:
    lm = LoginManager()
    lm.login_view = "review.login"
    lm.login_message = "请先登录。"
    lm.init_app(app)

    @lm.user_loader
    def load(uid: str) -> WorkspaceUser | None:
        parsed = parse_user_id(uid)
        if parsed is None:
            return None
        with transaction(sessions()) as s:
            u = repo.get_user(s, parsed[0])
            if u is None or not u.active or (u.session_version or 0) != parsed[1]:
                return None
            return from_user(u)


def from_user(u: Any) -> WorkspaceUser:
    return WorkspaceUser(u.id, u.name, u.role, u.team, u.session_version or 0)


def parse_user_id(uid: str) -> tuple[int, int] | None:
    """``"<id>:<version>"`` from the cookie, or None (an old cookie without a version, or junk)."""
    head, sep, tail = str(uid).partition(":")
    if not sep or not head.isascii() or not tail.isascii() or not head.isdigit() or not tail.isdigit():
        return None
    key, version = int(head), int(tail)
    if not 0 < key < 2**31 or version >= 2**31:
        return None
    return key, version


def configure_cookies(app: Flask, public_url: str) -> None:
    """Session (and flask-login remember) cookies: HttpOnly, SameSite=Lax, Secure behind https,
    12 hours idle (each request re-issues the cookie, so activity keeps it alive).

    Flask's default config already holds these keys (as None/False), so they are set, not defaulted.
    """
    secure = public_url.strip().lower().startswith("https://")
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        PERMANENT_SESSION_LIFETIME=SESSION_IDLE,
        SESSION_REFRESH_EACH_REQUEST=True,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_DURATION=SESSION_IDLE,
    )


def csrf_token() -> str:
    tok = session.get(CSRF_FIELD)
    if not tok:
        tok = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = tok
    return str(tok)


def check_csrf() -> None:
    """Every state-changing request carries the session's token (form field or htmx header)."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    tok = session.get(CSRF_FIELD) or ""
    if not tok or not hmac.compare_digest(str(sent), str(tok)):
        abort(400, description="CSRF 校验失败，请刷新页面后重试。")


def roles_required(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Logged in, and of one of ``roles`` (empty: any role); otherwise 401 -> login / 403."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
            if roles and current_user.role not in roles:
                abort(403)
            return fn(*args, **kwargs)

        return wrapper

    return deco
