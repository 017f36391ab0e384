"""Login (flask-login), a per-session CSRF token and role checks for the workspace.

The session cookie holds only the user id; the user is reloaded from the store on every request,
so a deactivated account or a changed role takes effect at once.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Flask, abort, current_app, request, session
from flask_login import LoginManager, UserMixin, current_user

from store import review as repo
from store.db import transaction

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRFToken"
ROLE_LABELS = {"qa": "质检员", "supervisor": "主管", "admin": "管理员"}


class WorkspaceUser(UserMixin):
    """The logged-in account as the views see it (a detached copy, no session attached)."""

    def __init__(self, uid: int, name: str, role: str, team: str) -> None:
        self.id = uid
        self.name = name
        self.role = role
        self.team = team

    def get_id(self) -> str:
        return str(self.id)

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
        try:
            key = int(uid)
        except ValueError:
            return None
        with transaction(sessions()) as s:
            u = repo.get_user(s, key)
            if u is None or not u.active:
                return None
            return WorkspaceUser(u.id, u.name, u.role, u.team)


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
