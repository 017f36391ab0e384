"""Arabic numbers read as spoken Chinese (ASR scoring against AISHELL-style references)."""

from __future__ import annotations

import pytest

from zhtext.numbers import read_numbers


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("005444879", "零零五四四四八七九"),  # a code: digit by digit
        ("9687785", "九六八七七八五"),  # 7+ digits: digit by digit
        ("4000套", "四千套"),
        ("440万", "四百四十万"),
        ("第23条", "第二十三条"),
        ("7月28日", "七月二十八日"),
        ("2024年", "二零二四年"),
        ("1-2线", "一-二线"),
        ("3.5元", "三点五元"),
        ("15", "十五"),
        ("110", "一百一十"),
        ("1005", "一千零五"),
        ("50005", "五万零五"),
        ("120000", "十二万"),
        ("没有数字", "没有数字"),
    ],
)
def test_read_numbers_for_scoring(text: str, spoken: str) -> None:
    assert read_numbers(text) == spoken
