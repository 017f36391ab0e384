"""Speaker turns from recognizer utterances: one party speaking until the other does.

A recognizer cuts a turn wherever the speaker pauses (Whisper at almost every comma), another
engine elsewhere, so items that count turns (greeting in the agent's first turns, closing in the
last ones, the share of polite turns, the customer's last turn) would depend on the engine, not
on the agent. Consecutive utterances of the same party with a pause of at most ``MERGE_GAP_S``, where the
other party did not take the floor in between (a start within ``OVERLAP_S`` of the party going on
is talking over, as when a customer starts before the agent's last word), are one turn, as they
are in a chat log or a gold transcript. Each turn remembers its utterances (``Part``), so evidence still points at the
utterance and time a reviewer clicks. Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from qa.scorers import Evidence

if TYPE_CHECKING:
    from qa.dialogue import Dialogue, Turn

MERGE_GAP_S = 1.5  # longer than a pause inside a sentence, shorter than the 3 s of a silence item
OVERLAP_S = 0.5  # the other party starting this little before a party goes on is talking over, not a reply


@dataclass(frozen=True, slots=True)
class Part:
    """One utterance inside a turn: its index in the transcript, start time, compact offset."""

    index: int
    start: float | None
    offset: int


def _join(a: Turn, b: Turn) -> Turn:
    sep = "" if not a.text or a.text[-1] in "，。！？,.!?、；;：: " else "，"
    merged = replace(a, text=a.text + sep + b.text, end=max(a.end or 0.0, b.end or 0.0), heard=(), parts=())
    # the compact text of the join is the two compact texts end to end (else word offsets are void)
    shift = len(merged.c.text) - len(b.c.text)
    same = merged.c.text == a.c.text + b.c.text
    heard = (*a.heard, *(replace(h, start=h.start + shift, end=h.end + shift) for h in b.heard)) if same else ()
    parts = (*a.parts, *(replace(p, offset=p.offset + shift) for p in b.parts))
    return replace(merged, heard=heard, parts=parts)


def merge_speaker_turns(
    turns: Sequence[Turn], max_gap: float = MERGE_GAP_S, overlap: float = OVERLAP_S
) -> tuple[Turn, ...]:
    """Join each turn (sorted by start) to the same party's previous turn when it follows within
    ``max_gap`` s and the other party has not taken the floor in between: nobody else started, or
    only within ``overlap`` s before this turn (talking over the end of a sentence, not a reply).

    Turns of ``unknown`` (mono recordings: nobody knows who spoke) and untimed turns stay apart.
    """
    out: list[Turn] = []
    last: dict[str, int] = {}  # role -> index in out of its latest turn
    for t in turns:
        k = last.get(t.role)
        prev = out[k] if k is not None else None
        if (
            prev is not None
            and k is not None
            and t.role != "unknown"
            and prev.timed
            and t.timed
            and (t.start or 0.0) - (prev.end or 0.0) <= max_gap
            and all((o.start or 0.0) >= (t.start or 0.0) - overlap for o in out[k + 1 :])
        ):
            out[k] = _join(prev, t)
        else:
            last[t.role] = len(out)
            out.append(t)
    return tuple(out)


def part_at(turn: Turn, offset: int | None = None, time: float | None = None) -> Part | None:
    """The utterance of ``turn`` holding compact ``offset`` (else the one running at ``time``)."""
    if not turn.parts:
        return None
    if offset is not None:
        for p in reversed(turn.parts):
            if p.offset <= offset:
                return p
    if time is not None:
        for p in reversed(turn.parts):
            if p.start is not None and p.start <= time + 1e-6:
                return p
    return turn.parts[0]


def locate(ev: Evidence, d: Dialogue) -> Evidence:
    """Evidence pointing at a speaker turn re-pointed at the transcript utterance holding it
    (what the call page lists); a turn's start time becomes that utterance's start."""
    if ev.turn is None or not 0 <= ev.turn < len(d.turns):
        return ev
    turn = d.turns[ev.turn]
    p = part_at(turn, ev.span[0] if ev.span else None, ev.time)
    if p is None:
        return ev
    time = p.start if ev.time == turn.start and ev.end is None else ev.time
    return replace(ev, turn=p.index, time=time)
