"""Phrase lists compiled once into one Aho-Corasick automaton, and per-dialogue hit caches."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from qa.dialogue import Dialogue
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

    def __init__(self, lists: Mapping[str, Iterable[str]], forbidden: Iterable[ForbiddenRule] = ()):
        self.lists = {k: tuple(v) for k, v in lists.items()}
        self.forbidden = tuple(forbidden)
        table: dict[str, list[str]] = {k: list(v) for k, v in self.lists.items()}
        for i, rule in enumerate(self.forbidden):
            table[f"forbidden:{i}"] = [rule.phrase]
        self.matcher = PhraseMatcher(table)

    def scan(self, d: Dialogue) -> DialogueHits:
        return DialogueHits(self, [self.matcher.find(t.c.text) for t in d.turns])


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
