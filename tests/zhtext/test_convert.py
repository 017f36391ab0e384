"""Traditional -> simplified: OpenCC's phrase-aware t2s, applied to evidently traditional text only."""

from __future__ import annotations

from pathlib import Path

import opencc
import pytest

from zhtext.convert import is_traditional, to_simplified


def _ts_characters() -> list[tuple[str, str]]:
    path = Path(opencc.__file__).parent / "dictionary" / "TSCharacters.txt"
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()]
    return [(key, targets.split(" ")[0]) for key, targets in rows]


def test_simplified_text_is_returned_as_is() -> None:
    text = "请问还有其他可以帮到您的吗"
    assert to_simplified(text) is text
    assert to_simplified("") == ""


@pytest.mark.parametrize(
    ("text", "simplified"),
    [
        ("請問還有其他可以幫到您的嗎", "请问还有其他可以帮到您的吗"),
        ("頭髮", "头发"),
        ("乾隆年間", "乾隆年间"),  # phrase aware: a character table writes 干隆
        ("回覆一下吧，謝謝", "回复一下吧，谢谢"),  # evidently traditional: 回覆 converted with the rest
        ("ＰＬＵＳ會員", "ＰＬＵＳ会员"),  # no width folding here (that is zhtext.normalize's)
    ],
)
def test_traditional_text_is_converted_phrase_aware(text: str, simplified: str) -> None:
    assert to_simplified(text) == simplified


def test_characters_valid_in_both_scripts_stay_in_simplified_text() -> None:
    """覆, 瞭, 沈 … are simplified characters too (沈 is a surname): text with nothing else traditional stays."""
    for text in ("沈默先生来电", "回覆", "覆盖范围", "瞭望"):
        assert not is_traditional(text)
        assert to_simplified(text) == text


def test_every_character_with_another_simplified_form_marks_text_traditional() -> None:
    rows = _ts_characters()
    assert len(rows) > 4000
    for key, target in rows:
        assert is_traditional(key) == (target != key), key


def test_converted_text_is_exactly_opencc() -> None:
    cc = opencc.OpenCC("t2s")
    for text in ("遇見就是緣分可天下沒有不散之筵席剛相互瞭解", "該牧場於乾隆二十六年設置", "髮型 頭髮 發票"):
        assert is_traditional(text)
        assert to_simplified(text) == cc.convert(text)
