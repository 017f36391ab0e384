"""Phrase matching on the compact form: Aho-Corasick over phrases, hits mapped back to the text.

Everything QA matches runs on a *compact* form of a turn (``zhtext.normalize.normalize``, then
no spaces, punctuation or ``_``) so that ASR spacing (``谢 谢``) and chat punctuation never hide a
phrase. Placeholders (``[订单x]``) become one mark character each (``zhtext.placeholders``), and a
position map leads every hit back to the normalised text for evidence.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import ahocorasick

from zhtext.normalize import normalize
from zhtext.placeholders import PLACEHOLDER, kind_mark, placeholder_kind

_DROP = re.compile(r"[^\w\ue000-\ue0ff]|_")


def _mark(m: re.Match[str]) -> str:
    kind = placeholder_kind(m.group(1))
    return kind_mark(kind) if kind else m.group(0)


class Compact:
    """Normalised text without spaces/punctuation; char i came from ``norm[pos[i]:ends[i]]``.

    The position map is only needed for evidence, so it is built on first use.
    """

    __slots__ = ("_ends", "_pos", "norm", "text")

    def __init__(self, norm: str, text: str):
        self.norm = norm
        self.text = text
        self._pos: tuple[int, ...] | None = None
        self._ends: tuple[int, ...] = ()

    def __repr__(self) -> str:
        return f"Compact({self.text!r})"

    @property
    def pos(self) -> tuple[int, ...]:
        if self._pos is None:
            self._pos, self._ends = _positions(self.norm)
        return self._pos

    @property
    def ends(self) -> tuple[int, ...]:
        if self._pos is None:
            self._pos, self._ends = _positions(self.norm)
        return self._ends

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Compact [start, end) -> normalised [start, end)."""
        pos = self.pos
        if not pos or end <= start:
            return (0, 0)
        return (pos[start], self.ends[end - 1])

    def snippet(self, start: int, end: int) -> str:
        a, b = self.span(start, end)
        return self.norm[a:b]


def _positions(norm: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Where each compact character came from (same rules as :func:`compact`)."""
    pos: list[int] = []
    ends: list[int] = []
    i = 0
    n = len(norm)
    while i < n:
        ch = norm[i]
        if ch in "[<【":
            m = PLACEHOLDER.match(norm, i)
            if m and placeholder_kind(m.group(1)):
                pos.append(i)
                ends.append(m.end())
                i = m.end()
                continue
        if not _DROP.match(ch):
            pos.append(i)
            ends.append(i + 1)
        i += 1
    return tuple(pos), tuple(ends)


def compact(text: str) -> Compact:
    """Build the compact form; placeholders become one marker character each."""
    norm = normalize(text)
    marked = PLACEHOLDER.sub(_mark, norm) if ("[" in norm or "<" in norm or "【" in norm) else norm
    return Compact(norm, _DROP.sub("", marked))


def compact_phrase(phrase: str) -> str:
    """A phrase as the matcher sees it (same rules as :func:`compact`)."""
    return compact(phrase).text


@dataclass(frozen=True, slots=True)
class Hit:
    """One phrase occurrence: its key (e.g. category), the phrase, compact span."""

    key: str
    phrase: str
    start: int
    end: int


class PhraseMatcher:
    """Aho-Corasick over compact phrases; ``find`` returns hits in compact coordinates.

    ``phrases`` maps key -> phrases (a key is a category such as ``greeting``). With
    ``longest=True`` overlapping hits are resolved leftmost-longest, so 不错 wins over 错.
    ``form`` turns a phrase into what is searched for; it must match how the searched text was
    prepared (``compact_phrase`` for :func:`compact` text, ``str`` for phrases already in that form).
    """

    def __init__(self, phrases: Mapping[str, Iterable[str]], form: Callable[[str], str] = compact_phrase):
        self._automaton = ahocorasick.Automaton()
        self._count = 0
        for key, items in phrases.items():
            for phrase in items:
                c = form(phrase)
                if not c:
                    continue
                existing = self._automaton.get(c, None)
                value = (*existing, (key, phrase, len(c))) if existing else ((key, phrase, len(c)),)
                self._automaton.add_word(c, value)
                self._count += 1
        if self._count:
            self._automaton.make_automaton()

    def __len__(self) -> int:
        return self._count

    def find(self, text: str, longest: bool = False) -> list[Hit]:
        if not self._count or not text:
            return []
        hits: list[Hit] = []
        for end_idx, values in self._automaton.iter(text):
            for key, phrase, length in values:
                hits.append(Hit(key, phrase, end_idx - length + 1, end_idx + 1))
        if not longest:
            hits.sort(key=lambda h: (h.start, -h.end))
            return hits
        hits.sort(key=lambda h: (h.start, -(h.end - h.start)))
        chosen: list[Hit] = []
        last_end = -1
        for h in hits:
            if h.start >= last_end:
                chosen.append(h)
                last_end = h.end
        return chosen
