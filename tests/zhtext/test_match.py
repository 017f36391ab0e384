"""The compact form (placeholders as marks, a map back to the text) and phrase matching on it."""

from __future__ import annotations

import pytest

from zhtext.match import PhraseMatcher, compact, compact_phrase
from zhtext.placeholders import MARK_KIND, kind_mark


def test_compact_drops_spacing_and_punctuation_and_maps_back() -> None:
    c = compact("谢 谢，您的订单！")
    assert c.text == "谢谢您的订单"
    assert c.snippet(0, 2) == "谢 谢"


def test_placeholders_become_one_marker_each() -> None:
    c = compact("订单号:[订单x] 电话[电话] 身份证[身份证号x]")
    kinds = [MARK_KIND[ch] for ch in c.text if ch in MARK_KIND]
    assert kinds == ["order", "phone", "id_card"]
    i = c.text.index(kind_mark("order"))
    assert c.snippet(i, i + 1) == "[订单x]"


def test_unknown_tags_stay_text() -> None:
    assert compact("[商品快照]好").text == "商品快照好"


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("谢 谢 您", "谢谢"),  # ASR spacing
        ("请问还有其他可以帮到您的吗？", "请问还有其他可以帮到您的吗"),
        ("请问 还有 其他 可以 帮到 您 的 吗", "请问还有其他可以帮到您的吗"),
        ("感謝您的來電", "感谢您的来电"),  # traditional in the transcript
    ],
)
def test_phrase_matcher_tolerates_asr_spacing(text: str, phrase: str) -> None:
    m = PhraseMatcher({"k": [phrase]})
    hits = m.find(compact(text).text)
    assert [h.phrase for h in hits] == [phrase]


def test_phrase_matcher_longest_wins() -> None:
    m = PhraseMatcher({"pos": ["不错"], "neg": ["错"]})
    assert [h.key for h in m.find("真不错", longest=True)] == ["pos"]
    assert {h.key for h in m.find("真不错")} == {"pos", "neg"}


def test_phrase_matcher_on_phrases_already_in_form() -> None:
    """``form=str``: the phrases are searched as given (the router's phrases are normalised already)."""
    m = PhraseMatcher({"a": ["退款"], "b": ["退款进度"]}, form=str)
    assert [(h.key, h.start, h.end) for h in m.find("我的退款进度")] == [("b", 2, 6), ("a", 2, 4)]
    assert len(PhraseMatcher({"a": ["[x]"]}, form=str).find("[x]")) == 1  # compact_phrase would drop the brackets
    assert compact_phrase("[x]") == "x"


def test_empty_matcher_and_text() -> None:
    assert PhraseMatcher({}).find("任何") == []
    assert PhraseMatcher({"k": ["好"]}).find("") == []


def test_position_map_agrees_with_compact_text() -> None:
    samples = [
        "您好！[订单编号:[订单x]，订单金额:[金额x]] 请 稍 等…",
        "【电话】手机号<PHONE> 13812345678 ok_ok",
        "謝謝，ＡＢＣ １２３ [商品快照] [数字x]月",
        "",
    ]
    for s in samples:
        c = compact(s)
        assert len(c.pos) == len(c.ends) == len(c.text)
        for k, ch in enumerate(c.text):
            piece = c.norm[c.pos[k] : c.ends[k]]
            assert piece == ch or (ch in MARK_KIND and piece.startswith(("[", "<", "【")))
