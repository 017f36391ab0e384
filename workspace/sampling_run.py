"""Run a team's weekly sample: store candidates -> ``qa.sampling.sample`` (pure, seeded) -> picks
assigned evenly to reviewers -> stored with their reasons and the policy, and audited.

A team's policy is the project default (``qa/sampling_policy.yaml``) overlaid with what a
supervisor saved for the team; the workspace's defaults follow the issue (calls of 60 s or more).
Complaints are an extra targeted rule: a call counts as one when the customer complained.
"""

from __future__ import annotations

import dataclasses
import random
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy.orm import Session

from qa.sampling import DEFAULT_POLICY_PATH, CallInfo, Rule, SamplingPolicy, parse_policy, sample
from store import sampling as store_sampling
from store.audit import audit
from store.trends import iso_week
from store.users import list_users

WORKSPACE_DEFAULTS: dict[str, Any] = {"min_duration_s": 60, "random_per_agent_week": 3}
COMPLAINT = "complaint"
REASON_LABELS = {
    "random": "随机抽检",
    "auto_fail": "一票否决",
    "angry_customer": "客户愤怒",
    "forbidden_phrase": "服务禁用语",
    "lowest_score": "本周最低分",
    "negative_sentiment": "客户负面情绪",
    "long_silence": "长时间静音",
    COMPLAINT: "客户投诉",
}


def week_bounds(week: str, tz: str) -> tuple[datetime, datetime]:
    """ISO week ``2026-W47`` -> [Monday 00:00, next Monday) in the policy's zone, as aware datetimes."""
    try:
        year_s, w_s = week.strip().upper().split("-W")
        if not (year_s.isascii() and year_s.isdigit() and w_s.isascii() and w_s.isdigit()):
            raise ValueError(week)
        monday = date.fromisocalendar(int(year_s), int(w_s), 1)
        if not 2000 <= monday.year <= 2099:
            raise ValueError(week)
    except (ValueError, AttributeError):
        raise ValueError(f"week must look like 2026-W47, got {week!r}") from None
    zone = ZoneInfo(tz)
    start = datetime(monday.year, monday.month, monday.day, tzinfo=zone)
    return start, start + timedelta(days=7)


def current_week(tz: str, now: datetime | None = None) -> str:
    return iso_week((now or datetime.now(ZoneInfo(tz))).astimezone(ZoneInfo(tz)).date())


def default_week(tz: str, latest_call: datetime | None, now: datetime | None = None) -> str:
    """The week the sampling page proposes: this week, or, when it has no calls yet (a Monday
    morning), the week of the newest call, so a supervisor samples the week just ended."""
    this = current_week(tz, now)
    if latest_call is None:
        return this
    start, _ = week_bounds(this, tz)
    return this if latest_call >= start else current_week(tz, latest_call)


def default_policy_data() -> dict[str, Any]:
    data = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8")) or {}
    data.update(WORKSPACE_DEFAULTS)
    return dict(data)


def team_policy_data(s: Session, team: str) -> dict[str, Any]:
    """The team's saved policy over the defaults (a dict in the YAML's shape)."""
    data = default_policy_data()
    data.update(store_sampling.get_policy(s, team) or {})
    return data


def build_policy(data: dict[str, Any], *, complaints: bool = True) -> SamplingPolicy:
    """Validate with ``qa.sampling.parse_policy``; add the complaint rule the YAML cannot name."""
    pol = parse_policy({k: v for k, v in data.items() if k != "complaints"}, "team policy")
    if complaints and data.get("complaints", True):
        rules = (*pol.rules, Rule(COMPLAINT, flag=COMPLAINT))
        pol = dataclasses.replace(pol, rules=rules)
    return pol


def assign_evenly(picks: list[Any], reviewer_ids: list[int], seed: int) -> list[int | None]:
    """Round-robin over reviewers in a seeded order: counts differ by at most one."""
    if not reviewer_ids:
        return [None] * len(picks)
    order = sorted(reviewer_ids)
    random.Random(f"assign|{seed}").shuffle(order)
    return [order[i % len(order)] for i in range(len(picks))]


@dataclasses.dataclass
class RunResult:
    sample_id: int
    picks: int
    audit: dict[str, Any]


def run_sample(
    s: Session,
    team: str,
    week: str,
    *,
    seed: int,
    per_agent: int | None = None,
    user_id: int | None = None,
    overrides: dict[str, Any] | None = None,
) -> RunResult:
    """Sample one team-week and store it. Same data, policy and seed -> same picks and assignees."""
    data = team_policy_data(s, team)
    if overrides:
        data.update(overrides)
    if per_agent is not None:
        data["random_per_agent_week"] = int(per_agent)
    policy = build_policy(data)
    start, end = week_bounds(week, policy.timezone)
    week = iso_week(start.date())  # canonical (2026-w047 -> 2026-W47): the picks are matched on it
    cands = store_sampling.sampling_candidates(
        s,
        team,
        start,
        end,
        min_duration_s=policy.min_duration_s,
        require_recording=policy.require_recording,
        exclude_reviewed=policy.skip_reviewed,
    )
    infos = [
        CallInfo(
            call_id=c.call_id,
            agent=c.agent_id,
            team=c.team,
            start=c.started_at,
            duration=float(c.duration_s or 0.0),
            total=c.total,
            customer_sentiment=c.customer_sentiment,
            flags=(*c.flags, COMPLAINT) if c.complaint else tuple(c.flags),
            reviewed=c.reviewed,
            has_recording=c.has_recording,
        )
        for c in cands
    ]
    by_id = {c.call_id: c for c in cands}
    result = sample(infos, policy, seed)
    picks = [p for p in result.picks if p.week == week]
    reviewers = [u.id for u in list_users(s, roles=["qa"])]
    assignees = assign_evenly(picks, reviewers, seed)
    rows = []
    for p, who in zip(picks, assignees, strict=True):
        c = by_id[int(p.call_id)]
        rows.append(
            store_sampling.PickIn(
                call_id=int(p.call_id),
                agent_id=p.agent,
                reason=p.reasons[0],
                detail=_detail(p.reasons, c),
                assignee_id=who,
            )
        )
    stored = dict(data)
    stored["policy_version"] = policy.version
    smp = store_sampling.save_sample(s, team, week, seed, stored, rows, user_id)
    counts = dict(result.audit)
    counts["picked_in_week"] = len(rows)
    audit(
        s,
        user_id,
        "sample",
        "sample",
        smp.id,
        team=team,
        week=week,
        seed=seed,
        picked=len(rows),
        eligible=counts.get("eligible", 0),
    )
    return RunResult(smp.id, len(rows), counts)


def _detail(reasons: tuple[str, ...], c: store_sampling.Candidate) -> str:
    """Why, in words a supervisor reads: every matching reason plus the figure behind it."""
    parts = [REASON_LABELS.get(r, r) for r in reasons]
    if c.total is not None:
        parts.append(f"总分 {c.total:.1f}")
    if c.customer_sentiment is not None and any(r in ("negative_sentiment", "angry_customer") for r in reasons):
        parts.append(f"客户情绪 {c.customer_sentiment:+.2f}")
    return "；".join(parts)
