"""Phrase lists compiled once into one Aho-Corasick automaton, and per-dialogue hit caches."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from qa.confidence import Heard, stretch
from qa.dialogue import Dialogue
from qa.phonetic import PhoneticMatcher
from zhtext.match import Hit, PhraseMatcher


@dataclass(frozen=True)
class ForbiddenRule:
    """A 服务禁用语 with the context that excuses it (不知道 + 您… is a question, not a refusal)."""

    phrase: str
    category: str  # dismissive | imperative | negative | blaming | abuse
    unless_followed_by: tuple[str, ...] = ()
    unless_preceded_by: tuple[str, ...] = ()

    @property
    def abusive(self) -> bool:
        return self.category == "abuse"


class PhraseBook:
    """Named phrase lists (greeting, hold, …) plus forbidden rules, matched in one pass per turn."""

    def __init__(
        self,
        lists: Mapping[str, Iterable[str]],
        forbidden: Iterable[ForbiddenRule] = (),
        phonetic: PhoneticScan | None = None,
    ):
        self.lists = {k: tuple(v) for k, v in lists.items()}
        self.phonetic = phonetic
        self.forbidden = tuple(forbidden)
        table: dict[str, list[str]] = {k: list(v) for k, v in self.lists.items()}
        for i, rule in enumerate(self.forbidden):
            table[f"forbidden:{i}"] = [rule.phrase]
        self.matcher = PhraseMatcher(table)

    def scan(self, d: Dialogue) -> DialogueHits:
        per_turn = [self.matcher.find(t.c.text) for t in d.turns]
        if self.phonetic is not None and d.channel in self.phonetic.channels:
            match = self.phonetic.matcher
            per_turn = [
                [*hits, *match.find(t.c.text, hits, unsure_at(t.heard) if t.heard else None)]
                for t, hits in zip(d.turns, per_turn, strict=True)
            ]
        return DialogueHits(self, per_turn)


@dataclass(frozen=True)
class PhoneticScan:
    """Which lists are also matched on sound (qa.phonetic), and on which channels (recognized calls)."""

    matcher: PhoneticMatcher
    channels: tuple[str, ...] = ("call",)

    @classmethod
    def build(
        cls,
        lists: Mapping[str, Iterable[str]],
        names: Iterable[str],
        tolerance: float = 0.2,
        min_syllables: int = 2,
        channels: Iterable[str] = ("call",),
        unsure_tolerance: float | None = None,
    ) -> PhoneticScan:
        chosen = {n: tuple(lists[n]) for n in names}
        matcher = PhoneticMatcher(chosen, tolerance, min_syllables, unsure_tolerance=unsure_tolerance)
        return cls(matcher, tuple(channels))


def unsure_at(heard: Sequence[Heard]) -> Callable[[int, int], bool]:
    """Whether the recognizer was unsure of a compact stretch of the turn (qa.confidence)."""

    def unsure(start: int, end: int) -> bool:
        s = stretch(heard, start, end)
        return s is not None and s.unsure

    return unsure


class DialogueHits:
    """All phrase hits of one dialogue, by turn; scorers filter by list name."""

    def __init__(self, book: PhraseBook, per_turn: list[list[Hit]]):
        self.book = book
        self.per_turn = per_turn

    def find(self, turn: int, key: str) -> list[Hit]:
        return [h for h in self.per_turn[turn] if h.key == key]

    def first(self, turn: int, key: str) -> Hit | None:
        for h in self.per_turn[turn]:
            if h.key == key:
                return h
        return None

    def count(self, turn: int, key: str) -> int:
        return sum(1 for h in self.per_turn[turn] if h.key == key)
