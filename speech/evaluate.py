"""Character error rate for Chinese transcripts (tests and benchmarks).

Both sides are compared in ``zhtext.normalize.cer_form``, the form speech/zh/SOURCES.md asks for:
punctuation and spaces removed, case folded, traditional characters mapped to simplified.
``numbers=True`` also writes Arabic numbers the way the references spell them
(``zhtext.numbers.read_numbers``), as Chinese ASR scoring usually does: Whisper writes "4000套",
"7月28日", "005444879" where the references read 四千套, 七月二十八日, 零零五四四八七九. The plain
figure is the one SOURCES.md asks for; report both.
"""

from __future__ import annotations

from collections.abc import Iterable

from zhtext.normalize import cer_form


def edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def cer(pairs: Iterable[tuple[str, str]], numbers: bool = False) -> float:
    """Corpus CER over (reference, hypothesis) pairs: total edits / total reference characters."""
    edits = chars = 0
    for ref, hyp in pairs:
        r, h = cer_form(ref, numbers=numbers), cer_form(hyp, numbers=numbers)
        edits += edit_distance(r, h)
        chars += len(r)
    return edits / chars if chars else 0.0
