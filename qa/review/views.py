"""The QA workspace's pages under /qa: calls list, call page with player and review form,
disputes, calibration, sampling, exports, trends, audit log.

Roles: qa (质检员) reviews and comments; supervisor (主管) samples, exports and disputes on an
agent's behalf; admin (管理员) may do everything and reads the audit log. Every page needs a
login; recordings and transcripts are audited when opened.
"""

from __future__ import annotations

import logging
import math
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user

from qa.review import exports, inputs, present
from qa.review.auth import check_csrf, csrf_token, from_user, roles_required, sessions
from qa.review.inputs import InputError
from qa.review.sampling_run import (
    REASON_LABELS,
    build_policy,
    current_week,
    default_policy_data,
    default_week,
    run_sample,
    team_policy_data,
)
from qa.sampling import PolicyError
from store import review as repo
from store.db import transaction
from store.models import Call
from store.models_review import CalibrationSession, Dispute, Review, Sample

log = logging.getLogger(__name__)
bp = Blueprint("review", __name__, url_prefix="/qa", template_folder="templates", static_folder="static")

REVIEWERS = ("qa", "admin")
LISTEN_WINDOW = timedelta(minutes=10)  # a user's listens to one call within this are logged once
MANAGERS = ("supervisor", "admin")


def settings() -> Any:
    return current_app.extensions["hotline"]["settings"]


def tz() -> str:
    return str(getattr(settings(), "timezone", "Asia/Shanghai"))


@bp.before_request
def _before() -> None:
    g.t0 = time.perf_counter()
    if inputs.has_nul([*request.args.values(), *request.form.values(), *request.form.keys()]):
        abort(400, description="请求中含有无效字符（NUL）。")
    check_csrf()
    # ids in the path beyond the integer columns cannot exist (and would overflow the driver)
    if any(isinstance(v, int) and not 0 < v <= inputs.MAX_ID for v in (request.view_args or {}).values()):
        abort(404)


@bp.after_request
def _after(resp: Response) -> Response:
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("X-Frame-Options", "DENY")
    resp.headers.setdefault("Referrer-Policy", "same-origin")
    if request.endpoint != "review.static":
        resp.headers.setdefault("Cache-Control", "no-store")
        resp.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - g.get('t0', time.perf_counter())) * 1000:.1f}"
    return resp


@bp.app_context_processor
def _ctx() -> dict[str, Any]:
    return {
        "csrf_token": csrf_token,
        "FLAG_LABELS": present.FLAG_LABELS,
        "OUTCOME_LABELS": present.OUTCOME_LABELS,
        "SENTIMENT_LABELS": present.SENTIMENT_LABELS,
        "SPEAKER_LABELS": present.SPEAKER_LABELS,
        "REASON_LABELS": REASON_LABELS,
        "mmss": present.fmt_time,
        "num": present.fmt_num,
        "gnum": present.fmt_g,
        "finite": present.shown,
        "json_safe": present.json_safe,
        "localtime": lambda dt: present.local_time(dt, tz()),
        "band": present.sentiment_band,
        "note_label": present.note_label,
        "phrase_label": present.phrase_label,
        "is_miss": present.is_miss,
    }


# --------------------------------------------------------------------------- login


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Each attempt is counted per account name and per client address before the password is
    checked (``repo.begin_login_attempt``); too many in a row answer 429 with Retry-After."""
    if request.method == "POST":
        name = request.form.get("name", "").strip()
        password = request.form.get("password", "")
        keys = repo.throttle_keys(name, request.remote_addr or "")
        try:
            with transaction(sessions()) as s:
                repo.begin_login_attempt(s, keys, datetime.now(UTC))
        except repo.LoginThrottled as exc:
            log.warning("login throttled for %.0f s", exc.wait_s)
            return _throttled(exc.wait_s)
        with transaction(sessions()) as s:
            u = repo.authenticate(s, name, password)
            if u is None:
                repo.audit(s, None, "login_failed", "user", name[:64])
            else:
                repo.login_succeeded(s, keys)
                repo.audit(s, u.id, "login", "user", u.id)
                user = from_user(u)
        if u is None:
            flash("用户名或密码错误。", "error")
            return render_template("review/login.html"), 401
        session.permanent = True  # dated cookie, re-issued on each request: 12 h idle ends it
        login_user(user)
        return redirect(inputs.safe_next(request.args.get("next"), url_for("review.calls")))
    return render_template("review/login.html")


def _throttled(wait_s: float) -> Any:
    wait = max(1, math.ceil(wait_s))
    shown = f"{wait} 秒" if wait < 120 else f"{math.ceil(wait / 60)} 分钟"
    flash(f"登录尝试次数过多，请 {shown}后再试；如需立即解锁，请联系管理员。", "error")
    return render_template("review/login.html"), 429, {"Retry-After": str(wait)}


@bp.post("/logout")
def logout() -> Any:
    """Logging out revokes every session of the user (the cookie itself cannot be recalled)."""
    if current_user.is_authenticated:
        with transaction(sessions()) as s:
            repo.revoke_sessions(s, int(current_user.id))
            repo.audit(s, int(current_user.id), "logout", "user", current_user.id)
    logout_user()
    return redirect(url_for("review.login"))


@bp.get("/")
@roles_required()
def home() -> Any:
    if current_user.role == "qa":
        return redirect(url_for("review.my_picks"))
    return redirect(url_for("review.calls"))


# --------------------------------------------------------------------------- calls list


def _local_day(args: Any, key: str, label: str) -> datetime | None:
    d = inputs.day(args, key, label)
    return None if d is None else datetime(d.year, d.month, d.day, tzinfo=ZoneInfo(tz()))


MAX_PAGE = 100_000


def parse_filter(args: Any) -> repo.CallFilter:
    """Query string -> CallFilter; dates are local days (end inclusive). Bad numbers or dates
    raise InputError (400), they are not silently dropped."""
    end = _local_day(args, "to", "结束日期")
    reviewed = {"yes": True, "no": False}.get(args.get("reviewed", ""))
    page = inputs.whole(args, "page", "页码", 1, MAX_PAGE) or 1
    per_page = min(200, max(10, inputs.whole(args, "per_page", "每页条数", 1, 10_000) or 50))
    return repo.CallFilter(
        start=_local_day(args, "from", "开始日期"),
        end=end + timedelta(days=1) if end else None,
        agent=args.get("agent", "").strip(),
        team=args.get("team", "").strip(),
        menu=args.get("menu", "").strip(),
        outcome=args.get("outcome", "").strip(),
        score_min=inputs.number(args, "score_min", "最低分", 0, 100),
        score_max=inputs.number(args, "score_max", "最高分", 0, 100),
        sentiment=args.get("sentiment", ""),
        flags=[f for f in args.getlist("flag") if f in repo.FLAGS],
        q=args.get("q", "").strip()[:100],
        reviewed=reviewed,
        sort=args.get("sort", "-started_at") if args.get("sort", "").lstrip("-") in repo.SORTS else "-started_at",
        page=page,
        per_page=per_page,
    )


@bp.get("/calls")
@roles_required()
def calls() -> Any:
    f = parse_filter(request.args)
    with transaction(sessions()) as s:
        page = repo.list_calls(s, f)
        choices = {k: _choices(s, k) for k in ("agent", "team", "outcome")}
    args = request.args.to_dict(flat=False)

    def url_with(**changes: Any) -> str:
        a = {k: list(v) for k, v in args.items()}
        for k, v in changes.items():
            a[k] = [str(v)]
        return url_for("review.calls") + "?" + "&".join(f"{k}={_q(x)}" for k, vs in a.items() for x in vs if x != "")

    return render_template("review/calls.html", page=page, f=f, choices=choices, url_with=url_with, args=request.args)


_CHOICES: dict[tuple[int, str], tuple[float, list[str]]] = {}
CHOICES_TTL_S = 120.0


def _choices(s: Any, column: str) -> list[str]:
    """Drop-down values (agents, teams, outcomes), cached briefly: they change rarely, cost a scan."""
    key = (id(current_app._get_current_object()), column)  # type: ignore[attr-defined]
    hit = _CHOICES.get(key)
    now = time.monotonic()
    if hit is None or now - hit[0] > CHOICES_TTL_S:
        hit = (now, repo.distinct_values(s, column))
        _CHOICES[key] = hit
    return hit[1]


def _q(v: str) -> str:
    from urllib.parse import quote

    return quote(str(v), safe="")


@bp.get("/calls.csv")
@roles_required(*MANAGERS)
def calls_csv() -> Any:
    f = parse_filter(request.args)
    zone = tz()
    with transaction(sessions()) as s:
        n = repo.list_calls(s, f).total
        repo.audit(
            s, int(current_user.id), "export", "calls_csv", "", rows=n, query=request.query_string.decode()[:500]
        )

    factory = sessions()

    def gen() -> Any:  # runs after the view returns: no request context needed
        with transaction(factory) as s:
            yield from exports.csv_lines(repo.iter_calls(s, f), zone)

    stamp = datetime.now().strftime("%Y%m%d-%H%M")
    return Response(
        gen(),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename=calls-{stamp}.csv"},
    )


@bp.get("/export.zip")
@roles_required(*MANAGERS)
def export_zip() -> Any:
    """The filtered list (at most 500 calls) as recordings, transcripts, scorecards and summary.csv."""
    f = parse_filter(request.args)
    with transaction(sessions()) as s:
        ids = [r.id for r in repo.iter_calls(s, f, limit=exports.MAX_ZIP_CALLS)]
        fh, n_audio = exports.build_zip(s, ids, Path(settings().data_dir), tz())
        repo.audit(s, int(current_user.id), "export", "calls_zip", "", calls=len(ids), recordings=n_audio)
    return send_file(fh, mimetype="application/zip", as_attachment=True, download_name="calls-export.zip")


# --------------------------------------------------------------------------- one call


@bp.get("/calls/<int:call_id>")
@roles_required()
def call_page(call_id: int) -> Any:
    with transaction(sessions()) as s:
        d = repo.call_detail(s, call_id)
        if d is None:
            abort(404)
        repo.audit(s, int(current_user.id), "view", "call", call_id)
        events = [
            {"kind": e.kind, "node": e.node, "at": e.at, "detail": e.detail}
            for e in d.call.events
            if e.kind in ("node", "dtmf", "speech", "transfer", "survey")
        ]
        reviewers = repo.list_users(s, roles=["qa", "admin"])
        users = {u.id: u.name for u in repo.list_users(s)}
    items = present.clean_items(d.score.items) if d.score else {}
    details = dict(d.score.details or {}) if d.score else {}
    lines = present.transcript_lines(d.transcript.data if d.transcript else None, items, details)
    caller_ch = int(getattr(settings(), "caller_channel", 0))
    return render_template(
        "review/call.html",
        d=d,
        items=items,
        details=details,
        lines=lines,
        events=events,
        series=present.sentiment_series(details),
        metrics=present.metrics_rows(details),
        channel_labels=["客户", "客服"] if caller_ch == 0 else ["客服", "客户"],
        reviewers=reviewers,
        users=users,
        can_review=current_user.role in REVIEWERS,
        can_dispute=current_user.role in MANAGERS,
    )


@bp.get("/calls/<int:call_id>/audio")
@roles_required()
def audio(call_id: int) -> Any:
    """The recording with HTTP range support (seeking). A listen is audited when the file is read
    from its start (the player's and the waveform's requests), once per user and call in 10 min."""
    data_dir = Path(settings().data_dir).resolve()
    with transaction(sessions()) as s:
        rec = repo.recording_for(s, call_id)
        if rec is None:
            abort(404)
        path = (data_dir / rec.audio_path).resolve()
        if data_dir not in path.parents or not path.is_file():
            abort(404)
        rng = request.headers.get("Range", "")
        me = int(current_user.id)
        since = datetime.now(ZoneInfo("UTC")) - LISTEN_WINDOW
        if (not rng or rng.startswith("bytes=0-")) and not repo.audited_since(s, me, "listen", "call", call_id, since):
            repo.audit(s, me, "listen", "call", call_id, recording=rec.id)
    mime = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".flac": "audio/flac"}.get(
        path.suffix.lower(), "application/octet-stream"
    )
    resp = send_file(path, mimetype=mime, conditional=True, max_age=0)
    resp.headers["Accept-Ranges"] = "bytes"
    return resp


def _human_scores(form: Any, prefix: str = "item.") -> tuple[dict[str, float | None], dict[str, str]]:
    """Overrides per item; empty confirms the automatic score. Anything that is not a number
    becomes NaN here, which ``repo.merge_items`` refuses with the item's name (it knows the names)."""
    human: dict[str, float | None] = {}
    notes: dict[str, str] = {}
    for k, v in form.items():
        if k.startswith(prefix):
            raw = v.strip()
            try:
                human[k[len(prefix) :]] = float(raw) if raw else None
            except ValueError:
                human[k[len(prefix) :]] = math.nan
        elif k.startswith("note."):
            notes[k[5:]] = v.strip()[:500]
    return human, notes


@bp.post("/calls/<int:call_id>/review")
@roles_required(*REVIEWERS)
def submit_review(call_id: int) -> Any:
    human, notes = _human_scores(request.form)
    with transaction(sessions()) as s:
        try:
            r = repo.submit_review(
                s,
                call_id,
                int(current_user.id),
                human,
                notes,
                request.form.get("comment", "").strip()[:2000],
                auto_fail=request.form.get("auto_fail") == "on",
            )
        except repo.ScoreInputError as exc:
            raise InputError(str(exc)) from None
        except repo.ReviewError as exc:
            flash(str(exc), "error")
            return redirect(url_for("review.call_page", call_id=call_id))
        changed = [k for k, v in r.items.items() if not v["confirmed"]]
        repo.audit(s, int(current_user.id), "review", "call", call_id, review=r.id, overridden=changed, total=r.total)
    flash(f"已提交复核：人工总分 {r.total:.1f}（修改 {len(changed)} 项）。", "ok")
    return redirect(url_for("review.call_page", call_id=call_id) + "#review")


@bp.post("/calls/<int:call_id>/comments")
@roles_required()
def add_comment(call_id: int) -> Any:
    at_s = inputs.number(request.form, "at", "时间点（秒）", 0, repo.MAX_COMMENT_AT_S)
    turn = inputs.whole(request.form, "turn", "句子序号", 0, repo.MAX_TURN - 1)
    with transaction(sessions()) as s:
        if s.get(Call, call_id) is None:
            abort(404)
        try:
            c = repo.add_comment(s, call_id, int(current_user.id), request.form.get("text", ""), at_s=at_s, turn=turn)
        except repo.ReviewError as exc:
            flash(str(exc), "error")
            return redirect(url_for("review.call_page", call_id=call_id))
        repo.audit(s, int(current_user.id), "comment", "call", call_id, comment=c.id)
    return redirect(url_for("review.call_page", call_id=call_id) + "#comments")


# --------------------------------------------------------------------------- disputes


@bp.post("/reviews/<int:review_id>/dispute")
@roles_required(*MANAGERS)
def raise_dispute(review_id: int) -> Any:
    with transaction(sessions()) as s:
        r = s.get(Review, review_id)
        if r is None:
            abort(404)
        call_id = r.call_id
        try:
            d = repo.raise_dispute(s, review_id, int(current_user.id), request.form.get("reason", ""))
        except repo.ReviewError as exc:
            flash(str(exc), "error")
            return redirect(url_for("review.call_page", call_id=call_id))
        repo.audit(s, int(current_user.id), "dispute", "review", review_id, dispute=d.id)
        did = d.id
    flash("已代客服提出申诉。", "ok")
    return redirect(url_for("review.dispute_page", dispute_id=did))


@bp.get("/disputes")
@roles_required()
def disputes() -> Any:
    status = request.args.get("status", "open")
    with transaction(sessions()) as s:
        rows = repo.list_disputes(s, None if status == "all" else status)
        users = {u.id: u.name for u in repo.list_users(s)}
    return render_template("review/disputes.html", rows=rows, users=users, status=status)


@bp.get("/disputes/<int:dispute_id>")
@roles_required()
def dispute_page(dispute_id: int) -> Any:
    with transaction(sessions()) as s:
        d = s.get(Dispute, dispute_id)
        if d is None:
            abort(404)
        review = s.get(Review, d.review_id)
        assert review is not None
        users = {u.id: u.name for u in repo.list_users(s)}
    me = int(current_user.id)
    can_resolve = d.status == "open" and (
        current_user.role == "admin" or (current_user.role == "qa" and me not in (review.reviewer_id, d.raised_by))
    )
    return render_template("review/dispute.html", d=d, review=review, users=users, can_resolve=can_resolve)


@bp.post("/disputes/<int:dispute_id>/resolve")
@roles_required(*REVIEWERS)
def resolve_dispute(dispute_id: int) -> Any:
    human, _ = _human_scores(request.form)
    uphold = request.form.get("decision") == "uphold"
    with transaction(sessions()) as s:
        me = repo.get_user(s, int(current_user.id))
        assert me is not None
        try:
            d = repo.resolve_dispute(s, dispute_id, me, None if uphold else human, request.form.get("resolution", ""))
        except repo.ScoreInputError as exc:
            raise InputError(str(exc)) from None
        except repo.ReviewError as exc:
            flash(str(exc), "error")
            return redirect(url_for("review.dispute_page", dispute_id=dispute_id))
        repo.audit(s, me.id, "resolve", "dispute", dispute_id, status=d.status, total=d.resolved_total)
    flash("申诉已处理，原评分与新评分均已保留。", "ok")
    return redirect(url_for("review.dispute_page", dispute_id=dispute_id))


# --------------------------------------------------------------------------- calibration


@bp.get("/calibration")
@roles_required()
def calibrations() -> Any:
    with transaction(sessions()) as s:
        rows = repo.list_calibrations(s)
        counts = {c.id: len(repo.calibration_reviews(s, c.id)) for c in rows}
        reviewers = repo.list_users(s, roles=["qa", "admin", "supervisor"])
    return render_template("review/calibrations.html", rows=rows, counts=counts, reviewers=reviewers)


@bp.post("/calibration")
@roles_required(*MANAGERS)
def create_calibration() -> Any:
    call_id = inputs.whole(request.form, "call_id", "通话ID", 1, inputs.MAX_ID)
    if call_id is None:
        flash("请填写通话ID。", "error")
        return redirect(url_for("review.calibrations"))
    ids = [inputs.whole({"r": x}, "r", "评分人", 1, inputs.MAX_ID) for x in request.form.getlist("reviewer")]
    with transaction(sessions()) as s:
        try:
            cal = repo.create_calibration(
                s, call_id, [i for i in ids if i is not None], int(current_user.id), request.form.get("title", "")[:128]
            )
        except repo.ReviewError as exc:
            flash(str(exc), "error")
            return redirect(url_for("review.calibrations"))
        repo.audit(s, int(current_user.id), "calibration", "call", call_id, session=cal.id, reviewers=ids)
        cid = cal.id
    return redirect(url_for("review.calibration_page", cal_id=cid))


@bp.get("/calibration/<int:cal_id>")
@roles_required()
def calibration_page(cal_id: int) -> Any:
    me = int(current_user.id)
    with transaction(sessions()) as s:
        cal = s.get(CalibrationSession, cal_id)
        if cal is None:
            abort(404)
        d = repo.call_detail(s, cal.call_id)
        reviews = repo.calibration_reviews(s, cal_id)
        users = {u.id: u.name for u in repo.list_users(s)}
    mine = next((r for r, _ in reviews if r.reviewer_id == me), None)
    participant = me in (cal.reviewer_ids or [])
    # blind: a participant sees the others only after scoring; managers always see the spread
    show_spread = current_user.role in MANAGERS or mine is not None or cal.status == "closed"
    if not participant and current_user.role not in MANAGERS:
        abort(403)
    spread = repo.calibration_spread([r for r, _ in reviews]) if show_spread else None
    return render_template(
        "review/calibration.html",
        cal=cal,
        d=d,
        items=present.clean_items(d.score.items) if d and d.score else {},
        reviews=reviews if show_spread else [],
        n_reviews=len(reviews),
        spread=spread,
        mine=mine,
        participant=participant,
        users=users,
    )


@bp.post("/calibration/<int:cal_id>/score")
@roles_required()
def calibration_score(cal_id: int) -> Any:
    human, notes = _human_scores(request.form)
    with transaction(sessions()) as s:
        cal = s.get(CalibrationSession, cal_id)
        if cal is None:
            abort(404)
        if int(current_user.id) not in (cal.reviewer_ids or []):
            abort(403)
        try:
            r = repo.submit_review(
                s,
                cal.call_id,
                int(current_user.id),
                human,
                notes,
                request.form.get("comment", "")[:2000],
                auto_fail=request.form.get("auto_fail") == "on",
                kind="calibration",
                calibration_id=cal_id,
            )
        except repo.ScoreInputError as exc:
            raise InputError(str(exc)) from None
        except repo.ReviewError as exc:
            flash(str(exc), "error")
            return redirect(url_for("review.calibration_page", cal_id=cal_id))
        repo.audit(s, int(current_user.id), "calibration_score", "calibration", cal_id, review=r.id)
    return redirect(url_for("review.calibration_page", cal_id=cal_id))


@bp.post("/calibration/<int:cal_id>/close")
@roles_required(*MANAGERS)
def calibration_close(cal_id: int) -> Any:
    with transaction(sessions()) as s:
        cal = s.get(CalibrationSession, cal_id)
        if cal is None:
            abort(404)
        cal.status = "closed"
        repo.audit(s, int(current_user.id), "calibration_close", "calibration", cal_id)
    return redirect(url_for("review.calibration_page", cal_id=cal_id))


# --------------------------------------------------------------------------- sampling


# sampling form field -> (label, upper bound); every one is a finite number >= 0
POLICY_FIELDS: dict[str, tuple[str, float]] = {
    "per_agent": ("每位客服随机抽检条数", 1000),
    "max_targeted": ("定向抽检上限", 1000),
    "min_duration_s": ("最短时长（秒）", 86400),
    "lowest_n": ("最低分条数", 1000),
    "lowest_below": ("最低分阈值", 100),
    "negative_below": ("负面情绪阈值", 1),
}
WHOLE_POLICY_FIELDS = ("per_agent", "max_targeted", "lowest_n")


def _policy_form(form: Any) -> dict[str, Any]:
    def num(key: str, default: float) -> float:
        label, hi = POLICY_FIELDS[key]
        if key in WHOLE_POLICY_FIELDS:
            v: float | None = inputs.whole(form, key, label, 0, int(hi))
        else:
            v = inputs.number(form, key, label, 0, hi)
        return default if v is None else v

    targeted: list[dict[str, Any]] = []
    if form.get("t_auto_fail"):
        targeted.append({"reason": "auto_fail", "flag": "auto_fail"})
    if form.get("t_angry"):
        targeted.append({"reason": "angry_customer", "flag": "angry_customer"})
    if form.get("t_forbidden"):
        targeted.append({"reason": "forbidden_phrase", "flag": "forbidden_phrase"})
    if form.get("t_lowest"):
        targeted.append(
            {
                "reason": "lowest_score",
                "lowest_per_agent_week": int(num("lowest_n", 1)),
                "total_below": num("lowest_below", 70),
            }
        )
    if form.get("t_negative"):
        targeted.append({"reason": "negative_sentiment", "sentiment_below": -abs(num("negative_below", 0.5))})
    if form.get("t_silence"):
        targeted.append({"reason": "long_silence", "flag": "long_silence"})
    return {
        "random_per_agent_week": int(num("per_agent", 3)),
        "min_duration_s": num("min_duration_s", 60),
        "require_recording": bool(form.get("require_recording")),
        "skip_reviewed": bool(form.get("skip_reviewed")),
        "max_targeted_per_agent_week": int(num("max_targeted", 5)),
        "complaints": bool(form.get("t_complaint")),
        "targeted": targeted,
    }


@bp.get("/sampling")
@roles_required(*MANAGERS)
def sampling() -> Any:
    with transaction(sessions()) as s:
        teams = repo.distinct_values(s, "team")
        team = (
            request.args.get("team")
            or (current_user.team if current_user.team in teams else "")
            or (teams[0] if teams else "")
        )
        policy = team_policy_data(s, team)
        try:
            build_policy(policy)
        except PolicyError:  # saved before its numbers were checked: show (and run) the defaults
            log.warning("sampling policy of a team is invalid; showing the defaults")
            flash("本组保存的抽检策略无效，下面显示默认策略，请检查后重新保存。", "error")
            policy = default_policy_data()
        samples = repo.list_samples(s)
        reviewers = repo.list_users(s, roles=["qa"])
        this_week = current_week(tz())
        proposed = default_week(tz(), repo.latest_call_start(s, team))
    reasons = {t.get("reason") for t in policy.get("targeted") or []}
    return render_template(
        "review/sampling.html",
        teams=teams,
        team=team,
        policy=policy,
        reasons=reasons,
        samples=samples,
        reviewers=reviewers,
        week=request.args.get("week") or proposed,
        this_week=this_week,
        week_note=not request.args.get("week") and proposed != this_week,
        seed=request.args.get("seed") or datetime.now().strftime("%Y%m%d"),
    )


@bp.post("/sampling/policy")
@roles_required(*MANAGERS)
def save_policy() -> Any:
    team = inputs.text(request.form, "team", "班组", 64)
    data = _policy_form(request.form)
    try:
        build_policy({**default_policy_data(), **data})
    except PolicyError as exc:
        flash(f"策略无效：{exc}", "error")
        return redirect(url_for("review.sampling", team=team))
    with transaction(sessions()) as s:
        repo.set_policy(s, team, data, int(current_user.id))
        repo.audit(s, int(current_user.id), "change", "sampling_policy", team)
    flash(f"已保存 {team} 的抽检策略。", "ok")
    return redirect(url_for("review.sampling", team=team))


@bp.post("/sampling/run")
@roles_required(*MANAGERS)
def run_sampling() -> Any:
    team = inputs.text(request.form, "team", "班组", 64)
    week = inputs.text(request.form, "week", "周", 10)
    seed = inputs.whole(request.form, "seed", "随机种子", 0, inputs.MAX_ID) or 0
    overrides = _policy_form(request.form)
    with transaction(sessions()) as s:
        try:
            res = run_sample(s, team, week, seed=seed, user_id=int(current_user.id), overrides=overrides)
        except (ValueError, PolicyError) as exc:
            flash(f"无法抽检：{exc}", "error")
            return redirect(url_for("review.sampling", team=team))
    flash(f"已抽取 {res.picks} 通（符合条件 {res.audit.get('eligible', 0)} 通，种子 {seed}）。", "ok")
    return redirect(url_for("review.sample_page", sample_id=res.sample_id))


@bp.get("/samples/<int:sample_id>")
@roles_required()
def sample_page(sample_id: int) -> Any:
    with transaction(sessions()) as s:
        smp = s.get(Sample, sample_id)
        if smp is None:
            abort(404)
        picks = repo.sample_picks(s, sample_id)
        rows = {r.id: r for r in repo.load_rows(s, [p.call_id for p, _ in picks])}
    load: dict[str, int] = {}
    for _, name in picks:
        load[name or "（未分配）"] = load.get(name or "（未分配）", 0) + 1
    return render_template("review/sample.html", smp=smp, picks=picks, rows=rows, load=load)


@bp.get("/samples/<int:sample_id>.zip")
@roles_required(*MANAGERS)
def sample_zip(sample_id: int) -> Any:
    with transaction(sessions()) as s:
        smp = s.get(Sample, sample_id)
        if smp is None:
            abort(404)
        picks = repo.sample_picks(s, sample_id)
        notes = {p.call_id: f"{p.detail}（{name or '未分配'}）" for p, name in picks}
        fh, n_audio = exports.build_zip(s, [p.call_id for p, _ in picks], Path(settings().data_dir), tz(), notes)
        repo.audit(s, int(current_user.id), "export", "sample", sample_id, calls=len(picks), recordings=n_audio)
        name = f"sample-{smp.team}-{smp.week}-{smp.id}.zip"
    return send_file(fh, mimetype="application/zip", as_attachment=True, download_name=name)


@bp.get("/samples/<int:sample_id>.csv")
@roles_required(*MANAGERS)
def sample_csv(sample_id: int) -> Any:
    with transaction(sessions()) as s:
        smp = s.get(Sample, sample_id)
        if smp is None:
            abort(404)
        picks = repo.sample_picks(s, sample_id)
        rows = {r.id: r for r in repo.load_rows(s, [p.call_id for p, _ in picks])}
        repo.audit(s, int(current_user.id), "export", "sample_csv", sample_id, calls=len(picks))
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([*exports.CSV_HEADER, "抽检原因", "质检员"])
    for p, name in picks:
        if p.call_id in rows:
            w.writerow([*exports.csv_row(rows[p.call_id], tz()), *exports.safe_row([p.detail, name])])
    return Response(
        "\ufeff" + buf.getvalue(),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename=sample-{sample_id}.csv"},
    )


@bp.get("/my")
@roles_required()
def my_picks() -> Any:
    with transaction(sessions()) as s:
        picks = repo.my_picks(s, int(current_user.id))
        rows = {r.id: r for r in repo.load_rows(s, [p.call_id for p in picks])}
        cals = [c for c in repo.list_calibrations(s) if int(current_user.id) in (c.reviewer_ids or [])]
    return render_template("review/my.html", picks=picks, rows=rows, cals=cals)


# --------------------------------------------------------------------------- trends


@bp.get("/trends")
@roles_required()
def trends() -> Any:
    weeks = min(52, inputs.whole(request.args, "weeks", "周数", 1, 520) or 8)
    team = request.args.get("team", "")
    zone = ZoneInfo(tz())
    today = datetime.now(zone).date()
    monday = today - timedelta(days=today.weekday())
    start_d = monday - timedelta(weeks=weeks - 1)
    start = datetime(start_d.year, start_d.month, start_d.day, tzinfo=zone)
    end = datetime(today.year, today.month, today.day, tzinfo=zone) + timedelta(days=1)
    with transaction(sessions()) as s:
        teams = repo.distinct_values(s, "team")
        by = "agent" if team else "team"
        weekly = repo.weekly_scores(s, start, end, by=by, team=team)
        hist = repo.score_histogram(s, start, end, team)
        share = repo.sentiment_share(s, start, end, team)
        failed = [row for row in repo.failed_items(s, start, end, team) if row[1] > 0][:10]
        names = _item_names(s)
    week_labels = [repo.iso_week(start_d + timedelta(weeks=i)) for i in range(weeks)]
    return render_template(
        "review/trends.html",
        teams=teams,
        team=team,
        weeks=weeks,
        by=by,
        week_labels=week_labels,
        weekly=weekly,
        hist=hist,
        share=share,
        failed=[(names.get(k, k), n, seen) for k, n, seen in failed],
    )


def _item_names(s: Any) -> dict[str, str]:
    """Item id -> display name, from the newest score (names travel with the scores)."""
    from sqlalchemy import select

    from store.models_pipeline import ScoreRow

    items = s.scalar(select(ScoreRow.items).order_by(ScoreRow.id.desc()).limit(1)) or {}
    return {k: str(v.get("name", k)) for k, v in items.items() if isinstance(v, dict)}


# --------------------------------------------------------------------------- accounts


@bp.get("/users")
@roles_required("admin")
def users_page() -> Any:
    """Accounts and the login throttle: who or which address is locked out, with an unlock button."""
    now = datetime.now(UTC)
    with transaction(sessions()) as s:
        accounts = repo.all_users(s)
        throttles = repo.login_throttles(s, now)
    waits = {t.key: repo.login_wait_of(t, now) for t in throttles}
    return render_template("review/users.html", accounts=accounts, throttles=throttles, waits=waits)


@bp.post("/users/unlock")
@roles_required("admin")
def unlock() -> Any:
    key = inputs.text(request.form, "key", "解锁对象", 160)
    if not key.startswith(("user:", "addr:")):
        raise InputError("解锁对象须为账号（user:名称）或地址（addr:IP）。")
    with transaction(sessions()) as s:
        n = repo.clear_login_failures(s, [key])
        repo.audit(s, int(current_user.id), "unlock", "login", key.split(":", 1)[0], target=key, cleared=n)
    flash("已解锁。" if n else "该对象没有被限制。", "ok")
    return redirect(url_for("review.users_page"))


# --------------------------------------------------------------------------- audit


@bp.get("/audit")
@roles_required("admin")
def audit_log() -> Any:
    page = inputs.whole(request.args, "page", "页码", 1, MAX_PAGE) or 1
    with transaction(sessions()) as s:
        rows = repo.list_audit(s, limit=100, offset=(page - 1) * 100)
    return render_template("review/audit.html", rows=rows, page=page)


@bp.errorhandler(403)
def forbidden(_e: Any) -> Any:
    return render_template("review/error.html", code=403, message="您的角色无权访问此页面。"), 403


@bp.errorhandler(404)
def not_found(_e: Any) -> Any:
    return render_template("review/error.html", code=404, message="没有找到该页面或记录。"), 404


@bp.errorhandler(400)
def bad_request(e: Any) -> Any:
    return render_template("review/error.html", code=400, message=getattr(e, "description", "请求无效。")), 400


@bp.errorhandler(InputError)
def bad_input(e: InputError) -> Any:
    return render_template("review/error.html", code=400, message=str(e)), 400
