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
    end: float | None = None  # audio time the phrase ends (recognized words)
    conf: float | None = None  # lowest word probability under the phrase (qa.confidence)
    span: tuple[int, int] | None = field(default=None, compare=False)  # compact range in the turn (not stored)
    sounds_like: str = ""  # the scorecard phrase this was matched to by pronunciation (qa.phonetic)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"phrase": self.phrase, "turn": self.turn, "time": self.time}
        if self.note:
            out["note"] = self.note
        if self.end is not None:
            out["end"] = round(self.end, 3)
        if self.conf is not None:
            out["conf"] = round(self.conf, 3)
        if self.sounds_like:
            out["sounds_like"] = self.sounds_like
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
