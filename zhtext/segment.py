"""Word segmentation: jieba with the hotline's domain words, one private tokenizer per word list.

jieba's global tokenizer is never touched (its words would leak between users). Building a
tokenizer loads jieba's prefix dictionary (about a second), so one is built per word list and
process, under a lock, and then shared.

Sharing needs no lock around ``cut`` (checked in jieba 0.42.1's ``jieba/__init__.py``): once a
``Tokenizer`` is initialised, ``cut`` only reads its prefix dictionary (``FREQ``, ``total``); the
DAG and the route of a sentence are local variables of ``get_DAG``/``calc``/``__cut_DAG``, and the
HMM step (``finalseg``) reads module-level tables. What is not safe is changing the dictionary
(``add_word``, ``del_word``, ``load_userdict``, ``initialize``) while another thread cuts, so words
go in at construction only and a built ``Segmenter`` has no way to add more.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from zhtext.normalize import normalize

# Terms of JD's service (and the hotline's numbers) kept as one word.
DOMAIN_WORDS = (
    "京东",
    "京东自营",
    "京东物流",
    "京东快递",
    "京东支付",
    "京东白条",
    "白条",
    "京豆",
    "京东e卡",
    "PLUS",
    "PLUS会员",
    "订单号",
    "七天无理由",
    "7天无理由",
    "无理由退货",
    "价保",
    "价格保护",
    "退换货",
    "上门取件",
    "售后",
    "售后服务单",
    "运单号",
    "自提点",
    "211限时达",
    "极速达",
    "增值税专用发票",
    "电子发票",
    "优惠券",
    "满减",
    "秒杀",
    "客服",
    "人工客服",
    "950618",
    "12315",
    "差评",
    "投诉",
)
DOMAIN_FREQ = 2_000_000  # high enough that a domain word beats any split jieba's dictionary proposes


class Segmenter:
    """A private jieba tokenizer with extra ``words`` (each given frequency ``freq``); thread-safe ``cut``."""

    def __init__(self, words: Iterable[str], freq: int) -> None:
        import jieba

        jieba.setLogLevel(logging.WARNING)  # its prefix-dictionary chatter is not our log
        tok = jieba.Tokenizer()
        tok.initialize()
        for word in dict.fromkeys(words):  # a word added twice would count twice in jieba's total
            tok.add_word(word, freq=freq)
        self._tok: Any = tok

    def cut(self, text: str) -> list[str]:
        """Words of ``text`` (HMM on for words jieba's dictionary lacks), whitespace tokens dropped."""
        return [w for w in self._tok.cut(text, HMM=True) if w.strip()]


_lock = threading.Lock()


@lru_cache(maxsize=4)  # a tokenizer holds jieba's whole prefix dictionary: keep a few, not one per menu ever seen
def _cached(words: tuple[str, ...], freq: int) -> Segmenter:
    return Segmenter(words, freq)


def segmenter(words: Iterable[str], freq: int) -> Segmenter:
    """The process's segmenter for this word list (in this order) and frequency, built once."""
    with _lock:  # two threads asking at once must not both spend a second building one
        return _cached(tuple(dict.fromkeys(words)), freq)


@lru_cache(maxsize=1)
def _domain_words() -> tuple[str, ...]:
    return tuple(normalize(w) for w in DOMAIN_WORDS)  # as the text they are looked for in


def tokenize(text: str) -> list[str]:
    """Words of a text in its normal form (``normalize``), the domain terms kept whole."""
    return segmenter(_domain_words(), DOMAIN_FREQ).cut(normalize(text))
