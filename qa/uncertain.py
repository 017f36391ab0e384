"""Items a reviewer should check by ear (待人工确认): what decided them was heard unsurely.

An item is still scored on the best reading of the transcript; these marks only say where the
recognizer was unsure about what decided it, with the audio time, so the call page can offer the
stretch to listen to instead of silently zeroing (or crediting) the item:

- ``unsure_evidence``: the phrase that earned (or cost) points lies on words below ``LOW_CONF``;
- ``sound_match``: the phrase was found by its pronunciation (qa.phonetic) on unsure words: either
  within the normal tolerance, or only within the looser ``unsure_tolerance`` that applies where
  the recognizer was unsure (the best reading of a misheard stretch).

Items whose phrase is simply missing are not marked: whisper is unsure of some words in nearly
every turn, so "missing where unsure" marked almost every call on the development set (docs/qa.md).
A mark carries the reason, the dialogue turn, the audio time span, the phrase and the word
probability; ``qa.score`` re-points the turn at the transcript utterance like any evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qa.confidence import LOW_CONF
from qa.scorers import Evidence, Result

PHRASE_CHECKS = frozenset(
    {
        "script.greeting",
        "script.recording_notice",
        "script.verification",
        "script.empathy",
        "script.hold",
        "script.closing",
        "forbidden.phrases",
        "forbidden.abuse",
    }
)
MAX_MARKS = 3


@dataclass(frozen=True)
class ReviewMark:
    reason: str  # unsure_evidence | sound_match
    turn: int | None
    time: float | None
    end: float | None
    phrase: str = ""
    conf: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"reason": self.reason, "turn": self.turn, "time": self.time, "end": self.end}
        if self.phrase:
            out["phrase"] = self.phrase
        if self.conf is not None:
            out["conf"] = round(self.conf, 3)
        return out


def _missing(note: str) -> bool:
    return note.startswith("no ") or note == "complaint without empathy"


def review_marks(check: str, result: Result, threshold: float = LOW_CONF) -> tuple[ReviewMark, ...]:
    """The marks of one item's result (evidence already placed on the audio by qa.confidence.place)."""
    if result.value is None or check not in PHRASE_CHECKS:
        return ()
    marks: list[ReviewMark] = []
    for ev in result.evidence:
        if _missing(ev.note) or ev.conf is None or ev.conf >= threshold:
            continue
        reason = "sound_match" if ev.sounds_like else "unsure_evidence"
        marks.append(ReviewMark(reason, ev.turn, ev.time, ev.end, ev.sounds_like or ev.phrase, ev.conf))
    marks.sort(key=lambda m: (m.conf if m.conf is not None else 1.0, m.time or 0.0))
    return tuple(marks[:MAX_MARKS])


def relocate(mark: ReviewMark, locate_evidence: Any) -> ReviewMark:
    """Re-point a mark's turn the way evidence is re-pointed (utterance index, see qa.turns.locate)."""
    ev = locate_evidence(Evidence(mark.phrase, mark.turn, mark.time, end=mark.end))
    return ReviewMark(mark.reason, ev.turn, mark.time, mark.end, mark.phrase, mark.conf)
