"""The router inside the IVR flow engine (ivr.flow) and behind `hotline serve` + `hotline simulate`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from ivr.flow import Event, Flow, Step, as_route
from ivr.hours import load_hours
from ivr.menu import load_menu
from ivr.route import FlowRouter, load_router, make_router

ROOT = Path(__file__).resolve().parents[2]
MENU = ROOT / "ivr" / "menus" / "950618.yaml"
HOURS = ROOT / "ivr" / "menus" / "hours.yaml"
OPEN = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # Monday noon in Shanghai: agents working
HOTLINE = str(Path(sys.executable).parent / "hotline")


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


def test_adapter_speaks_the_flow_protocol() -> None:
    r = FlowRouter(load_router())("买了四天就降价了能保价吗", "main")
    got = as_route(r)
    assert (got.node, got.action) == ("payment.refund", "route") and got.confidence > 0.9


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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    data = tmp_path_factory.mktemp("route-serve")
    env = {
        **os.environ,
        "HOTLINE_DATA_DIR": str(data),
        "HOTLINE_TWILIO_AUTH_TOKEN": "test-token",
        "HOTLINE_IVR_ROUTER": "ivr.route:make_router",
    }
    env.pop("HOTLINE_PUBLIC_URL", None)
    port = _free_port()
    proc = subprocess.Popen(
        [HOTLINE, "serve", "--port", str(port)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if requests.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            proc.kill()
            pytest.fail("hotline serve did not start: " + (proc.stdout.read().decode() if proc.stdout else ""))
        yield url, env
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def simulate(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HOTLINE, "simulate", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=90)


def test_simulate_free_form_request_reaches_logistics(server: tuple[str, dict[str, str]]) -> None:
    url, env = server
    out = simulate(env, "--url", url, "--say", "我的快递怎么一天都没有物流了", "--expect", "logistics")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "物流配送" in out.stdout


@pytest.mark.parametrize(
    ("text", "node"),
    [("买了四天就降价了能保价吗", "payment.refund"), ("不是物流的问题，是发票开错了", "order.invoice")],
)
def test_simulate_other_free_form_requests(server: tuple[str, dict[str, str]], text: str, node: str) -> None:
    url, env = server
    out = simulate(env, "--url", url, "--say", text, "--expect", node)
    assert out.returncode == 0, out.stdout + out.stderr
