"""Dialogue types the scorers read, built from a speech Transcript dict or a qa-data JSONL record.

``qa`` never imports ``speech``: a Transcript arrives as its JSON dict (``utterances`` with
``speaker`` customer|agent|unknown, ``start``, ``end``, ``text``, ``words``). Chat data has no
times; then ``start``/``end`` are None and the time-based metrics report N/A.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from qa.confidence import Heard, align_words
from qa.turns import MERGE_GAP_S, Part, merge_speaker_turns
from zhtext.match import Compact, compact

Role = Literal["agent", "customer", "unknown"]
ROLES: tuple[str, ...] = ("agent", "customer", "unknown")


class DialogueError(ValueError):
    """The input is not a dialogue we can read; the message says which field."""


@dataclass(frozen=True)
class Turn:
    """One speaker turn. ``c`` is the compact form every matcher uses (computed once)."""

    role: Role
    text: str
    start: float | None = None
    end: float | None = None
    heard: tuple[Heard, ...] = field(default=(), repr=False, compare=False)  # recognized words (qa.confidence)
    parts: tuple[Part, ...] = field(default=(), repr=False, compare=False)  # its transcript utterances (qa.turns)
    c: Compact = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise DialogueError(f"turn role must be one of {ROLES}, got {self.role!r}")
        object.__setattr__(self, "c", compact(self.text))

    @property
    def timed(self) -> bool:
        return self.start is not None and self.end is not None

    @property
    def duration(self) -> float:
        if self.start is None or self.end is None:
            return 0.0
        return max(0.0, self.end - self.start)


@dataclass(frozen=True)
class Dialogue:
    """A call or chat: ordered turns plus free metadata (``channel``: call|chat, source labels)."""

    id: str
    turns: tuple[Turn, ...]
    metadata: Mapping[str, Any] = field(default_factory=dict)
    timed: bool = field(init=False, compare=False)
    start: float = field(init=False, compare=False)  # first turn start (0 in chat)
    duration: float = field(init=False, compare=False)  # last end - first start (0 in chat)

    def __post_init__(self) -> None:
        timed = bool(self.turns) and all(t.timed for t in self.turns)
        object.__setattr__(self, "timed", timed)
        start = min(t.start or 0.0 for t in self.turns) if timed else 0.0
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "duration", (max(t.end or 0.0 for t in self.turns) - start) if timed else 0.0)

    @property
    def channel(self) -> str:
        return str(self.metadata.get("channel") or ("call" if self.timed else "chat"))

    def indexed(self, role: str) -> list[tuple[int, Turn]]:
        return [(i, t) for i, t in enumerate(self.turns) if t.role == role]


def _num(value: Any, where: str) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise DialogueError(f"{where}: expected a number, got {value!r}") from None


def _role(value: Any, where: str) -> Role:
    role = str(value or "unknown").strip().lower()
    aliases = {"helpdesk": "agent", "waiter": "agent", "staff": "agent", "user": "customer", "caller": "customer"}
    role = aliases.get(role, role)
    if role not in ROLES:
        raise DialogueError(f"{where}: unknown role {value!r}")
    return role  # type: ignore[return-value]


def from_transcript(
    data: Mapping[str, Any], dialogue_id: str | None = None, merge_gap: float | None = MERGE_GAP_S
) -> Dialogue:
    """Dialogue from a speech Transcript JSON dict; utterances ordered by start time.

    Consecutive utterances of one party (pauses up to ``merge_gap`` s) become one speaker turn
    (qa.turns), so scores do not depend on where the recognizer cut; ``merge_gap=None`` keeps one
    turn per utterance. Evidence still names the utterance (``Turn.parts``).
    """
    utterances = data.get("utterances")
    if not isinstance(utterances, Sequence) or isinstance(utterances, str | bytes):
        raise DialogueError("transcript: 'utterances' must be a list")
    turns: list[Turn] = []
    for i, u in enumerate(utterances):
        if not isinstance(u, Mapping):
            raise DialogueError(f"transcript utterance {i}: expected an object")
        where = f"transcript utterance {i}"
        text = str(u.get("text") or "").strip()
        if not text and u.get("words"):
            text = "".join(str(w.get("word", w.get("text", ""))) for w in u["words"] if isinstance(w, Mapping))
        if not text:
            continue
        words = u.get("words")
        heard = align_words(compact(text).text, words) if isinstance(words, Sequence) and words else ()
        start = _num(u.get("start"), where)
        turns.append(
            Turn(
                _role(u.get("speaker", u.get("role")), where),
                text,
                start,
                _num(u.get("end"), where),
                heard,
                (Part(i, start, 0),),
            )
        )
    if all(t.timed for t in turns):
        turns.sort(key=lambda t: (t.start or 0.0, t.end or 0.0))
        if merge_gap is not None:
            turns = list(merge_speaker_turns(turns, merge_gap))
    meta = {k: v for k, v in data.items() if k not in ("utterances", "words", "text")}
    meta.setdefault("channel", "call")
    did = dialogue_id or str(data.get("id") or data.get("call_id") or data.get("call_sid") or "transcript")
    return Dialogue(did, tuple(turns), meta)


def from_record(data: Mapping[str, Any]) -> Dialogue:
    """Dialogue from one qa-data JSONL record ``{"id", "turns": [{"role", "text", ...}], ...labels}``."""
    raw = data.get("turns")
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes):
        raise DialogueError("dialogue: 'turns' must be a list")
    did = str(data.get("id") or "dialogue")
    turns: list[Turn] = []
    flags = {"repeat": False, "transfer": False}
    for i, t in enumerate(raw):
        if not isinstance(t, Mapping):
            raise DialogueError(f"dialogue {did} turn {i}: expected an object")
        where = f"dialogue {did} turn {i}"
        text = str(t.get("text") or "").strip()
        flags["repeat"] |= bool(t.get("is_repeat"))
        flags["transfer"] |= bool(t.get("is_transfer"))
        if not text:
            continue
        turns.append(Turn(_role(t.get("role"), where), text, _num(t.get("start"), where), _num(t.get("end"), where)))
    meta: dict[str, Any] = {k: v for k, v in data.items() if k not in ("turns", "annotations")}
    meta["is_repeat"] = flags["repeat"]
    meta["is_transfer"] = flags["transfer"]
    return Dialogue(did, tuple(turns), meta)


def from_any(data: Mapping[str, Any], dialogue_id: str | None = None) -> Dialogue:
    """A Transcript dict (has ``utterances``) or a qa-data record (has ``turns``)."""
    if "utterances" in data:
        return from_transcript(data, dialogue_id)
    if "turns" in data:
        return from_record(data)
    raise DialogueError("expected a Transcript ('utterances') or a dialogue record ('turns')")
