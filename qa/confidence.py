"""What the recognizer was unsure of: word probabilities mapped onto a turn's compact text.

A Transcript's words carry the recognizer's probability (``conf``). A phrase found where the words
are unsure, or a required phrase missing where they are unsure, should not silently decide an
item: the item is scored on the best reading and marked 待人工确认 with the audio time, so a
reviewer listens to that stretch. Chat turns and transcripts without word confidences have no
``Heard`` spans and are never marked. Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from qa.scorers import Evidence
from zhtext.match import compact

if TYPE_CHECKING:
    from qa.dialogue import Turn

LOW_CONF = 0.4  # a word below this probability is unsure (tuned on calls-dev, docs/qa.md)
REVIEW_LABEL = "待人工确认"


@dataclass(frozen=True, slots=True)
class Heard:
    """One recognized word: its compact character range in the turn, its audio time and probability."""

    start: int
    end: int
    t0: float
    t1: float
    conf: float


def align_words(text: str, words: Sequence[Mapping[str, Any]]) -> tuple[Heard, ...]:
    """Place each word's compact form in the turn's compact ``text``, in order.

    A word that cannot be found (redaction replaced it, the engine rewrote the text) gets no span;
    if fewer than half the characters are covered the whole turn gets none (nothing is marked).
    """
    out: list[Heard] = []
    pos = 0
    for w in words:
        if not isinstance(w, Mapping):
            continue
        c = compact(str(w.get("text", w.get("word", "")))).text
        if not c:
            continue
        at = text.find(c, pos)
        if at < 0 or at - pos > 4:  # lost sync: skip the word, keep looking from here
            continue
        try:
            t0, t1 = float(w["start"]), float(w["end"])
            conf = float(w.get("conf", w.get("probability", 1.0)))
        except (KeyError, TypeError, ValueError):
            continue
        out.append(Heard(at, at + len(c), t0, t1, max(0.0, min(1.0, conf))))
        pos = at + len(c)
    covered = sum(h.end - h.start for h in out)
    return tuple(out) if text and covered * 2 >= len(text) else ()


@dataclass(frozen=True)
class Stretch:
    """The words under a character range: their lowest probability and their audio time."""

    conf: float
    t0: float
    t1: float

    @property
    def unsure(self) -> bool:
        return self.conf < LOW_CONF


def stretch(heard: Sequence[Heard], start: int, end: int, context: int = 0) -> Stretch | None:
    """Words overlapping compact ``[start - context, end + context)``; None without word data."""
    a, b = start - context, end + context
    under = [h for h in heard if h.start < b and a < h.end]
    if not under:
        return None
    return Stretch(min(h.conf for h in under), min(h.t0 for h in under), max(h.t1 for h in under))


def unsure_stretches(heard: Sequence[Heard], threshold: float = LOW_CONF) -> list[Stretch]:
    """Runs of consecutive unsure words (neighbours merged), for "missed where unsure" checks."""
    runs: list[list[Heard]] = []
    for h in heard:
        if h.conf >= threshold:
            continue
        if runs and runs[-1][-1].end >= h.start - 1:
            runs[-1].append(h)
        else:
            runs.append([h])
    return [Stretch(min(x.conf for x in r), r[0].t0, r[-1].t1) for r in runs]


def place(ev: Evidence, turn: Turn) -> Evidence:
    """Evidence of a phrase (``span``) placed on the audio: its words' time and lowest probability."""
    if ev.span is None or ev.end is not None:
        return ev
    s = stretch(turn.heard, *ev.span)
    return ev if s is None else replace(ev, time=s.t0, end=s.t1, conf=s.conf)
