"""Table tests of the pure flow engine: (state, events) -> node, action, what is said."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ivr.caller_text import spell_digits
from ivr.flow_types import Event, State, Step
from ivr.routing import RouteResult

from .helpers import CLOSED, OPEN, flow, menu


def press(d: str) -> Event:
    return Event("digits", digits=d)


def say(text: str, conf: float = 0.9) -> Event:
    return Event("speech", text=text, confidence=conf)


SILENCE = Event("no_input")


def run(events: list[Event], *, now=OPEN, router=None) -> list[Step]:
    f = flow(router)
    steps = [f.step(None, Event("start"), now=now)]
    for ev in events:
        steps.append(f.step(steps[-1].state, ev, now=now))
    return steps


@pytest.mark.parametrize(
    ("events", "node", "action"),
    [
        ([], "main", "gather"),
        ([press("2"), press("3")], "payment.refund", "gather"),
        ([press("23")], "payment.refund", "gather"),  # type-ahead: both keys in one gather
        ([press("2"), press("#")], "main", "gather"),  # back
        ([press("2"), press("3"), press("#")], "payment", "gather"),  # back from information
        ([press("2"), press("*")], "payment", "gather"),  # repeat
        ([press("0")], "agent", "transfer"),
        ([press("4"), press("2")], "account.stolen", "transfer"),
        ([press("2"), press("3"), press("0")], "agent", "transfer"),
        ([press("2"), press("3"), press("9")], "survey", "gather"),
        ([press("2"), press("3"), SILENCE], "survey", "gather"),  # done listening
        ([press("2"), press("3"), press("9"), press("5")], "goodbye", "hangup"),
        ([say("我要退款"), say("退款进度")], "payment.refund", "gather"),
        ([say("钱没到账")], "payment.refund", "gather"),  # deeper synonym from the main menu
        ([say("转人工")], "agent", "transfer"),
        ([say("物流"), say("改地址")], "logistics.address", "transfer"),
        ([press("2"), say("返回")], "main", "gather"),
        ([press("2"), say("重听")], "payment", "gather"),
        ([press("2"), press("3"), say("没有了谢谢")], "survey", "gather"),
        ([press("2"), press("3"), say("我要开发票")], "order.invoice", "gather"),  # a new request after info
        ([press("7"), press("8"), press("9")], "agent", "transfer"),  # 3 no-match
        ([SILENCE, SILENCE, SILENCE], "agent", "transfer"),  # 3 no-input
        ([SILENCE, press("7"), say("嗯嗯嗯")], "agent", "transfer"),  # mixed failures count together
        ([press("7"), press("2")], "payment", "gather"),  # counters do not block a good key
        ([Event("hangup")], "main", "hangup"),
    ],
)
def test_paths(events: list[Event], node: str, action: str) -> None:
    last = run(events)[-1]
    assert (last.node, last.action) == (node, action)


def test_retry_uses_short_prompt_then_agent() -> None:
    steps = run([SILENCE, press("9"), SILENCE])
    m = menu().nodes["main"]
    assert steps[0].say[-1] == m.prompt
    assert steps[1].say == (menu().messages["no_input"], m.short)
    assert steps[2].say == (menu().messages["no_match"], m.short)
    assert steps[3].action == "transfer" and steps[3].say == (menu().messages["too_many_failures"],)
    assert steps[3].skill == "general" and steps[3].notice == menu().messages["recording_notice"]
    assert any(n.kind == "too-many-failures" for n in steps[3].notes)


def test_repeat_uses_long_prompt_and_is_not_a_failure() -> None:
    steps = run([press("2"), press("*"), press("*"), press("*")])
    assert steps[-1].say == (menu().nodes["payment"].prompt,)
    assert steps[-1].state.failures == 0


def test_low_confidence_speech_is_confirmed() -> None:
    steps = run([say("退款进度", conf=0.3)])
    assert steps[-1].node == "main" and steps[-1].state.phase == "confirm"
    assert "退款进度" in steps[-1].say[0]
    yes = flow().step(steps[-1].state, say("是的"), now=OPEN)
    assert yes.node == "payment.refund"
    key_yes = flow().step(steps[-1].state, press("1"), now=OPEN)
    assert key_yes.node == "payment.refund"
    no = flow().step(steps[-1].state, say("不是"), now=OPEN)
    assert no.node == "main" and no.state.phase == ""


def test_order_number_entry_read_back_and_confirm() -> None:
    steps = run([press("1"), press("1"), press("20261123001#")])
    rb = steps[-1]
    assert rb.node == "order.status" and rb.state.phase == "readback"
    assert "二 零 二 六 一 一 二 三 零 零 一" in rb.say[0]
    assert rb.gather is not None and rb.gather.num_digits == 1
    again = flow().step(rb.state, press("2"), now=OPEN)  # re-enter
    assert again.node == "order.status" and again.state.phase == "" and again.state.buffer == ""
    ok = flow().step(rb.state, press("1"), now=OPEN)
    assert ok.node == "order.status.result"
    assert ok.state.collected == {"order_number": "20261123001"}
    assert ok.state.outcome == "self-service"


def test_order_number_typed_ahead_and_invalid() -> None:
    ahead = run([press("11123456#")])[-1]
    assert ahead.state.phase == "readback" and ahead.state.buffer == "123456"
    short = run([press("1"), press("1"), press("12#")])[-1]
    assert short.node == "order.status" and short.say == (menu().messages["collect_invalid"],)
    assert short.state.no_match == 1


def test_entry_gather_ends_with_hash() -> None:
    entry = run([press("1"), press("1")])[-1]
    assert entry.gather is not None and entry.gather.finish_on_key == "#" and entry.gather.input == "dtmf"


@pytest.mark.parametrize("score", [1, 2, 3, 4, 5])
def test_survey(score: int) -> None:
    last = run([press("2"), press("3"), press("9"), press(str(score))])[-1]
    assert last.survey_score == score and last.action == "hangup"


def test_survey_by_speech_and_invalid() -> None:
    assert run([press("2"), press("2"), press("9"), say("五分")])[-1].survey_score == 5
    bad = run([press("2"), press("2"), press("9"), press("7")])[-1]
    assert bad.node == "survey" and bad.survey_score is None


def test_outside_hours_offers_callback() -> None:
    steps = run([press("0")], now=CLOSED)
    offer = steps[-1]
    assert offer.node == "agent.callback" and offer.action == "gather"
    assert "休息时间" in offer.say[0] and offer.state.skill == "general"
    taken = flow().step(offer.state, press("1"), now=CLOSED)
    assert taken.callback == "general" and taken.action == "hangup" and taken.outcome == "callback"
    back = flow().step(offer.state, press("2"), now=CLOSED)
    assert back.node == "main"


def test_self_service_answers_at_night() -> None:
    assert run([press("2"), press("3")], now=CLOSED)[-1].node == "payment.refund"


def test_security_queue_is_open_at_night() -> None:
    assert run([press("4"), press("2")], now=CLOSED)[-1].action == "transfer"


def test_failures_at_night_lead_to_callback_offer() -> None:
    last = run([SILENCE, SILENCE, SILENCE], now=CLOSED)[-1]
    assert last.node == "agent.callback"


def test_after_transfer() -> None:
    f = flow()
    tr = run([press("0")])[-1]
    done = f.step(tr.state, Event("transfer_end", text="completed"), now=OPEN)
    assert done.node == "survey"
    failed = f.step(tr.state, Event("transfer_end", text="no-answer"), now=OPEN)
    assert failed.node == "agent.callback"
    gone = f.step(tr.state, Event("transfer_end", text="hangup"), now=OPEN)
    assert gone.action == "hangup"


def test_hangup_outcomes() -> None:
    f = flow()
    early = f.step(run([])[-1].state, Event("hangup"), now=OPEN)
    assert early.outcome == "abandoned"
    served = f.step(run([press("2"), press("3")])[-1].state, Event("hangup"), now=OPEN)
    assert served.outcome == "self-service"
    moved = f.step(run([press("0")])[-1].state, Event("hangup"), now=OPEN)
    assert moved.outcome == "transferred"


def test_state_round_trips_and_seq_counts() -> None:
    steps = run([press("2"), press("3"), press("9")])
    assert [s.state.seq for s in steps] == [1, 2, 3, 4]
    st = steps[-1].state
    assert State.from_dict(st.to_dict()) == st
    assert st.path == ("main", "payment", "payment.refund", "survey")


def test_events_keep_entered_numbers_out() -> None:
    steps = run([press("1"), press("1"), press("20261123001#")])
    notes = [n for s in steps for n in s.notes]
    assert all("20261123001" not in str(n.detail) for n in notes)


def test_pluggable_router_and_clarify() -> None:
    calls: list[tuple[str, str]] = []

    def own_router(text: str, node: str) -> RouteResult:
        calls.append((text, node))
        return RouteResult("logistics.lost", 0.99)

    last = run([say("我的快递怎么一天都没有物流了")], router=own_router)[-1]
    assert last.node == "logistics.lost" and calls == [("我的快递怎么一天都没有物流了", "main")]

    def clarify_router(text: str, node: str) -> RouteResult:
        if "物流" in text and "订单" in text:
            return RouteResult(None, 0.4, "clarify", "是查询订单还是物流配送？", ("order", "logistics"))
        return RouteResult(None, 0.0, "fallback")

    steps = run([say("订单物流")], router=clarify_router)
    q = steps[-1]
    assert q.state.phase == "clarify" and q.say == ("是查询订单还是物流配送？",)
    picked = flow(clarify_router).step(q.state, press("2"), now=OPEN)
    assert picked.node == "logistics"
    spoken = flow(clarify_router).step(q.state, say("订单"), now=OPEN)
    assert spoken.node == "order"
    unclear = flow(clarify_router).step(q.state, say("嗯"), now=OPEN)
    assert unclear.node == "main" and unclear.state.clarified == 1


def test_spell_digits() -> None:
    assert spell_digits("1024") == "一 零 二 四"


def test_ended_state_stays_ended() -> None:
    end = run([press("2"), press("3"), press("9"), press("5")])[-1]
    again = flow().step(replace(end.state), press("1"), now=OPEN)
    assert again.action == "hangup"


@pytest.mark.parametrize(
    ("events", "node"),
    [
        ([say("我被重复扣款了")], "payment.failed"),  # the keyword router: 重复扣款 is a request
        ([say("重复一下")], "main"),
        ([say("我没听清，转人工")], "agent"),
        ([press("2"), say("请返回上一级菜单")], "main"),
        ([press("2"), press("3"), say("我的快递没有了")], "logistics"),  # not "没有了" (no more questions)
    ],
)
def test_command_words_inside_requests_with_the_keyword_router(events: list[Event], node: str) -> None:
    assert run(events)[-1].node.startswith(node)


def test_is_command() -> None:
    from ivr.caller_text import BACK_WORDS, END_WORDS, REPEAT_WORDS, is_command

    assert is_command("重复一下", REPEAT_WORDS, routed=False)
    assert is_command("麻烦再说一遍好吗", REPEAT_WORDS, routed=False)
    assert not is_command("我被重复扣款了", REPEAT_WORDS, routed=True)
    assert is_command("请帮我返回上一级菜单吧", BACK_WORDS, routed=True)
    assert is_command("没有了，谢谢", END_WORDS, routed=True)
    assert not is_command("快递没有了", END_WORDS, routed=True)
    assert not is_command("我要退款", BACK_WORDS, routed=False)
