"""The values the IVR flow engine takes and returns: an ``Event`` in, a ``Step`` (with the next ``State``) out.

Plain frozen dataclasses shared by the engine, the webhooks, the Media Streams session and TwiML
rendering. ``State`` round-trips through a dict because it is stored with the call between requests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    """One thing the caller (or the network) did.

    kind: "start", "digits", "speech", "no_input", "hangup", "transfer_end" (the agent leg ended;
    ``text`` holds Twilio's DialCallStatus / QueueResult).
    """

    kind: str
    digits: str = ""
    text: str = ""
    confidence: float | None = None


@dataclass(frozen=True)
class State:
    node: str
    phase: str = ""  # "" at the node's prompt | confirm | readback | clarify | transferred | ended
    no_input: int = 0
    no_match: int = 0
    candidate: str = ""  # node awaiting confirmation
    options: tuple[str, ...] = ()  # clarify choices
    clarified: int = 0  # unclear answers to clarifying questions at this node
    buffer: str = ""  # digits entered, awaiting read-back confirmation
    collected: Mapping[str, str] = field(default_factory=dict)
    path: tuple[str, ...] = ()  # nodes entered, in order
    outcome: str = ""  # self-service | transferred | callback | abandoned
    skill: str = ""  # skill of the transfer asked for (kept for the callback)
    seq: int = 0  # steps taken; webhooks use it to spot retried requests

    @property
    def failures(self) -> int:
        return self.no_input + self.no_match

    def to_dict(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "phase": self.phase,
            "no_input": self.no_input,
            "no_match": self.no_match,
            "candidate": self.candidate,
            "options": list(self.options),
            "clarified": self.clarified,
            "buffer": self.buffer,
            "collected": dict(self.collected),
            "path": list(self.path),
            "outcome": self.outcome,
            "skill": self.skill,
            "seq": self.seq,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> State:
        return cls(
            node=str(data["node"]),
            phase=str(data.get("phase", "")),
            no_input=int(data.get("no_input", 0)),
            no_match=int(data.get("no_match", 0)),
            candidate=str(data.get("candidate", "")),
            options=tuple(data.get("options", ())),
            clarified=int(data.get("clarified", 0)),
            buffer=str(data.get("buffer", "")),
            collected=dict(data.get("collected", {})),
            path=tuple(data.get("path", ())),
            outcome=str(data.get("outcome", "")),
            skill=str(data.get("skill", "")),
            seq=int(data.get("seq", 0)),
        )


@dataclass(frozen=True)
class GatherSpec:
    input: str = "dtmf speech"  # "dtmf" or "dtmf speech"
    timeout: int = 5
    finish_on_key: str = ""  # "" = none, so * and # reach the engine
    num_digits: int | None = None
    hints: tuple[str, ...] = ()


@dataclass(frozen=True)
class Note:
    """Something worth recording on the call (kind as in CallEvent.kind)."""

    kind: str
    node: str
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    """What to do now. ``action``: "gather" (say, then listen), "transfer" or "hangup"."""

    say: tuple[str, ...]
    state: State
    action: str = "gather"
    gather: GatherSpec | None = None
    skill: str = ""  # transfer: the queue's skill tag
    notice: str = ""  # transfer: the recording notice said before connecting
    callback: str | None = None  # a callback was requested for this skill
    survey_score: int | None = None
    notes: tuple[Note, ...] = ()

    @property
    def node(self) -> str:
        return self.state.node

    @property
    def outcome(self) -> str:
        return self.state.outcome
