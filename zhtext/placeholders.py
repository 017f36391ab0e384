"""Personal data in text: masking placeholders and the raw numbers that masking missed.

JD's JDDC chat data masks personal data as ``[订单x]``, ``[电话x]``; redaction tools write
``[PHONE]`` or ``<电话>``. Each known tag maps to a kind (order, phone, …). Inside compact text
(``zhtext.match``) a placeholder becomes one private-use character per kind, so a phrase list
can say "an order number" as the single character ``kind_mark("order")``.
"""

from __future__ import annotations

import re

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
PLACEHOLDER = re.compile(r"[\[<【]\s*([\u4e00-\u9fffA-Za-z_]{1,10}?)\s*x?\s*[\]>】]")

_KIND_MARK: dict[str, str] = {kind: chr(0xE000 + i) for i, kind in enumerate(sorted(set(PLACEHOLDER_KINDS.values())))}
MARK_KIND: dict[str, str] = {v: k for k, v in _KIND_MARK.items()}


def kind_mark(kind: str) -> str:
    """The private-use character standing for a placeholder of ``kind`` in compact text."""
    return _KIND_MARK[kind]


def placeholder_kind(tag: str) -> str | None:
    """``订单`` / ``PHONE`` (the inside of a tag) -> its kind, or None for a tag we do not know."""
    return PLACEHOLDER_KINDS.get(tag.strip().lower())


# Raw personal numbers that redaction missed (ASR or chat): mainland ID card, bank card, mobile.
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
