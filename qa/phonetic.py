"""Phrase evidence that survives recognition errors: script phrases matched on pronunciation.

A recognizer that mishears 咨询 as 自行, 或 as 获 or 订单 as 定单 writes other characters for (nearly)
the same sounds, and an exact match then costs the agent a whole item. Here a phrase also matches a
stretch of a turn whose toneless pinyin (each character's first reading in pypinyin's table, so a
character sounds the same in phrase and text) is within a small edit distance of the phrase's:
a substitution costs 1, or ``near_cost`` between syllables telephone audio blurs (zh/z, ch/c, sh/s,
n/l, -ng/-n); a syllable inserted or dropped costs 1. A phrase of ``m`` syllables may cost at most
``floor(tolerance * m)``, or ``floor(unsure_tolerance * m)`` where the recognizer said it was unsure
of the words (the hit is then marked ``unsure``). The stretch must start on the phrase's first
sound and end on its last (a phrase of ``LONG_PHRASE`` syllables or more may slip at the end), so
请问有什么可以帮您 (greeting) does not turn into 还有什么可以帮您 (closing check). Chinese digits
stand for themselves (a read-out number is not a word) and phrases shorter than ``min_syllables``
match only on characters (a lone 请 would hit every 情/清). Pure: text in, hits out, in the compact
coordinates of zhtext.match.

Tolerance and lists were tuned on the development calls (../shared/calls-dev) and checked for false
hits on customer turns there and on JDDC chat text (benchmarks/calls_e2e.py; figures in docs/qa.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

from zhtext.match import Hit, compact_phrase

# Initials and finals telephone audio and southern accents blur: one key per family.
_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("l", "n"))
_FINALS = (("ing", "in"), ("eng", "en"), ("ang", "an"), ("iang", "ian"), ("uang", "uan"))


# A phrase this long may also slip on its last sound (解决 -> 解结): its first sound and the
# budget are specific enough; shorter ones must end on their own last sound too.
LONG_PHRASE = 10

# Digits read out (order and phone numbers) are numbers, not words: 五六 is not 物流, 一四 not 议事.
NUMERALS = frozenset("零〇一二三四五六七八九幺两")


_TONE_MARKS = str.maketrans("āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüńňǹḿ", "aaaaeeeeiiiioooouuuuvvvvvnnnm")


@cache
def reading(ch: str) -> str:
    """The toneless syllable of one character: its first (most common) reading in pypinyin's
    character table, the same for a character wherever it stands, so phrase and text agree;
    digits read out and anything without a reading stand for themselves."""
    if ch in NUMERALS:
        return ch
    from pypinyin.pinyin_dict import pinyin_dict

    raw = pinyin_dict.get(ord(ch))
    if not raw:
        return ch
    return str(raw.split(",", 1)[0]).translate(_TONE_MARKS)


def syllables(text: str) -> tuple[str, ...]:
    """One toneless syllable per character of a compact text (see :func:`reading`)."""
    return tuple(reading(ch) for ch in text)


@lru_cache(maxsize=2048)
def blur(syllable: str) -> str:
    """The syllable with blurred initial and final, so 十/四 (shi/si) and 心/星 (xin/xing) meet."""
    s = syllable
    for a, b in _INITIALS:
        if s.startswith(a):
            s = b + s[len(a) :]
            break
    for a, b in _FINALS:
        if s.endswith(a):
            s = s[: -len(a)] + b
            break
    return s


def sub_cost(a: str, b: str, near_cost: float) -> float:
    if a == b:
        return 0.0
    if blur(a) == blur(b):
        return near_cost
    return 1.0


def best_match(
    phrase: Sequence[str], text: Sequence[str], budget: float, near_cost: float = 0.5
) -> tuple[int, int, float] | None:
    """The cheapest stretch of ``text`` within ``budget`` edits of ``phrase`` that begins and ends
    on the phrase's own first and last sounds (a phrase of ``LONG_PHRASE`` or more may end on
    another), as (start, end, cost); ties go to the leftmost.

    Anchored, so 请问有什么可以帮您 (a greeting) is not 还有什么可以帮您 (the closing check) with one
    slip; and fast: only stretches starting on the phrase's first sound are aligned.
    """
    if not phrase or not text:
        return None
    tb = [blur(x) for x in text]
    starts = [k for k, x in enumerate(tb) if x == blur(phrase[0])]
    return _align(phrase, [blur(x) for x in phrase], text, tb, starts, budget, near_cost)


def _align(
    phrase: Sequence[str],
    pb: Sequence[str],
    text: Sequence[str],
    tb: Sequence[str],
    starts: Sequence[int],
    budget: float,
    near_cost: float,
) -> tuple[int, int, float] | None:
    """:func:`best_match` on precomputed blurred sounds and candidate starts."""
    m = len(phrase)
    last = pb[-1]
    slack = int(budget + 1e-9)
    best: tuple[int, int, float] | None = None
    for s in starts:
        window, wb = text[s : s + m + slack], tb[s : s + m + slack]
        n = len(window)
        # edit distance of the phrase against every prefix of the window (fixed start)
        prev = [float(k) for k in range(n + 1)]
        for i in range(m):
            p, q = phrase[i], pb[i]
            cur = [float(i + 1)] + [0.0] * n
            for j in range(n):
                sub = prev[j] + (0.0 if window[j] == p else near_cost if wb[j] == q else 1.0)
                cur[j + 1] = min(sub, prev[j + 1] + 1.0, cur[j] + 1.0)
            if min(cur) > budget + 1e-9:  # no alignment can come back under the budget
                break
            prev = cur
        else:
            for j in range(max(1, m - slack), n + 1):
                cost = prev[j]
                ends_right = wb[j - 1] == last or m >= LONG_PHRASE
                if not ends_right or cost > budget + 1e-9:
                    continue
                # cheaper wins; at the same cost and start the longer stretch (a slip, not a drop)
                if best is None or cost < best[2] - 1e-9 or (best[0] == s and cost <= best[2] + 1e-9):
                    best = (s, s + j, cost)
    return best


@dataclass(frozen=True, slots=True)
class SoundHit(Hit):
    """A phrase found by its sound: ``cost`` in syllable edits (0 = a homophone); ``unsure`` when only
    the looser budget for stretches the recognizer was unsure of let it through."""

    cost: float = 0.0
    unsure: bool = False


@dataclass(frozen=True)
class _Entry:
    key: str
    phrase: str
    compact: str
    sounds: tuple[str, ...]
    sounds_blurred: tuple[str, ...]
    blurred: frozenset[str]
    budget: float
    loose: float


class PhoneticMatcher:
    """Phrase lists matched on toneless pinyin with a per-phrase edit budget.

    ``find(text, exact)`` returns only what the character matcher missed: a key already hit
    (``exact``) at an overlapping place is not reported again.
    """

    def __init__(
        self,
        phrases: Mapping[str, Iterable[str]],
        tolerance: float = 0.2,
        min_syllables: int = 2,
        near_cost: float = 0.5,
        unsure_tolerance: float | None = None,
    ) -> None:
        loose_tol = tolerance if unsure_tolerance is None else unsure_tolerance
        if not 0.0 <= tolerance <= loose_tol < 1.0:
            raise ValueError(f"need 0 <= tolerance <= unsure_tolerance < 1, got {tolerance}, {unsure_tolerance}")
        if min_syllables < 2:
            raise ValueError(f"min_syllables must be at least 2, got {min_syllables}")
        self.tolerance, self.min_syllables, self.near_cost = tolerance, min_syllables, near_cost
        entries: list[_Entry] = []
        seen: set[tuple[str, str]] = set()
        for key, items in phrases.items():
            for phrase in items:
                c = compact_phrase(phrase)
                if len(c) < min_syllables or (key, c) in seen:
                    continue
                seen.add((key, c))
                sounds = syllables(c)
                budget = math.floor(tolerance * len(sounds) + 1e-9)
                loose = math.floor(loose_tol * len(sounds) + 1e-9)
                sb = tuple(blur(x) for x in sounds)
                entries.append(_Entry(key, phrase, c, sounds, sb, frozenset(sb), budget, loose))
        self._entries = tuple(entries)
        # by their first sound: a turn is only compared with phrases it could hold
        self._by_first: dict[str, list[_Entry]] = {}
        for e in entries:
            self._by_first.setdefault(e.sounds_blurred[0], []).append(e)

    def __len__(self) -> int:
        return len(self._entries)

    def find(
        self, text: str, exact: Iterable[Hit] = (), unsure: Callable[[int, int], bool] | None = None
    ) -> list[SoundHit]:
        """Sound hits in compact ``text``; ``unsure(start, end)`` says whether the recognizer was unsure
        of that stretch, where the looser ``unsure_tolerance`` applies (the hit is marked ``unsure``)."""
        if not self._entries or not text:
            return []
        sounds = syllables(text)
        tb = [blur(x) for x in sounds]
        present = frozenset(tb)
        at: dict[str, list[int]] = {}
        for k, x in enumerate(tb):
            at.setdefault(x, []).append(k)
        candidates: list[SoundHit] = []
        entries = [e for first, group in self._by_first.items() if first in present for e in group]
        for e in entries:
            # cheap filter: a match within budget keeps most of the phrase's sounds
            budget = e.loose if unsure is not None else e.budget
            if len(e.blurred - present) > budget or e.compact in text:  # hopeless, or an exact hit
                continue
            found = _align(e.sounds, e.sounds_blurred, sounds, tb, at[e.sounds_blurred[0]], budget, self.near_cost)
            if found is None:
                continue
            start, end, cost = found
            if cost <= e.budget + 1e-9:
                candidates.append(SoundHit(e.key, e.phrase, start, end, cost))
            elif unsure is not None and unsure(start, end):
                candidates.append(SoundHit(e.key, e.phrase, start, end, cost, True))
        # per key, the cheapest (then longest) hits first; nothing where the key is already hit
        candidates.sort(key=lambda h: (h.cost, -(h.end - h.start), h.start))
        taken = [(h.key, h.start, h.end) for h in exact]
        hits: list[SoundHit] = []
        for h in candidates:
            if not any(k == h.key and h.start < b and a < h.end for k, a, b in taken):
                hits.append(h)
                taken.append((h.key, h.start, h.end))
        hits.sort(key=lambda h: (h.unsure, h.start, h.cost))  # sure readings first: scorers take the first
        return hits
