"""Live QA on turns as they arrive: each alert once, at its time, with its evidence."""

from __future__ import annotations

import pytest

from live.monitor import LiveQA
from qa.scorecard import Scorecard


def kinds(alerts: list) -> list[tuple[str, str]]:
    return [(a.kind, a.detail or a.evidence) for a in alerts]


def test_forbidden_phrase_in_an_agent_turn_is_alerted_with_its_words(card: Scorecard) -> None:
    qa = LiveQA(card)
    qa.add("agent", "您好，很高兴为您服务，本次通话将被录音", 0.0, 3.0)
    alerts = qa.add("agent", "这个我不知道，你自己去查", 10.0, 14.0)
    forb = [a for a in alerts if a.kind == "forbidden"]
    assert forb and forb[0].evidence == "不知道" and forb[0].speaker == "agent"
    assert 10.0 < forb[0].time <= 14.0  # where in the turn the phrase ends
    assert [a for a in qa.add("customer", "我不知道订单号", 15.0, 17.0) if a.kind == "forbidden"] == []  # customers may


def test_a_question_is_not_a_forbidden_refusal(card: Scorecard) -> None:
    qa = LiveQA(card)
    assert [a for a in qa.add("agent", "不知道您方便提供一下订单号吗", 1.0, 4.0) if a.kind == "forbidden"] == []


@pytest.mark.parametrize(
    ("text", "kind"),
    [("我要投诉你们，打12315", "escalation"), ("你们这是骗人，太过分了", "anger"), ("好的谢谢", None)],
)
def test_customer_anger_and_escalation(card: Scorecard, text: str, kind: str | None) -> None:
    qa = LiveQA(card)
    got = {a.kind for a in qa.add("customer", text, 2.0, 5.0)} & {"anger", "escalation"}
    assert got == ({kind} if kind else set())
    assert qa.sentiment and qa.sentiment[0][0] == 2.0


def test_silence_and_overtalk(card: Scorecard) -> None:
    qa = LiveQA(card, silence_s=5.0, overtalk_s=1.5)
    qa.add("customer", "我的快递到哪了", 0.0, 3.0)
    silence = [a for a in qa.add("agent", "您好请稍等", 9.5, 11.0) if a.kind == "silence"]
    assert len(silence) == 1 and silence[0].time == 3.0 and silence[0].detail == "6.5"
    over = [a for a in qa.add("customer", "你听我说完我还没说完呢", 10.0, 13.0) if a.kind == "overtalk"]
    assert over == []  # 1.0 s overlap: under the threshold
    over = [a for a in qa.add("agent", "好的好的我明白我明白", 11.0, 15.0) if a.kind == "overtalk"]
    assert len(over) == 1 and over[0].time == 11.0 and over[0].detail == "2.0"


def test_a_silence_is_alerted_while_it_lasts_and_only_once(card: Scorecard) -> None:
    qa = LiveQA(card, silence_s=5.0)
    assert qa.quiet(10.0) == []  # nobody has spoken yet: no conversation to fall silent
    qa.add("customer", "我的快递到哪了", 0.0, 3.0)
    assert qa.quiet(7.9) == []
    now = qa.quiet(8.0)
    assert [(a.kind, a.time, a.detail) for a in now] == [("silence", 3.0, "5.0")]
    assert qa.quiet(9.0) == []
    assert not [a for a in qa.add("agent", "您好请稍等", 9.5, 11.0) if a.kind == "silence"]  # the same silence


def test_missing_script_items_as_the_call_goes_on(card: Scorecard) -> None:
    qa = LiveQA(card)
    assert "greeting" in qa.missing()
    qa.add("agent", "您好，很高兴为您服务", 0.0, 2.0)
    assert "greeting" not in qa.missing() and "closing" in qa.missing()
    qa.add("customer", "我想退货，订单有问题", 2.5, 5.0)
    assert "verification" in qa.missing()
    assert not [a for a in qa.add("agent", "好的", 5.5, 6.0) if a.detail == "verification"]
    alerts = qa.add("agent", "这个商品可以退", 6.5, 8.0)  # second answer into the topic, nothing verified
    assert ("missing", "verification") in kinds(alerts)
    assert ("missing", "recording_notice") in kinds(alerts)  # third agent turn: the notice's moment passed
    assert qa.add("agent", "这个商品可以退", 9.0, 10.0) == []  # raised once
    qa.add("agent", "请问还有其他可以帮到您的吗？感谢您的来电，再见", 11.0, 14.0)
    assert qa.finish(15.0) == [] or all(a.detail != "closing" for a in qa.finish(15.0))
    assert "closing" not in qa.missing(ended=True)


def test_consent_by_the_ivr_counts_as_the_recording_notice(card: Scorecard) -> None:
    qa = LiveQA(card, consent_played=True)
    for k in range(4):
        qa.add("agent", "您好，请讲", k * 2.0, k * 2.0 + 1)
    assert "recording_notice" not in qa.missing()


def test_no_closing_is_alerted_at_the_end(card: Scorecard) -> None:
    qa = LiveQA(card)
    qa.add("agent", "您好，很高兴为您服务", 0.0, 2.0)
    assert ("missing", "closing") in kinds(qa.finish(30.0))
    assert qa.finish(31.0) == []


def test_a_menu_choice_about_an_order_makes_verification_due_at_once(card: Scorecard) -> None:
    qa = LiveQA(card, order_topic=True)
    assert "verification" in qa.missing()
    qa.add("agent", "您好，很高兴为您服务", 0.0, 2.0)
    alerts = qa.add("agent", "我看一下您的快递", 3.0, 5.0)
    assert ("missing", "verification") in kinds(alerts)
    qa.add("agent", "麻烦提供一下订单号", 6.0, 8.0)
    assert "verification" not in qa.missing()
