import pytest

from qa.scorecard import load_scorecard
from qa.scorers import script

from .helpers import dlg


@pytest.fixture(scope="module")
def book():
    return load_scorecard().phrases


def run(book, fn, d, *args):
    return fn(d, book.scan(d), *args)


@pytest.mark.parametrize(
    ("first_agent", "value", "phrase"),
    [
        ("您好，很高兴为您服务", 1.0, "您好"),
        ("您 好 ， 请 问 有 什 么 可 以 帮 您", 1.0, "您 好"),  # ASR spacing
        ("有什么问题我可以帮您处理或解决呢?", 1.0, "有什么问题我可以帮您处理或解决"),
        ("订单号发一下", 0.0, None),
    ],
)
def test_greeting(book, first_agent: str, value: float, phrase: str | None) -> None:
    r = run(book, script.greeting, dlg(("c", "在吗"), ("a", first_agent)))
    assert r.value == value
    if phrase:
        assert r.evidence[0].phrase == phrase and r.evidence[0].turn == 1


def test_greeting_only_counts_in_first_agent_turns(book) -> None:
    d = dlg(("a", "请讲"), ("c", "嗯"), ("a", "说吧"), ("c", "好"), ("a", "您好"))
    assert run(book, script.greeting, d, 2).value == 0.0
    assert run(book, script.greeting, dlg(("c", "在吗"))).value is None


def test_recording_notice_is_for_calls_only(book) -> None:
    chat = dlg(("a", "您好"))
    assert run(book, script.recording_notice, chat).value is None
    call = dlg(("a", "您好，本次通话可能会被录音", 0, 2), ("c", "好", 2, 3))
    r = run(book, script.recording_notice, call)
    assert r.value == 1.0 and r.evidence[0].time == 0.0
    assert run(book, script.recording_notice, dlg(("a", "您好", 0, 1))).value == 0.0
    ivr = dlg(("a", "您好", 0, 1), consent_played=True)
    assert run(book, script.recording_notice, ivr).value == 1.0


@pytest.mark.parametrize(
    ("turns", "value", "note"),
    [
        ((("c", "我的订单还没到"), ("a", "麻烦您提供一下订单号")), 1.0, "agent asked"),
        ((("c", "订单号:[订单x] 怎么还没发货"), ("a", "好的")), 1.0, "customer supplied order"),
        ((("c", "帮我查一下 [电话x]"), ("a", "好的")), 1.0, "customer supplied phone"),
        ((("c", "我的快递怎么还没到"), ("a", "好的亲")), 0.0, None),
        ((("c", "这个手机支持5G吗"), ("a", "支持的")), None, None),  # no order topic: N/A
    ],
)
def test_verification(book, turns, value, note) -> None:
    r = run(book, script.verification, dlg(*turns))
    assert r.value == value
    if note:
        assert r.evidence[0].note == note


def test_empathy_after_complaint(book) -> None:
    d = dlg(("c", "太差了"), ("a", "非常抱歉给您带来不便"), ("c", "气死了"), ("a", "请提供订单号"), ("a", "好的"))
    r = run(book, script.empathy, d, (0, 2), 2)
    assert r.value == 0.5
    assert r.evidence[0].phrase == "抱歉" and r.evidence[0].turn == 1
    assert run(book, script.empathy, d, (), 2).value is None


@pytest.mark.parametrize(
    ("agent_turns", "value"),
    [
        (("请您稍等，正在为您查询", "感谢您的耐心等待，已经查到了"), 1.0),
        (("请 稍 等", "让您久等了"), 1.0),
        (("请您稍等", "查到了"), 0.5),
        (("查到了", "好的"), None),
    ],
)
def test_hold(book, agent_turns, value) -> None:
    d = dlg(("c", "帮我查查"), ("a", agent_turns[0]), ("c", "好"), ("a", agent_turns[1]))
    assert run(book, script.hold, d).value == value


@pytest.mark.parametrize(
    ("last", "value"),
    [
        ("请问还有其他可以帮到您的吗？感谢您的来电，再见", 1.0),
        ("请问还有其他还可以帮到您的吗", 0.5),
        ("感谢您对京东的支持，祝您生活愉快", 0.5),
        ("好的", 0.0),
    ],
)
def test_closing(book, last: str, value: float) -> None:
    r = run(book, script.closing, dlg(("c", "好的谢谢"), ("a", last)))
    assert r.value == value
