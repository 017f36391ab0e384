import pytest

from qa.text import MARK_KIND, PhraseMatcher, compact, entities, kind_mark, normalize, to_simplified, tokenize


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


def test_simplified_text_is_unchanged() -> None:
    text = "请问还有其他可以帮到您的吗"
    assert to_simplified(text) is text


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


def test_entities_masked_and_raw() -> None:
    kinds = [k for k, _, _ in entities("手机13812345678，身份证110101199001011234，订单[订单x]")]
    assert kinds == ["phone", "id_card", "order"]


def test_tokenize_keeps_domain_words() -> None:
    words = tokenize("我想用京东白条付款，再用京豆抵扣，七天无理由退货可以吗")
    assert "京东白条" in words
    assert "京豆" in words


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
