"""Character error rate for Chinese transcripts (tests and benchmarks).

Both sides are normalised the way speech/zh/SOURCES.md asks: punctuation and spaces removed,
case folded, traditional characters mapped to simplified.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable


def normalize(text: str) -> str:
    from speech.engines.whisper import to_simplified

    text = to_simplified(unicodedata.normalize("NFKC", text)).casefold()
    return "".join(ch for ch in text if not (ch.isspace() or unicodedata.category(ch).startswith("P")))


def edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def cer(pairs: Iterable[tuple[str, str]]) -> float:
    """Corpus CER over (reference, hypothesis) pairs: total edits / total reference characters."""
    edits = chars = 0
    for ref, hyp in pairs:
        r, h = normalize(ref), normalize(hyp)
        edits += edit_distance(r, h)
        chars += len(r)
    return edits / chars if chars else 0.0
