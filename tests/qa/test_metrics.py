import pytest

from qa.scorers.metrics import metrics

from .helpers import dlg


def test_metrics_on_a_timed_call() -> None:
    d = dlg(
        ("a", "您好很高兴为您服务", 2.0, 5.0),  # first response after 2 s
        ("c", "我的快递一直没到帮我查一下", 5.5, 10.0),
        ("a", "好的", 8.5, 9.5),  # starts inside the customer's turn: 1.0 s overlap (not > 1)
        ("a", "请您稍等我帮您查询一下", 9.6, 14.0),  # monologue 8.5-14.0 with the turn above
        ("c", "好", 18.5, 19.0),  # 4.5 s silence before
        ("c", "喂还在吗你们到底怎么回事", 19.5, 24.0),
        ("a", "在的非常抱歉让您久等了", 21.0, 25.0),  # interrupts: 3 s overlap
    )
    m = metrics(d)
    assert m.timed
    assert m.first_response == pytest.approx(2.0)  # from the recording start
    assert m.silences == 1 and m.silence_total == pytest.approx(4.5)
    assert m.evidence["silence"][0].time == pytest.approx(14.0) and m.evidence["silence"][0].turn == 4
    assert m.overtalk == 1  # 8.5-9.5 overlaps exactly 1 s, 9.6-10.0 0.4 s: only 21-24 counts
    assert m.overtalk_total == pytest.approx(3.0)
    assert m.interruptions == 1
    assert m.evidence["interruption"][0].turn == 6
    assert m.longest_monologue == pytest.approx(5.5)
    agent_time = 3.0 + 1.0 + 4.4 + 4.0
    cust_time = 4.5 + 0.5 + 4.5
    assert m.talk_ratio == pytest.approx(agent_time / (agent_time + cust_time))
    assert m.agent_rate == pytest.approx((9 + 2 + 11 + 11) / (agent_time / 60))


def test_first_response_when_customer_speaks_first() -> None:
    m = metrics(dlg(("c", "喂你好", 0.0, 1.0), ("a", "您好", 4.0, 5.0)))
    assert m.first_response == pytest.approx(4.0)
    assert m.silences == 0  # a 3.0 s gap is not over 3 s


def test_chat_has_no_metrics() -> None:
    m = metrics(dlg(("c", "在吗"), ("a", "在的")))
    assert not m.timed and m.talk_ratio is None and m.first_response is None
    assert m.to_dict()["timed"] is False
