"""The normal forms: readable (QA), matching key (IVR routers), CER form (speech scoring)."""

from __future__ import annotations

import pytest

from zhtext.normalize import cer_form, compact_key, fold, normalize


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ＡＢＣ１２３", "abc123"),  # full width -> half width, lower case
        ("您好！请问？", "您好!请问?"),
        ("  谢   谢  ", "谢 谢"),
        ("請問還有其他可以幫到您的嗎", "请问还有其他可以帮到您的吗"),  # traditional -> simplified
        ("感謝您對京東的支持", "感谢您对京东的支持"),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_compact_key() -> None:
    assert compact_key("ＰＬＵＳ會員 怎麼退訂？") == "plus会员怎么退订"
    assert compact_key("订单[订单x]还没到!", drop_tags=True) == "订单还没到"
    assert compact_key("订单[订单x]还没到!") == "订单订单x还没到"  # tags kept unless asked
    assert compact_key("會員_卡 +1", simplify=False) == "會員卡1"  # as written: the keyword router's form
    assert compact_key("乾隆[订单x]年間", drop_tags=True) == "乾隆年间"  # tags go before conversion


def test_cer_form() -> None:
    assert cer_form("這是 測試，OK！") == "这是测试ok"
    assert cer_form("3.5元。") == "35元"  # the point is punctuation too
    assert cer_form("3.5元。", numbers=True) == "三点五元"  # numbers read before punctuation goes
    assert cer_form("a+b=c") == "a+b=c"  # symbols are not punctuation: kept
    assert cer_form("Straße") == "strasse"  # case folded, where the other forms lower-case
    assert fold("Straße") == "straße" and fold("Straße", casefold=True) == "strasse"
