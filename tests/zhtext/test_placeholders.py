"""Masking placeholders and the raw personal numbers masking missed."""

from __future__ import annotations

from zhtext.placeholders import MARK_KIND, PLACEHOLDER_KINDS, kind_mark, placeholder_kind, raw_numbers


def test_raw_numbers() -> None:
    text = "手机13812345678，身份证110101199001011234，卡号6222021234567890123，订单[订单x]"
    assert [k for k, _, _ in raw_numbers(text)] == ["phone", "id_card", "bank_card"]
    _, a, b = raw_numbers(text)[0]
    assert text[a:b] == "13812345678"
    assert raw_numbers("订单号1234567890，价格389元") == []  # ten digits is no phone


def test_placeholder_kinds_and_marks() -> None:
    assert placeholder_kind(" PHONE ") == "phone" and placeholder_kind("订单") == "order"
    assert placeholder_kind("商品快照") is None
    kinds = set(PLACEHOLDER_KINDS.values())
    assert {MARK_KIND[kind_mark(k)] for k in kinds} == kinds  # one private-use mark per kind, and back
    assert all(0xE000 <= ord(kind_mark(k)) <= 0xE0FF for k in kinds)
