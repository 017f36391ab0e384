"""Login and accounts: flask-login, the login throttle, a per-session CSRF token, role checks,
and the pages /qa/login, /qa/logout and (admins) /qa/users.

The session cookie holds only ``<user id>:<session version>``; the user is reloaded from the store
on every request, so a deactivated account or a changed role takes effect at once, and a cookie
whose version is behind the user's (logout, new password, new role) is refused: Flask's sessions
live in the cookie, so bumping the version is how a copied cookie is revoked.
"""

from __future__ import annotations

import hmac
import logging
import math
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Request,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user

from store import users
from store.audit import audit
from store.db import transaction
from workspace import inputs
from workspace.inputs import InputError
from workspace.web import sessions

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRFToken"
ROLE_LABELS = {"qa": "质检员", "supervisor": "主管", "admin": "管理员"}
REVIEWERS = ("qa", "admin")  # who scores calls and resolves disputes
MANAGERS = ("supervisor", "admin")  # who samples, exports and disputes on an agent's behalf
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


def init_login(app: Flask) -> None:
    lm = LoginManager()
    lm.login_view = "workspace.auth.login"
    lm.login_message = "请先登录。"
    lm.init_app(app)

    @lm.user_loader
    def load(uid: str) -> WorkspaceUser | None:
        parsed = parse_user_id(uid)
        if parsed is None:
            return None
        with transaction(sessions()) as s:
            u = users.get_user(s, parsed[0])
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


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, without building the signer for a request that has no cookie.

    Twilio's webhooks never carry one, and building the signer (key derivation included) was a
    tenth of a webhook's CPU. A request with a cookie is opened exactly as Flask does.
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not session and not session.modified:  # nothing to set or delete (Flask would return here too)
            if session.accessed:
                response.vary.add("Cookie")
            return
        super().save_session(app, session, response)


def configure_cookies(app: Flask, public_url: str) -> None:
    """Session (and flask-login remember) cookies: HttpOnly, SameSite=Lax, Secure behind https,
    12 hours idle (each request re-issues the cookie, so activity keeps it alive).

    Flask's default config already holds these keys (as None/False), so they are set, not defaulted.
    """
    secure = public_url.strip().lower().startswith("https://")
    app.session_interface = CookieSessions()
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


# --------------------------------------------------------------------------- pages


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Each attempt is counted per account name and per client address before the password is
    checked (``users.begin_login_attempt``); too many in a row answer 429 with Retry-After."""
    if request.method == "POST":
        name = request.form.get("name", "").strip()
        password = request.form.get("password", "")
        keys = users.throttle_keys(name, request.remote_addr or "")
        try:
            with transaction(sessions()) as s:
                users.begin_login_attempt(s, keys, datetime.now(UTC))
        except users.LoginThrottled as exc:
            log.warning("login throttled for %.0f s", exc.wait_s)
            return _throttled(exc.wait_s)
        with transaction(sessions()) as s:
            u = users.authenticate(s, name, password)
            if u is None:
                audit(s, None, "login_failed", "user", name[:64])
            else:
                users.login_succeeded(s, keys)
                audit(s, u.id, "login", "user", u.id)
                user = from_user(u)
        if u is None:
            flash("用户名或密码错误。", "error")
            return render_template("workspace/login.html"), 401
        session.permanent = True  # dated cookie, re-issued on each request: 12 h idle ends it
        login_user(user)
        return redirect(inputs.safe_next(request.args.get("next"), url_for("workspace.calls.calls")))
    return render_template("workspace/login.html")


def _throttled(wait_s: float) -> Any:
    wait = max(1, math.ceil(wait_s))
    shown = f"{wait} 秒" if wait < 120 else f"{math.ceil(wait / 60)} 分钟"
    flash(f"登录尝试次数过多，请 {shown}后再试；如需立即解锁，请联系管理员。", "error")
    return render_template("workspace/login.html"), 429, {"Retry-After": str(wait)}


@bp.post("/logout")
def logout() -> Any:
    """Logging out revokes every session of the user (the cookie itself cannot be recalled)."""
    if current_user.is_authenticated:
        with transaction(sessions()) as s:
            users.revoke_sessions(s, int(current_user.id))
            audit(s, int(current_user.id), "logout", "user", current_user.id)
    logout_user()
    return redirect(url_for("workspace.auth.login"))


@bp.get("/users")
@roles_required("admin")
def users_page() -> Any:
    """Accounts and the login throttle: who or which address is locked out, with an unlock button."""
    now = datetime.now(UTC)
    with transaction(sessions()) as s:
        accounts = users.all_users(s)
        throttles = users.login_throttles(s, now)
    waits = {t.key: users.login_wait_of(t, now) for t in throttles}
    return render_template("workspace/users.html", accounts=accounts, throttles=throttles, waits=waits)


@bp.post("/users/unlock")
@roles_required("admin")
def unlock() -> Any:
    key = inputs.text(request.form, "key", "解锁对象", 160)
    if not key.startswith(("user:", "addr:")):
        raise InputError("解锁对象须为账号（user:名称）或地址（addr:IP）。")
    with transaction(sessions()) as s:
        n = users.clear_login_failures(s, [key])
        audit(s, int(current_user.id), "unlock", "login", key.split(":", 1)[0], target=key, cleared=n)
    flash("已解锁。" if n else "该对象没有被限制。", "ok")
    return redirect(url_for("workspace.auth.users_page"))
