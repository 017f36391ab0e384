"""One call's facts for the service levels, derived from its stored row and events (pure).

The webhooks store what Twilio tells us as events (each once, keyed by its request): the menu
nodes entered (with their times), the transfer, each queue or dial leg's outcome
(``queue-leg``: QueueResult, QueueTime; ``dial-leg``: DialCallStatus, DialCallDuration), where the
caller hung up (``caller-hangup``), the survey answer, a callback request. The facts are a
function of all of them, so callbacks retried or arriving out of order give the same facts once
all have arrived: recomputing is the idempotent way to keep them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# Twilio's <Enqueue> action QueueResult values and <Dial> action DialCallStatus values, by meaning.
QUEUE_ANSWERED = frozenset({"bridged", "redirected-from-bridged"})
QUEUE_ABANDONED = frozenset({"hangup"})  # the caller hung up while waiting
QUEUE_RESULTS = frozenset(
    {"bridged", "bridging-in-process", "queue-full", "error", "hangup", "leave", "redirected",
     "redirected-from-bridged", "system-shutdown"}
)  # fmt: skip
DIAL_ANSWERED = frozenset({"completed", "answered"})
DIAL_ABANDONED = frozenset({"canceled"})  # the caller hung up while the agent's phone rang
DIAL_STATUSES = frozenset({"completed", "answered", "busy", "no-answer", "failed", "canceled"})
# Nodes where a caller's hang-up is not leaving the IVR unserved (after a survey, at goodbye)
MENU_KINDS = frozenset({"menu", "collect"})


@dataclass(frozen=True)
class CallFacts:
    """What the service levels need of one call. Times are aware UTC; durations in seconds."""

    call_id: int
    started_at: datetime
    ended_at: datetime | None = None
    team: str = ""
    skill: str = ""
    outcome: str = ""  # the call's outcome column: self-service | transferred | callback | abandoned
    offered: bool = False  # reached the agents' queue (a transfer)
    enqueued_at: datetime | None = None
    answered: bool = False
    abandoned: bool = False  # hung up waiting for an agent
    wait_s: float | None = None  # time in the queue (answered: until answered; abandoned: until hang-up)
    talk_s: float | None = None  # the agent conversation (handling time; no after-call work is recorded)
    leg_result: str = ""  # the last leg's QueueResult or DialCallStatus
    hangup_node: str = ""  # where the caller hung up while still in the IVR menus ("" otherwise)
    hangup_at: datetime | None = None
    path: tuple[tuple[str, float], ...] = ()  # nodes entered, with seconds after the call started
    survey_score: int | None = None
    surveyed_at: datetime | None = None
    callback_requested: bool = False
    agents_closed: bool = False  # asked for an agent outside business hours (hours.yaml)
    contained: bool = False  # served by the IVR alone: self-service, no transfer, no hang-up mid-menu
    ended: bool = False

    def to_row(self) -> dict[str, Any]:
        """Values for the store's facts table."""
        return {
            "call_id": self.call_id,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "team": self.team,
            "skill": self.skill,
            "outcome": self.outcome,
            "offered": self.offered,
            "enqueued_at": self.enqueued_at,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "wait_s": self.wait_s,
            "talk_s": self.talk_s,
            "leg_result": self.leg_result,
            "hangup_node": self.hangup_node,
            "hangup_at": self.hangup_at,
            "path": [[n, t] for n, t in self.path],
            "survey_score": self.survey_score,
            "surveyed_at": self.surveyed_at,
            "callback_requested": self.callback_requested,
            "agents_closed": self.agents_closed,
            "contained": self.contained,
            "ended": self.ended,
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> CallFacts:
        return cls(
            call_id=int(row["call_id"]),
            started_at=aware(row["started_at"]),
            ended_at=aware(row["ended_at"]) if row.get("ended_at") else None,
            team=str(row.get("team") or ""),
            skill=str(row.get("skill") or ""),
            outcome=str(row.get("outcome") or ""),
            offered=bool(row.get("offered")),
            enqueued_at=aware(row["enqueued_at"]) if row.get("enqueued_at") else None,
            answered=bool(row.get("answered")),
            abandoned=bool(row.get("abandoned")),
            wait_s=_f(row.get("wait_s")),
            talk_s=_f(row.get("talk_s")),
            leg_result=str(row.get("leg_result") or ""),
            hangup_node=str(row.get("hangup_node") or ""),
            hangup_at=aware(row["hangup_at"]) if row.get("hangup_at") else None,
            path=tuple((str(n), float(t)) for n, t in (row.get("path") or ())),
            survey_score=int(row["survey_score"]) if row.get("survey_score") is not None else None,
            surveyed_at=aware(row["surveyed_at"]) if row.get("surveyed_at") else None,
            callback_requested=bool(row.get("callback_requested")),
            agents_closed=bool(row.get("agents_closed")),
            contained=bool(row.get("contained")),
            ended=bool(row.get("ended")),
        )


@dataclass(frozen=True)
class EventRow:
    """A stored call event as the facts need it."""

    at: datetime
    kind: str
    node: str = ""
    detail: Mapping[str, Any] = field(default_factory=dict)


def aware(dt: datetime) -> datetime:
    """SQLite returns naive UTC; everything here compares aware UTC times."""
    return dt.astimezone(UTC) if dt.tzinfo else dt.replace(tzinfo=UTC)


def _f(v: Any) -> float | None:
    return None if v is None else float(v)


def _secs(a: datetime, b: datetime) -> float:
    return (aware(b) - aware(a)).total_seconds()


def facts_of(
    call: Mapping[str, Any], events: Iterable[EventRow], *, node_kinds: Mapping[str, str] | None = None
) -> CallFacts:
    """A call's facts from its row (id, started_at, ended_at, status, duration_s, outcome, skill, team,
    survey_score) and its events in any order. ``node_kinds``: menu node id -> kind, to tell a hang-up
    mid-menu (a menu or an entry) from one after being served (an answer, the survey, goodbye)."""
    kinds = node_kinds or {}
    evs = sorted(events, key=lambda e: aware(e.at))
    started = aware(call["started_at"])
    ended_at = aware(call["ended_at"]) if call.get("ended_at") else None
    status = str(call.get("status") or "")
    ended = ended_at is not None or status in ("completed", "busy", "failed", "no-answer", "canceled")
    path: list[tuple[str, float]] = []
    enqueued_at: datetime | None = None
    legs: list[EventRow] = []
    hangup: EventRow | None = None
    callback = closed = False
    survey: int | None = None
    surveyed: datetime | None = None
    skill = str(call.get("skill") or "")
    for e in evs:
        if e.kind in ("start", "node") and e.node:
            if not path or path[-1][0] != e.node:  # the call's start notes its root twice
                path.append((e.node, round(max(0.0, _secs(started, e.at)), 3)))
        elif e.kind in ("transfer", "fallback"):
            enqueued_at = enqueued_at or aware(e.at)
            skill = skill or str(e.detail.get("skill") or "")
        elif e.kind in ("queue-leg", "dial-leg"):
            legs.append(e)
        elif e.kind == "caller-hangup" and hangup is None:
            hangup = e
        elif e.kind == "callback":
            callback = True
        elif e.kind == "agents-closed":
            closed = True
        elif e.kind == "survey" and isinstance(e.detail.get("score"), int):
            survey, surveyed = int(e.detail["score"]), aware(e.at)
    if survey is None and call.get("survey_score") is not None:
        survey = int(call["survey_score"])
    offered = enqueued_at is not None or bool(legs)
    if enqueued_at is None and legs:
        enqueued_at = aware(legs[0].at)
    answered = abandoned = False
    wait: float | None = None
    talk: float | None = None
    result = ""
    duration = _f(call.get("duration_s"))
    for leg in legs:  # the answered leg decides; otherwise the last one
        got, leg_wait, leg_talk, leg_answered, leg_abandoned = _leg(leg, enqueued_at, started, ended_at, duration)
        result = got
        if leg_answered:
            answered, abandoned, wait, talk = True, False, leg_wait, leg_talk
            break
        abandoned, wait = leg_abandoned, leg_wait
    if offered and not legs and ended and enqueued_at is not None:
        # the call ended in the queue and no action callback came (yet): the caller hung up waiting
        abandoned = True
        end = ended_at or (hangup.at if hangup else None)
        wait = max(0.0, _secs(enqueued_at, end)) if end is not None else None
    hang_node = ""
    hang_at: datetime | None = None
    if hangup is not None and not offered and hangup.node:
        hang_node, hang_at = hangup.node, aware(hangup.at)
    mid_menu = bool(hang_node) and kinds.get(hang_node, "menu") in MENU_KINDS
    outcome = str(call.get("outcome") or "")
    contained = not offered and not callback and outcome == "self-service" and not mid_menu
    return CallFacts(
        call_id=int(call["id"]),
        started_at=started,
        ended_at=ended_at,
        team=str(call.get("team") or ""),
        skill=skill,
        outcome=outcome,
        offered=offered,
        enqueued_at=enqueued_at,
        answered=answered,
        abandoned=abandoned,
        wait_s=None if wait is None else round(wait, 3),
        talk_s=None if talk is None else round(talk, 3),
        leg_result=result,
        hangup_node=hang_node,
        hangup_at=hang_at,
        path=tuple(path),
        survey_score=survey,
        surveyed_at=surveyed,
        callback_requested=callback,
        agents_closed=closed,
        contained=contained,
        ended=ended,
    )


def _leg(
    leg: EventRow, enqueued_at: datetime | None, started: datetime, ended_at: datetime | None, duration: float | None
) -> tuple[str, float | None, float | None, bool, bool]:
    """(result, wait, talk, answered, abandoned) of one queue or dial leg."""
    d = leg.detail
    if leg.kind == "queue-leg":
        result = str(d.get("result") or "")
        wait = _f(d.get("wait_s"))
        answered = result in QUEUE_ANSWERED
        talk = None
        if answered and duration is not None and enqueued_at is not None:
            # Twilio gives no talk time for a dequeued call: the call's duration less the IVR before
            # the queue, the wait, and what followed the agent (the survey)
            after = max(0.0, _secs(leg.at, ended_at)) if ended_at is not None else 0.0
            talk = max(0.0, duration - max(0.0, _secs(started, enqueued_at)) - (wait or 0.0) - after)
        return result, wait, talk, answered, result in QUEUE_ABANDONED
    result = str(d.get("status") or "")
    talk = _f(d.get("talk_s"))
    answered = result in DIAL_ANSWERED
    wait = None
    if enqueued_at is not None:  # ringing time: from the transfer to the leg's end, less the conversation
        wait = max(0.0, _secs(enqueued_at, leg.at) - (talk or 0.0 if answered else 0.0))
    return result, wait, talk if answered else None, answered, result in DIAL_ABANDONED
