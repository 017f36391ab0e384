"""Weekly sampling: the calls a team's policy may pick from, saved policies, and stored samples
with their picks (who reviews which call, and why)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from store.base import utc
from store.models import Call
from store.models_pipeline import Recording, ScoreRow
from store.models_review import Review, Sample, SamplePick, SamplingPolicy, User


@dataclass
class Candidate:
    """A call eligible for sampling, with what the targeted picks look at."""

    call_id: int
    agent_id: str
    team: str
    started_at: datetime
    duration_s: float | None
    outcome: str
    survey_score: int | None
    total: float | None
    customer_sentiment: float | None
    flags: list[str]
    has_recording: bool
    reviewed: bool
    complaint: bool


def sampling_candidates(
    s: Session,
    team: str,
    start: datetime,
    end: datetime,
    *,
    min_duration_s: float = 0.0,
    require_recording: bool = False,
    exclude_reviewed: bool = False,
) -> list[Candidate]:
    """A team's calls of one week that pass the policy's filters (index on team, started_at)."""
    has_rec = exists().where(Recording.call_id == Call.id, Recording.audio_path != "")
    reviewed = exists().where(Review.call_id == Call.id, Review.kind == "review")
    q = (
        select(
            Call,
            ScoreRow.total,
            ScoreRow.customer_sentiment,
            ScoreRow.flags,
            ScoreRow.details,
            has_rec.label("has_rec"),
            reviewed.label("reviewed"),
        )
        .outerjoin(ScoreRow, ScoreRow.call_id == Call.id)
        .where(Call.started_at >= utc(start), Call.started_at < utc(end), Call.agent_id != "")
        .order_by(Call.id)
    )
    if team:
        q = q.where(Call.team == team)
    if min_duration_s > 0:
        q = q.where(Call.duration_s >= min_duration_s)
    if require_recording:
        q = q.where(has_rec)
    if exclude_reviewed:
        q = q.where(~reviewed)
    out = []
    for call, total, sent, flags, details, rec, rev in s.execute(q):
        fl = list(flags or [])
        path = " ".join(str(p) for p in (call.menu_path or []))
        complaint_turns = ((details or {}).get("sentiment") or {}).get("complaint_turns") or []
        out.append(
            Candidate(
                call_id=call.id,
                agent_id=call.agent_id,
                team=call.team,
                started_at=utc(call.started_at),
                duration_s=call.duration_s,
                outcome=call.outcome,
                survey_score=call.survey_score,
                total=total,
                customer_sentiment=sent,
                flags=fl,
                has_recording=bool(rec),
                reviewed=bool(rev),
                complaint=bool(complaint_turns) or "complaint" in path or "投诉" in path,
            )
        )
    return out


def latest_call_start(s: Session, team: str = "") -> datetime | None:
    """When the team's newest call started (UTC), or None; the (team, started_at) index answers it."""
    q = select(func.max(Call.started_at)).where(Call.agent_id != "")
    if team:
        q = q.where(Call.team == team)
    value = s.scalar(q)
    return utc(value) if isinstance(value, datetime) else None


def get_policy(s: Session, team: str) -> dict[str, Any] | None:
    row = s.scalar(select(SamplingPolicy).where(SamplingPolicy.team == team))
    return dict(row.policy) if row else None


def set_policy(s: Session, team: str, policy: dict[str, Any], user_id: int | None) -> None:
    row = s.scalar(select(SamplingPolicy).where(SamplingPolicy.team == team))
    if row is None:
        s.add(SamplingPolicy(team=team, policy=policy, updated_by=user_id))
    else:
        row.policy = policy
        row.updated_by = user_id


@dataclass
class PickIn:
    call_id: int
    agent_id: str
    reason: str
    detail: str = ""
    assignee_id: int | None = None


def save_sample(
    s: Session, team: str, week: str, seed: int, policy: dict[str, Any], picks: Sequence[PickIn], user_id: int | None
) -> Sample:
    sample = Sample(team=team, week=week, seed=seed, policy=policy, created_by=user_id)
    s.add(sample)
    s.flush()
    for p in picks:
        s.add(
            SamplePick(
                sample_id=sample.id,
                call_id=p.call_id,
                agent_id=p.agent_id,
                reason=p.reason,
                detail=p.detail,
                assignee_id=p.assignee_id,
            )
        )
    s.flush()
    return sample


def get_sample(s: Session, sample_id: int) -> Sample | None:
    return s.get(Sample, sample_id)


def list_samples(s: Session, team: str | None = None, limit: int = 50) -> list[tuple[Sample, int]]:
    n = select(func.count(SamplePick.id)).where(SamplePick.sample_id == Sample.id).scalar_subquery()
    q = select(Sample, n).order_by(Sample.id.desc()).limit(limit)
    if team:
        q = q.where(Sample.team == team)
    return [(a, b) for a, b in s.execute(q)]


def sample_picks(s: Session, sample_id: int) -> list[tuple[SamplePick, str]]:
    q = (
        select(SamplePick, func.coalesce(User.name, ""))
        .outerjoin(User, User.id == SamplePick.assignee_id)
        .where(SamplePick.sample_id == sample_id)
        .order_by(SamplePick.agent_id, SamplePick.id)
    )
    return [(p, n) for p, n in s.execute(q)]


def my_picks(s: Session, user_id: int, limit: int = 100) -> list[SamplePick]:
    q = select(SamplePick).where(SamplePick.assignee_id == user_id).order_by(SamplePick.id.desc()).limit(limit)
    return list(s.scalars(q))
