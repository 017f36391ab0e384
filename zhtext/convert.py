"""Traditional -> simplified Chinese with OpenCC's t2s conversion (opencc-python-reimplemented).

ASR (Whisper especially) and chat data can carry traditional characters; everything we match,
score and train on is simplified. OpenCC converts phrases before characters (頭髮 -> 头发, while
乾隆 stays 乾隆 where a character table writes 干隆).

Only text that is evidently traditional is converted: text holding a character whose simplified
form differs (a key of OpenCC's TSCharacters with another first target). Other text comes back
unchanged, as the same object. This matters beyond speed (OpenCC in pure Python costs tens of
microseconds per short turn): characters valid in both scripts (覆 藉 瞭 沈 …) stay as written
in simplified text, where OpenCC's phrase table would rewrite them (沈默 -> 沉默, though 沈 is
also a surname). It is the rule the shipped QA models were trained with.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any


@lru_cache(maxsize=1)
def _converter() -> Any:
    """One converter per process; after construction ``convert`` only reads its dictionaries."""
    import opencc

    return opencc.OpenCC("t2s")


@lru_cache(maxsize=1)
def _traditional() -> frozenset[str]:
    """The characters that mark text as traditional (a set: ``isdisjoint`` beats a regex class 8x here)."""
    import opencc

    path = Path(opencc.__file__).parent / "dictionary" / "TSCharacters.txt"
    chars: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, targets = line.strip().partition("\t")
        if len(key) == 1 and sep and targets.split(" ")[0] != key:
            chars.add(key)
    return frozenset(chars)


def is_traditional(text: str) -> bool:
    """Does ``text`` hold a character whose simplified form differs (書, 頭, 會; not 覆 or 沈)?"""
    return not _traditional().isdisjoint(text)


def to_simplified(text: str) -> str:
    """Evidently traditional text -> simplified (OpenCC t2s, phrase aware); other text unchanged, as is."""
    if not is_traditional(text):
        return text
    return str(_converter().convert(text))
