"""Joining recognizer tokens into text, Chinese/Latin aware.

Vosk's Chinese models emit one token per word separated by spaces ("我 要 查 订单"); written
Chinese has no spaces, but Latin words and numbers between them keep theirs ("iPhone 15 Pro").
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Han ideographs, CJK punctuation and full-width forms: no space next to them.
_CJK = re.compile(
    r"[\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u31a0-\u31bf"
    r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]"
)


def is_cjk(ch: str) -> bool:
    """Is ``ch`` a Han ideograph, kana, bopomofo, CJK punctuation or a full-width form?"""
    return bool(ch) and _CJK.match(ch) is not None


def needs_space(left: str, right: str) -> bool:
    """A space goes between two tokens unless either side touching the gap is CJK."""
    if not left or not right:
        return False
    return not (is_cjk(left[-1]) or is_cjk(right[0]))


def join_tokens(tokens: Iterable[str]) -> str:
    """Tokens joined as written text: no space next to Chinese, one between Latin words and numbers."""
    out = ""
    for tok in tokens:
        tok = tok.strip()
        if not tok:
            continue
        if out and needs_space(out, tok):
            out += " "
        out += tok
    return out


def join_text(text: str) -> str:
    """Re-join a space-separated recognizer string ("我 要 iPhone 15" -> "我要iPhone 15")."""
    return join_tokens(text.split())
