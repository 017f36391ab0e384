"""Character error rate for Chinese transcripts (tests and benchmarks).

Both sides are normalised the way speech/zh/SOURCES.md asks: punctuation and spaces removed,
case folded, traditional characters mapped to simplified. ``numbers=True`` also writes Arabic
numbers the way the references spell them (``read_numbers``), as Chinese ASR scoring usually does:
Whisper writes "4000套", "7月28日", "005444879" where the references read 四千套, 七月二十八日,
零零五四四八七九. The plain figure is the one SOURCES.md asks for; report both.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

DIGITS = "零一二三四五六七八九"
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _positional(n: int) -> str:
    """0 <= n < 10**8 read as a quantity: 440 -> 四百四十, 4000 -> 四千, 15 -> 十五, 50005 -> 五万零五."""
    if n == 0:
        return DIGITS[0]
    if n >= 10000:
        high, low = divmod(n, 10000)
        rest = "" if low == 0 else ("零" if low < 1000 else "") + _positional(low)
        return _positional(high) + "万" + rest
    out, zero = "", False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = n // value % 10
        if d == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += ("" if (unit == "十" and not out and n < 20) else DIGITS[d]) + unit
    return out


def read_numbers(text: str) -> str:
    """Arabic numbers as spoken Chinese: codes (leading zero, 7+ digits) and years digit by digit,
    other integers positionally, decimals with 点. Each run separately: "1-2线" -> 一-二线."""

    def read(m: re.Match[str]) -> str:
        whole, _, frac = m.group().partition(".")
        after = m.string[m.end() : m.end() + 1]
        if (whole.startswith("0") and len(whole) > 1) or len(whole) >= 7 or (len(whole) == 4 and after == "年"):
            head = "".join(DIGITS[int(c)] for c in whole)
        else:
            head = _positional(int(whole))
        return head + ("点" + "".join(DIGITS[int(c)] for c in frac) if frac else "")

    return _NUMBER.sub(read, text)


def normalize(text: str, numbers: bool = False) -> str:
    from speech.engines.whisper import to_simplified

    text = to_simplified(unicodedata.normalize("NFKC", text)).casefold()
    if numbers:
        text = read_numbers(text)
    return "".join(ch for ch in text if not (ch.isspace() or unicodedata.category(ch).startswith("P")))


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
        r, h = normalize(ref, numbers), normalize(hyp, numbers)
        edits += edit_distance(r, h)
        chars += len(r)
    return edits / chars if chars else 0.0
