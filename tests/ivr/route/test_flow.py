"""The router inside the IVR flow engine (ivr.flow) and behind `hotline serve` + `hotline simulate`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ivr.flow import Flow
from ivr.flow_types import Event, Step
from ivr.hours import load_hours
from ivr.menu import load_menu
from ivr.route import load_router, make_router
from ivr.routing import SpeechRouter
from tests.serving import hotline_serve, simulate

ROOT = Path(__file__).resolve().parents[3]
MENU = ROOT / "ivr" / "menus" / "950618.yaml"
HOURS = ROOT / "ivr" / "menus" / "hours.yaml"
OPEN = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # Monday noon in Shanghai: agents working


@pytest.fixture(scope="module")
def flow() -> Flow:
    menu = load_menu(MENU)
    return Flow(menu, load_hours(HOURS), make_router(menu))


def say(text: str, conf: float = 0.9) -> Event:
    return Event("speech", text=text, confidence=conf)


def run(flow: Flow, *events: Event) -> list[Step]:
    steps = [flow.step(None, Event("start"), now=OPEN)]
    for ev in events:
        steps.append(flow.step(steps[-1].state, ev, now=OPEN))
    return steps


def test_router_speaks_the_flow_protocol() -> None:
    router: SpeechRouter = load_router()  # no adapter: the trained router is a SpeechRouter itself
    got = router("买了四天就降价了能保价吗", "main")
    assert (got.node, got.action) == ("payment.refund", "route") and got.confidence > 0.9
    assert got.path == ("2", "3") and got.text == "买了四天就降价了能保价吗"


@pytest.mark.parametrize(
    ("text", "node"),
    [
        ("我的快递怎么一天都没有物流了", "logistics"),
        ("买了四天就降价了能保价吗", "payment.refund"),
        ("发票抬头开错了", "order.invoice"),
        ("我要转人工", "agent"),
        ("签收了没收到", "logistics.lost"),
    ],
)
def test_free_form_request_at_the_main_menu(flow: Flow, text: str, node: str) -> None:
    steps = run(flow, say(text))
    assert steps[-1].node == node, [s.node for s in steps]


def test_negation_in_the_flow(flow: Flow) -> None:
    steps = run(flow, say("不是物流的问题，是发票开错了"))
    assert steps[-1].node == "order.invoice"


def test_scoped_request_at_a_submenu(flow: Flow) -> None:
    steps = run(flow, Event("digits", digits="5"), say("改一下时间"))
    assert [s.node for s in steps] == ["main", "logistics", "logistics.time"]


def test_clarify_then_pick_by_voice_or_key(flow: Flow) -> None:
    steps = run(flow, say("空调是送货上门安装吗"))
    q = steps[-1]
    assert q.state.phase == "clarify" and set(q.state.options) == {"aftersales", "logistics"}
    assert "售后与退换货" in q.say[0] and "物流配送" in q.say[0]
    assert flow.step(q.state, say("物流"), now=OPEN).node.startswith("logistics")
    assert flow.step(q.state, say("我要找售后"), now=OPEN).node.startswith("aftersales")
    key = str(q.state.options.index("logistics") + 1)
    assert flow.step(q.state, Event("digits", digits=key), now=OPEN).node == "logistics"


def test_two_unclear_answers_fall_back_to_the_keypad_menu(flow: Flow) -> None:
    q = run(flow, say("空调是送货上门安装吗"))[-1]
    first = flow.step(q.state, say("嗯"), now=OPEN)  # unclear answer 1: asked again at the main menu
    assert first.node == "main" and first.state.phase == "" and first.state.clarified == 1
    again = flow.step(first.state, say("空调是送货上门安装吗"), now=OPEN)
    assert again.state.phase == "clarify"
    second = flow.step(again.state, say("那个"), now=OPEN)  # unclear answer 2: the keypad menu
    assert second.node == "main" and second.state.phase == ""
    assert any(n.kind == "clarify-fallback" for n in second.notes)
    assert "请按1" in " ".join(second.say)


def test_unclear_request_is_not_routed(flow: Flow) -> None:
    steps = run(flow, say("今天天气怎么样"))
    assert steps[-1].node == "main" and steps[-1].state.phase in ("", "clarify")


# --- a real server and the real `hotline simulate` -------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    with hotline_serve(tmp_path_factory.mktemp("route-serve"), HOTLINE_IVR_ROUTER="model") as served:
        yield served


@pytest.mark.slow
def test_simulate_free_form_request_reaches_logistics(server: tuple[str, dict[str, str]]) -> None:
    url, env = server
    out = simulate(env, "--url", url, "--say", "我的快递怎么一天都没有物流了", "--expect", "logistics")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "物流配送" in out.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    ("text", "node"),
    [("买了四天就降价了能保价吗", "payment.refund"), ("不是物流的问题，是发票开错了", "order.invoice")],
)
def test_simulate_other_free_form_requests(server: tuple[str, dict[str, str]], text: str, node: str) -> None:
    url, env = server
    out = simulate(env, "--url", url, "--say", text, "--expect", node)
    assert out.returncode == 0, out.stdout + out.stderr


# --- the flow's own rules with the trained router (issue 7: 人工 always, commands vs requests) ---------


def test_open_question_at_call_start(flow: Flow) -> None:
    start = run(flow)[-1]
    assert start.say[1].startswith("请简单说出您要办理的业务，或按键选择")
    assert start.gather is not None and "speech" in start.gather.input and "dtmf" in start.gather.input


@pytest.mark.parametrize(
    ("text", "node", "phase"),
    [
        ("我被重复扣款了", "payment.failed", "transferred"),  # 重复 inside a request is not "repeat"
        ("退回的钱怎么还没到", "payment.refund", ""),  # nor 退回 "back"
        ("重复一下", "main", ""),
        ("请再说一遍", "main", ""),
        ("我没听清，转人工", "agent", "transferred"),  # 人工 wins over a command word
        ("重复扣款了转人工", "agent", "transferred"),
    ],
)
def test_commands_and_requests_with_command_words(flow: Flow, text: str, node: str, phase: str) -> None:
    step = run(flow, say(text))[-1]
    assert (step.node, step.state.phase) == (node, phase)


def test_navigation_commands_at_a_submenu(flow: Flow) -> None:
    assert run(flow, Event("digits", digits="2"), say("返回主菜单"))[-1].node == "main"
    assert run(flow, Event("digits", digits="2"), say("请帮我回到上一级菜单吧"))[-1].node == "main"
    rep = run(flow, Event("digits", digits="2"), say("没听清，再说一次"))[-1]
    assert rep.node == "payment" and any(n.kind == "repeat" for n in rep.notes)


def test_end_words_after_information_only_when_meant(flow: Flow) -> None:
    assert run(flow, Event("digits", digits="23"), say("没有了，谢谢"))[-1].node == "survey"
    lost = run(flow, Event("digits", digits="23"), say("我的快递没有了"))[-1]
    assert lost.node.startswith("logistics"), lost.node


def test_agent_is_honoured_during_a_clarifying_question(flow: Flow) -> None:
    q = run(flow, say("空调是送货上门安装吗"))[-1]
    assert q.state.phase == "clarify"
    for answer in (say("转人工"), say("人工"), Event("digits", digits="0")):
        step = flow.step(q.state, answer, now=OPEN)
        assert (step.node, step.action) == ("agent", "transfer")


def test_agent_is_honoured_even_when_speech_is_unsure(flow: Flow) -> None:
    step = run(flow, say("人工", conf=0.2))[-1]
    assert (step.node, step.action) == ("agent", "transfer")


def test_agent_is_honoured_at_a_confirmation(flow: Flow) -> None:
    confirm = run(flow, say("我要退款", conf=0.3))[-1]
    assert confirm.state.phase == "confirm"
    step = flow.step(confirm.state, say("好的，还是转人工吧"), now=OPEN)
    assert (step.node, step.action) == ("agent", "transfer")
    assert flow.step(confirm.state, say("好的"), now=OPEN).node == confirm.state.candidate


def test_a_clear_new_request_answers_a_clarifying_question(flow: Flow) -> None:
    q = run(flow, say("空调是送货上门安装吗"))[-1]
    assert flow.step(q.state, say("我要查退款进度"), now=OPEN).node == "payment.refund"


def test_silence_at_a_clarifying_question_counts_as_no_input(flow: Flow) -> None:
    q = run(flow, say("空调是送货上门安装吗"))[-1]
    step = flow.step(q.state, Event("no_input"), now=OPEN)
    assert step.node == "main" and step.state.no_input == 1 and step.state.clarified == 1


def test_keypad_fallback_says_the_keys_only(flow: Flow) -> None:
    q = run(flow, say("空调是送货上门安装吗"))[-1]
    first = flow.step(q.state, say("嗯"), now=OPEN)
    again = flow.step(first.state, say("空调是送货上门安装吗"), now=OPEN)
    second = flow.step(again.state, say("那个"), now=OPEN)
    assert second.say == (flow.menu.node("main").short,)
