"""Two replayed calls at once through a real `hotline serve`, watched in Debian's Chromium: the
supervisor board shows both calls' transcripts growing and the forbidden-phrase alert; the agent
page shows the verification still owed and a knowledge snippet for the request. Screenshots go
to var/screenshots/live-*.png."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser import SHOTS, need_chromium
from tests.ivr.stream.test_serve import HOTLINE, Served, serve
from tests.live.test_replay import FIXTURE, ko_scorecard

pytestmark = pytest.mark.browser
DOCS = """配送问题：快递长时间未送达时，客服可以帮您查询物流轨迹，联系配送站点催促派送，并告知预计送达时间。
退款进度查询：退货完成后，用户若长时间未收到退款，可通过人工客服查询退款审核进度及到账时间。
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    need_chromium()
    tmp = tmp_path_factory.mktemp("live-browser")
    docs = tmp / "docs"
    docs.mkdir()
    (docs / "配送.txt").write_text(DOCS, encoding="utf-8")
    with serve(
        tmp,
        "",
        HOTLINE_LIVE_CALLS="1",
        HOTLINE_SCORECARD_PATH=str(ko_scorecard(tmp / "card.yaml")),
        HOTLINE_KNOWLEDGE_DIR=str(docs),
        HOTLINE_SECRET_KEY="live-browser-key",
    ) as srv:
        srv.logged("Media Streams WebSocket on")
        subprocess.run(
            [HOTLINE, "users", "add", "sup", "--role", "supervisor", "--password", "sup-pass-1"],
            env=srv.env,
            check=True,
        )
        yield srv


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"live-{name}.png"), full_page=True)


def test_two_live_calls_on_the_board_and_the_agent_page(server: Served, browser: Any) -> None:
    page = browser.new_context(viewport={"width": 1400, "height": 800}, locale="zh-CN").new_page()
    page.set_default_timeout(120_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.base + "/qa/login")
    page.fill("input[name=name]", "sup")
    page.fill("input[name=password]", "sup-pass-1")
    page.click("button[type=submit]")
    page.goto(server.base + "/qa/live")
    calls = ["CA" + str(k) * 32 for k in (1, 2)]
    replays = [
        subprocess.Popen(
            [
                HOTLINE,
                "live",
                "replay",
                str(FIXTURE),
                "--url",
                server.base,
                "--speed",
                "1",
                "--call-sid",
                sid,
                "--topic",
                "logistics",
            ],
            env=server.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for sid in calls
    ]
    try:
        for sid in calls:  # both calls appear on the board while they are live, pushed (no reload)
            page.wait_for_selector(f'tr[data-sid="{sid}"]')
        page.wait_for_function("document.querySelectorAll('#rows td.alerts span').length >= 2")
        shot(page, "board")
        text = page.inner_text("#rows")
        assert "禁用语：바보" in text
        page.goto(f"{server.base}/qa/live/{calls[0]}")
        page.wait_for_selector("#transcript .turn.agent")
        shot(page, "call")
        assist = page.get_attribute("a[href*='/live/assist/']", "href")
        assert assist
        agent = browser.new_context(viewport={"width": 1200, "height": 700}, locale="zh-CN").new_page()
        agent.goto(server.base + assist)
        assert "身份/订单核实" in agent.inner_text("#missing")  # the menu choice (logistics) makes it due
        assert "联系配送站点" in agent.inner_text("#snippets")  # the knowledge for the request
        shot(agent, "assist")
    finally:
        for p in replays:
            _, err = p.communicate(timeout=300)
            assert p.returncode == 0, err
    assert errors == []
