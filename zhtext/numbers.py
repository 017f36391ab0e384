"""Arabic numbers read as spoken Chinese, the way Chinese ASR references spell them.

Whisper writes "4000套", "7月28日", "005444879" where AISHELL-style references read 四千套,
七月二十八日, 零零五四四八七九; scoring a transcript against such references with numbers read
out is the usual convention (``zhtext.normalize.cer_form(..., numbers=True)``).
"""

from __future__ import annotations

import re

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
