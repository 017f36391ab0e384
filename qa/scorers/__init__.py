"""Scorers: small pure functions from a Dialogue (and phrase lists) to a value with evidence."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Evidence:
    """What a reviewer clicks: the phrase, the turn index, the time in the call (None in chat)."""

    phrase: str
    turn: int | None = None
    time: float | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"phrase": self.phrase, "turn": self.turn, "time": self.time}
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True)
class Result:
    """A scorer's answer: ``value`` in [0, 1] for checks (None = not applicable) plus evidence."""

    value: float | None
    evidence: tuple[Evidence, ...] = ()
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def applicable(self) -> bool:
        return self.value is not None
