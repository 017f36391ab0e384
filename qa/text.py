"""Chinese text handling for the scorers: normalisation, placeholders, phrase matching, segmentation.

Everything the scorers match runs on a *compact* form of a turn (simplified characters, half
width, lower case, no spaces or punctuation) so that ASR spacing (``谢 谢``) and chat punctuation
never hide a phrase; a position map leads every hit back to the original text for evidence.
Traditional characters are converted with opencc-python-reimplemented's own tables (a fast
character table first, the full phrase converter only when a traditional character is present).
jieba is loaded lazily, once, with a domain dictionary; the hot scoring path does not need it.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import ahocorasick

# --- normalisation ---------------------------------------------------------------------------

_WS = re.compile(r"\s+")


@lru_cache(maxsize=1)
def _t2s_table() -> dict[int, str]:
    """Single-character traditional -> simplified table from OpenCC's TSCharacters dictionary."""
    import opencc

    path = Path(opencc.__file__).parent / "dictionary" / "TSCharacters.txt"
    table: dict[int, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) == 2 and len(parts[0]) == 1:
            target = parts[1].split(" ")[0]
            if target != parts[0]:
                table[ord(parts[0])] = target
    return table


_converter_lock = threading.Lock()
_converter: Any = None


def _opencc() -> Any:
    global _converter
    with _converter_lock:
        if _converter is None:
            import opencc

            _converter = opencc.OpenCC("t2s")
        return _converter


def to_simplified(text: str) -> str:
    """Traditional -> simplified; simplified text costs one ``str.translate``."""
    quick = text.translate(_t2s_table())
    if quick == text:
        return text
    return str(_opencc().convert(text))


def normalize(text: str) -> str:
    """NFKC (full width -> half width), simplified characters, single spaces, lower-case Latin."""
    text = unicodedata.normalize("NFKC", text)
    text = to_simplified(text)
    return _WS.sub(" ", text).strip().lower()


# --- placeholders (JD masking, our redaction) -------------------------------------------------

# JD's JDDC masking ``[订单x]`` and plausible redaction tags ``[PHONE]`` / ``<电话>`` map to a kind.
PLACEHOLDER_KINDS: dict[str, str] = {
    "订单": "order",
    "订单号": "order",
    "电话": "phone",
    "手机": "phone",
    "手机号": "phone",
    "姓名": "name",
    "身份证": "id_card",
    "身份证号": "id_card",
    "银行卡": "bank_card",
    "银行卡号": "bank_card",
    "地址": "address",
    "邮箱": "email",
    "金额": "amount",
    "数字": "number",
    "日期": "date",
    "时间": "time",
    "站点": "station",
    "链接": "url",
    "组织机构": "organisation",
    "phone": "phone",
    "order": "order",
    "name": "name",
    "id": "id_card",
    "id_card": "id_card",
    "idcard": "id_card",
    "bank_card": "bank_card",
    "card": "bank_card",
    "address": "address",
    "email": "email",
}
_PLACEHOLDER = re.compile(r"[\[<【]\s*([\u4e00-\u9fffA-Za-z_]{1,10}?)\s*x?\s*[\]>】]")

# One private-use character per kind stands in for the placeholder inside compact text, so a
# phrase list can say "an order number" as the single character ORDER_MARK.
_KIND_MARK: dict[str, str] = {}
for _i, _kind in enumerate(sorted(set(PLACEHOLDER_KINDS.values()))):
    _KIND_MARK[_kind] = chr(0xE000 + _i)
MARK_KIND: dict[str, str] = {v: k for k, v in _KIND_MARK.items()}


def kind_mark(kind: str) -> str:
    return _KIND_MARK[kind]


def placeholder_kind(tag: str) -> str | None:
    return PLACEHOLDER_KINDS.get(tag.strip().lower())


# Raw personal numbers that redaction missed (ASR or chat).
_RAW_PII = (
    ("id_card", re.compile(r"(?<!\d)\d{17}[\dxX](?!\d)")),
    ("bank_card", re.compile(r"(?<!\d)(?:62|4\d|5[1-5])\d{14,17}(?!\d)")),
    ("phone", re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")),
)


_LONG_NUMBER = re.compile(r"\d{11}")


def raw_numbers(text: str) -> list[tuple[str, int, int]]:
    """Unmasked phone, ID-card and bank-card numbers (kind, start, end) in a text."""
    if not _LONG_NUMBER.search(text):
        return []
    found: list[tuple[str, int, int]] = []
    for kind, rx in _RAW_PII:
        for m in rx.finditer(text):
            if not any(a < m.end() and m.start() < b for _, a, b in found):
                found.append((kind, m.start(), m.end()))
    return sorted(found, key=lambda e: e[1])


def entities(text: str) -> list[tuple[str, int, int]]:
    """Personal/variable data in a text: (kind, start, end), masked placeholders and raw numbers."""
    found: list[tuple[str, int, int]] = []
    for m in _PLACEHOLDER.finditer(text):
        kind = placeholder_kind(m.group(1))
        if kind:
            found.append((kind, m.start(), m.end()))
    taken: list[tuple[int, int]] = []
    for kind, rx in _RAW_PII:
        for m in rx.finditer(text):
            if any(a < m.end() and m.start() < b for a, b in taken):
                continue
            taken.append((m.start(), m.end()))
            found.append((kind, m.start(), m.end()))
    return sorted(found, key=lambda e: e[1])


# --- compact form -----------------------------------------------------------------------------

_DROP = re.compile(r"[^\w\ue000-\ue0ff]|_")


def _mark(m: re.Match[str]) -> str:
    kind = placeholder_kind(m.group(1))
    return _KIND_MARK[kind] if kind else m.group(0)


class Compact:
    """Normalised text without spaces/punctuation; char i came from ``norm[pos[i]:ends[i]]``.

    The position map is only needed for evidence, so it is built on first use.
    """

    __slots__ = ("_ends", "_pos", "norm", "text")

    def __init__(self, norm: str, text: str):
        self.norm = norm
        self.text = text
        self._pos: tuple[int, ...] | None = None
        self._ends: tuple[int, ...] = ()

    def __repr__(self) -> str:
        return f"Compact({self.text!r})"

    @property
    def pos(self) -> tuple[int, ...]:
        if self._pos is None:
            self._pos, self._ends = _positions(self.norm)
        return self._pos

    @property
    def ends(self) -> tuple[int, ...]:
        if self._pos is None:
            self._pos, self._ends = _positions(self.norm)
        return self._ends

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Compact [start, end) -> normalised [start, end)."""
        pos = self.pos
        if not pos or end <= start:
            return (0, 0)
        return (pos[start], self.ends[end - 1])

    def snippet(self, start: int, end: int) -> str:
        a, b = self.span(start, end)
        return self.norm[a:b]


def _positions(norm: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Where each compact character came from (same rules as :func:`compact`)."""
    pos: list[int] = []
    ends: list[int] = []
    i = 0
    n = len(norm)
    while i < n:
        ch = norm[i]
        if ch in "[<【":
            m = _PLACEHOLDER.match(norm, i)
            if m and placeholder_kind(m.group(1)):
                pos.append(i)
                ends.append(m.end())
                i = m.end()
                continue
        if not _DROP.match(ch):
            pos.append(i)
            ends.append(i + 1)
        i += 1
    return tuple(pos), tuple(ends)


def compact(text: str) -> Compact:
    """Build the compact form; placeholders become one marker character each."""
    norm = normalize(text)
    marked = _PLACEHOLDER.sub(_mark, norm) if ("[" in norm or "<" in norm or "【" in norm) else norm
    return Compact(norm, _DROP.sub("", marked))


def compact_phrase(phrase: str) -> str:
    """A phrase as the matcher sees it (same rules as :func:`compact`)."""
    return compact(phrase).text


# --- phrase matching --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hit:
    """One phrase occurrence: its key (e.g. category), the phrase, compact span."""

    key: str
    phrase: str
    start: int
    end: int


class PhraseMatcher:
    """Aho-Corasick over compact phrases; ``find`` returns hits in compact coordinates.

    ``phrases`` maps key -> phrases (a key is a category such as ``greeting``). With
    ``longest=True`` overlapping hits are resolved leftmost-longest, so 不错 wins over 错.
    """

    def __init__(self, phrases: Mapping[str, Iterable[str]]):
        self._automaton = ahocorasick.Automaton()
        self._count = 0
        for key, items in phrases.items():
            for phrase in items:
                c = compact_phrase(phrase)
                if not c:
                    continue
                existing = self._automaton.get(c, None)
                value = (*existing, (key, phrase, len(c))) if existing else ((key, phrase, len(c)),)
                self._automaton.add_word(c, value)
                self._count += 1
        if self._count:
            self._automaton.make_automaton()

    def __len__(self) -> int:
        return self._count

    def find(self, text: str, longest: bool = False) -> list[Hit]:
        if not self._count or not text:
            return []
        hits: list[Hit] = []
        for end_idx, values in self._automaton.iter(text):
            for key, phrase, length in values:
                hits.append(Hit(key, phrase, end_idx - length + 1, end_idx + 1))
        if not longest:
            hits.sort(key=lambda h: (h.start, -h.end))
            return hits
        hits.sort(key=lambda h: (h.start, -(h.end - h.start)))
        chosen: list[Hit] = []
        last_end = -1
        for h in hits:
            if h.start >= last_end:
                chosen.append(h)
                last_end = h.end
        return chosen


# --- segmentation (jieba, lazy) ---------------------------------------------------------------

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

_jieba_lock = threading.Lock()
_jieba: Any = None


def _tokenizer() -> Any:
    """jieba's default tokenizer with the domain words added; built once per process."""
    global _jieba
    with _jieba_lock:
        if _jieba is None:
            import logging

            import jieba

            jieba.setLogLevel(logging.WARNING)
            tok = jieba.Tokenizer()
            for word in DOMAIN_WORDS:
                tok.add_word(normalize(word), freq=2_000_000)
            _jieba = tok
        return _jieba


def tokenize(text: str) -> list[str]:
    """Words of a normalised text (jieba, HMM on), domain terms kept whole."""
    return [w for w in _tokenizer().lcut(normalize(text), HMM=True) if w.strip()]
