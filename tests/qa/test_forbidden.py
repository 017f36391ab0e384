import pytest

from qa.scorecard import load_scorecard
from qa.scorers.forbidden import abuse, forbidden, forbidden_hits, pii_leak
from qa.scorers.politeness import politeness

from .helpers import dlg


@pytest.fixture(scope="module")
def book():
    return load_scorecard().phrases


@pytest.mark.parametrize(
    ("turns", "found"),
    [
        ((("a", "这个我不知道"),), ["不知道"]),
        ((("a", "不知道您方便提供一下订单号吗"),), []),  # a question to the customer
        ((("a", "不知道是否方便"),), []),
        ((("c", "我也不知道怎么弄"), ("a", "我来帮您")), []),  # the customer may say it
        ((("a", "不 归 我 管"),), ["不 归 我 管"]),  # ASR spacing
        ((("a", "你自己看吧"),), ["你自己看"]),
        ((("a", "这是规定"),), ["这是规定"]),
        ((("a", "您听不懂吗"),), ["听不懂吗"]),
        ((("a", "我也没办法"),), ["我也没办法"]),
        ((("a", "很抱歉，我没办法为您修改地址"),), []),
        ((("a", "滚筒洗衣机的型号是多少"),), []),
    ],
)
def test_forbidden_in_context(book, turns, found) -> None:
    d = dlg(*turns)
    assert [e.phrase for _, _, e in forbidden_hits(d, book.scan(d))] == found


def test_forbidden_value_and_evidence(book) -> None:
    d = dlg(("c", "怎么办"), ("a", "我不知道，你自己看"))
    r = forbidden(d, book.scan(d))
    assert r.value == 0.0
    assert [(e.phrase, e.turn) for e in r.evidence] == [("不知道", 1), ("你自己看", 1)]


def test_abuse_is_separate_and_fails(book) -> None:
    d = dlg(("c", "你们什么破服务"), ("a", "你有病吧"))
    assert abuse(d, book.scan(d)).value == 0.0
    assert forbidden(d, book.scan(d)).value == 1.0  # counted by the auto-fail item, not twice
    clean = dlg(("c", "电脑有病毒吗"), ("a", "没有病毒的哦"))
    assert abuse(clean, book.scan(clean)).value == 1.0


@pytest.mark.parametrize(
    ("turns", "value"),
    [
        ((("c", "帮我查下"), ("a", "您的身份证号是[身份证号x]")), 0.0),
        ((("c", "我的身份证[身份证号x]"), ("a", "您的身份证号是[身份证号x]")), 1.0),  # customer gave it
        ((("c", "帮我查下"), ("a", "卡号6222021234567890123")), 0.0),  # raw card number
        ((("c", "帮我查下"), ("a", "配送员电话:[电话x]")), 1.0),  # phones are not in the default kinds
        ((("c", "税号呢"), ("a", "[组织机构x] [数字x][身份证号x][数字x]R")), 1.0),  # masker cut up a tax number
    ],
)
def test_pii_leak(turns, value) -> None:
    assert pii_leak(dlg(*turns)).value == value


def test_politeness_orders_agents(book) -> None:
    polite = dlg(("c", "在吗"), ("a", "您好，请问有什么可以帮您？"), ("c", "查快递"), ("a", "好的，麻烦您稍等，谢谢"))
    plain = dlg(("c", "在吗"), ("a", "在的，请讲"), ("c", "查快递"), ("a", "等着"))
    rude = dlg(("c", "在吗"), ("a", "你自己看"), ("c", "查快递"), ("a", "我不知道"))
    scores = [politeness(d, book.scan(d)).detail["score"] for d in (polite, plain, rude)]
    assert scores[0] >= 90 and scores[0] > scores[1] > scores[2] >= 0
    r = politeness(polite, book.scan(polite))
    assert 0 <= r.value <= 1 and r.evidence[0].phrase == "您好"
