"""Script phrases matched on pronunciation (qa.phonetic) and where it is switched on (scorecard)."""

import pytest

from qa import from_transcript, score_dialogue
from qa.phonetic import PhoneticMatcher, SoundHit, best_match, blur, syllables
from qa.scorecard import ScorecardError, load_scorecard, parse_scorecard
from zhtext.match import compact

LISTS = {
    "greeting": ["请问您是咨询之前的问题还是有其他的问题需要处理", "有什么问题我可以帮您处理或解决", "您好"],
    "closing_check": ["还有什么可以帮您"],
    "verification_ask": ["核实一下您的信息", "提供下订单"],
    "polite": ["请", "谢谢"],
}


def hits(text: str, tolerance: float = 0.2, **kw: object) -> list[tuple[str, str, float]]:
    m = PhoneticMatcher(LISTS, tolerance)
    c = compact(text).text
    return [(h.key, c[h.start : h.end], h.cost) for h in m.find(c, **kw)]  # type: ignore[arg-type]


def test_syllables_are_toneless_one_per_character() -> None:
    assert syllables("核实一下") == ("he", "shi", "一", "xia")
    assert syllables("还是") == ("hai", "shi") and syllables("还有") == ("hai", "you")
    assert syllables("订单12") == ("ding", "dan", "1", "2")
    assert syllables("五六物流") == ("五", "六", "wu", "liu")  # digits read out are numbers, not words
    assert blur("shi") == blur("si") and blur("xing") == blur("xin") and blur("hao") != blur("he")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # misheard by the recognizer (calls-dev transcripts): one syllable off in a long phrase
        (
            "请问您是自行之前的问题还是有其他的问题需要处理的",
            [("greeting", "请问您是自行之前的问题还是有其他的问题需要处理")],
        ),
        ("有什么问题我可以帮您处理获解决能", [("greeting", "有什么问题我可以帮您处理获解决")]),  # 或 -> 获: homophone
        # a long phrase may slip on its last sound too (决 -> 结), a short one may not
        ("有什么问题我可以帮您处理获解结能", [("greeting", "有什么问题我可以帮您处理获解结")]),
        ("麻烦您提供下定单号", [("verification_ask", "提供下定单")]),  # 订 -> 定: homophone
        ("我帮您和食一下您的信息", [("verification_ask", "和食一下您的信息")]),  # 核实 -> 和食
        # not hits: written as in the list (the character matcher's), unrelated, or too far off
        ("请问您是咨询之前的问题还是有其他的问题需要处理", []),
        ("今天天气不错", []),
        ("请问您是自行之前的东西都没有了", []),
        # the first sounds differ: a greeting is not the closing check with one slip
        ("请问有什么可以帮您", []),
        # short phrases only on characters: 情 is not 请, 鞋鞋 is not 谢谢 (homophone of 2 syllables is)
        ("情况怎么样", []),
    ],
)
def test_sound_hits(text: str, expected: list[tuple[str, str]]) -> None:
    assert [(k, s) for k, s, _ in hits(text)] == expected


def test_homophones_cost_nothing_and_two_syllables_need_them() -> None:
    assert hits("鞋鞋你") == [("polite", "鞋鞋", 0.0)]
    assert hits("您号") == [("greeting", "您号", 0.0)]
    assert hits("拟好") == []  # ni vs nin is a full syllable off: no budget in 2 syllables


def test_tolerance_is_a_share_of_the_phrase() -> None:
    one_off = "请问您是自行之前的问题还是有其他的文体需要处理"  # 咨询->自行, 问题->文体 (homophone: free)
    assert hits(one_off, 0.2) and hits(one_off, 0.0) == []
    three_off = "请问您是自行之前的东西还是有其他的问题需要处理"
    assert hits(three_off, 0.1) == [] and hits(three_off, 0.2)


def test_looser_tolerance_only_where_the_recognizer_was_unsure() -> None:
    m = PhoneticMatcher(LISTS, 0.0, unsure_tolerance=0.4)
    c = compact("我帮您喝水一下您的信息").text  # he shui for he shi: one syllable off in eight
    assert m.find(c) == []
    assert m.find(c, unsure=lambda a, b: False) == []
    found = m.find(c, unsure=lambda a, b: True)
    assert len(found) == 1 and isinstance(found[0], SoundHit) and found[0].unsure and found[0].cost == 1


def test_exact_hits_are_not_repeated() -> None:
    m = PhoneticMatcher(LISTS, 0.2)
    c = compact("还有什么可以帮您").text
    exact = load_scorecard().phrases.matcher.find(c)
    assert any(h.key == "closing_check" for h in exact)
    assert [h for h in m.find(c, exact) if h.key == "closing_check"] == []


def test_best_match_is_anchored_and_cheapest() -> None:
    p = ("hai", "you", "shen", "me")
    assert best_match(p, ("wo", "hai", "you", "shen", "me"), 1) == (1, 5, 0.0)
    assert best_match(p, ("wen", "you", "shen", "me"), 1) is None  # first sound differs
    assert best_match(p, ("hai", "you", "sen", "me"), 1) == (0, 4, 0.5)  # shen/sen: near


@pytest.mark.parametrize(
    ("phonetic", "error"),
    [
        ("[]", "expected a mapping"),
        ("{lists: [nope]}", "'nope' is not a phrase list"),
        ("{lists: [greeting], tolerance: 0.6}", "tolerance: must be < 0.5, got 0.6"),
        ("{lists: [greeting], tolerance: 0.2, unsure_tolerance: 0.1}", "unsure_tolerance: must be in [tolerance"),
        ("{lists: [greeting], min_syllables: 1}", "min_syllables: must be >= 2, got 1"),
        ("{lists: [greeting], channels: [fax]}", "channels[0]: must be one of 'call' or 'chat', got 'fax'"),
        ("{lists: [greeting], fuzzy: true}", "unknown keys ['fuzzy']"),
    ],
)
def test_scorecard_phonetic_section_is_validated(phonetic: str, error: str) -> None:
    import yaml

    from qa.scorecard import DEFAULT_PATH

    data = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))
    data["phonetic"] = yaml.safe_load(phonetic)
    with pytest.raises(ScorecardError, match=r"phonetic") as exc:
        parse_scorecard(data, "card.yaml")
    assert error in str(exc.value)


def _call(agent_first: str) -> dict:
    return {
        "utterances": [
            {"speaker": "customer", "start": 0.0, "end": 2.0, "text": "我的订单到哪了"},
            {"speaker": "agent", "start": 3.0, "end": 6.0, "text": agent_first},
        ]
    }


def test_default_scorecard_credits_a_misheard_greeting_in_calls_not_in_chat() -> None:
    card = load_scorecard()
    assert card.phrases.phonetic is not None
    misheard = "有什么问题我可以帮您处理获解决呢"
    r = score_dialogue(from_transcript(_call(misheard)), card).to_dict()["items"]["greeting"]
    assert r["value"] == 1.0 and r["evidence"][0]["sounds_like"] == "有什么问题我可以帮您处理或解决"
    chat = {"id": "c", "turns": [{"role": "customer", "text": "在吗"}, {"role": "agent", "text": misheard}]}
    from qa import from_record

    assert score_dialogue(from_record(chat), card).to_dict()["items"]["greeting"]["value"] == 0.0
