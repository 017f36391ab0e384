"""The normal forms of Chinese text: one place, a function per form a caller needs.

Every form starts the same way: NFKC (full width -> half width: ＡＢＣ１２３ -> ABC123, ！ -> !),
traditional -> simplified (``zhtext.convert``), lower case. They differ in what they then drop:

- ``normalize``: readable; runs of whitespace become one space. QA scores and quotes evidence from it.
- ``compact_key``: a matching key with no whitespace, punctuation, symbols or ``_`` at all (ASR spacing
  and chat punctuation never hide a phrase). The IVR routers match menu words and requests on it.
- ``cer_form``: what a character error rate is computed on (speech/zh SOURCES.md): whitespace and
  punctuation removed, case folded, optionally numbers read out as the references spell them.

The compact form QA matches phrases on, with placeholders as marks and a map back to the text, is
``zhtext.match.compact``.
"""

from __future__ import annotations

import re
import unicodedata

from zhtext.convert import to_simplified
from zhtext.numbers import read_numbers

_WS = re.compile(r"\s+")
_NOT_WORD = re.compile(r"[\s\W_]+")
# Bracketed tags of masked chat data ([订单x], [数字x], [商品快照]): no intent, no words.
_TAG = re.compile(r"\[[^\]]{1,12}\]")


def fold(text: str, *, casefold: bool = False) -> str:
    """NFKC, simplified characters, lower case (``casefold``: full Unicode case folding, ß -> ss)."""
    text = to_simplified(unicodedata.normalize("NFKC", text))
    return text.casefold() if casefold else text.lower()


def normalize(text: str) -> str:
    """Readable normal form: NFKC, simplified, lower-case Latin, single spaces, trimmed."""
    return _WS.sub(" ", fold(text)).strip()


def compact_key(text: str, *, simplify: bool = True, drop_tags: bool = False) -> str:
    """Matching key: NFKC, lower case, no whitespace, punctuation, symbols or ``_``.

    ``simplify``: traditional -> simplified too (the keyword router matches the menu's words as
    written: False). ``drop_tags``: remove bracketed tags of masked chat data (``[订单x]``) first.
    """
    text = unicodedata.normalize("NFKC", text or "")
    if drop_tags:
        text = _TAG.sub("", text)
    if simplify:
        text = to_simplified(text)
    return _NOT_WORD.sub("", text.lower())


def cer_form(text: str, *, numbers: bool = False) -> str:
    """The form transcripts and references are compared on for a character error rate.

    NFKC, simplified, case folded; ``numbers``: Arabic numbers read as spoken Chinese
    (``zhtext.numbers.read_numbers``) before punctuation goes, so 3.5 reads 三点五.
    """
    text = fold(text, casefold=True)
    if numbers:
        text = read_numbers(text)
    return "".join(ch for ch in text if not (ch.isspace() or unicodedata.category(ch).startswith("P")))
