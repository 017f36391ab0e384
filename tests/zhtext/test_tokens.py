"""Joining recognizer tokens: Mandarin without spaces, Latin with."""

from __future__ import annotations

import pytest

from zhtext.tokens import is_cjk, join_text, join_tokens, needs_space


@pytest.mark.parametrize(
    ("tokens", "joined"),
    [
        ("我 要 查 订单", "我要查订单"),
        ("我 的 iphone 坏 了", "我的iphone坏了"),
        ("iphone 15 pro max", "iphone 15 pro max"),
        ("订单 号 是 12345", "订单号是12345"),
        ("你好 ， 请问", "你好，请问"),
        ("ok 好 的", "ok好的"),
        ("배송 조회", "배송 조회"),
        ("hello world", "hello world"),
        ("  ", ""),
        ("京东 plus 会员", "京东plus会员"),
    ],
)
def test_join(tokens: str, joined: str) -> None:
    assert join_text(tokens) == joined
    assert join_tokens(tokens.split()) == joined


def test_cjk_and_spaces() -> None:
    assert is_cjk("好") and is_cjk("，") and is_cjk("Ａ") and not is_cjk("a") and not is_cjk("")
    assert needs_space("iphone", "15") and not needs_space("我", "ok") and not needs_space("", "ok")
