"""The workspace in Debian's Chromium (Playwright) against a real `hotline serve` process.

A QA user logs in, filters the list, opens a call, plays and seeks, overrides an item with a
comment; a supervisor runs this week's sample and downloads its zip. Screenshots go to
var/screenshots/ (CI prints their paths).
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hotline.settings import Settings
from store.db import make_engine, migrate, session_factory
from tests.browser import SHOTS, need_chromium

from .seed import Audio, Seeded, seed

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, call_audio: dict[str, Audio]) -> Iterator[tuple[str, Seeded]]:
    need_chromium()
    data = tmp_path_factory.mktemp("serve")
    settings = Settings(data_dir=data / "var")
    engine = make_engine(settings.database_url)
    migrate(engine)
    seeded = seed(session_factory(engine), Path(settings.data_dir), call_audio)
    engine.dispose()
    env = {**os.environ, "HOTLINE_DATA_DIR": str(settings.data_dir), "HOTLINE_SECRET_KEY": "browser-test-key"}
    env.pop("HOTLINE_DATABASE_URL", None)
    hotline = [sys.executable, "-m", "hotline.cli.__init__"] if not shutil.which("hotline") else ["hotline"]
    bin_hotline = Path(sys.executable).parent / "hotline"
    if bin_hotline.exists():
        hotline = [str(bin_hotline)]
    # one more account made through the CLI, the way an admin would
    subprocess.run([*hotline, "users", "add", "lisa", "--role", "qa", "--password", "lisa-pass-1"], env=env, check=True)
    port = _free_port()
    proc = subprocess.Popen(
        [*hotline, "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            urllib.request.urlopen(base + "/healthz", timeout=1)
            break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(proc.stdout.read().decode() if proc.stdout else "server died") from None
            time.sleep(0.2)
    else:
        proc.kill()
        raise RuntimeError("hotline serve did not start")
    yield base, seeded
    proc.terminate()
    proc.wait(timeout=10)


def _page(browser: Any) -> Any:
    ctx = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN", accept_downloads=True)
    ctx.set_default_timeout(15000)
    return ctx.new_page()


def _login(page: Any, base: str, name: str, password: str) -> None:
    page.goto(base + "/qa/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_qa_user_filters_listens_and_overrides(server: tuple[str, Seeded], browser: Any) -> None:
    base, sd = server
    page = _page(browser)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _login(page, base, "lisa", "lisa-pass-1")
    assert "我的任务" in page.content()
    page.goto(base + "/qa/calls")
    assert page.locator("#total").inner_text() == str(len(sd.call_ids) + 1)
    _shot(page, "calls-list")

    # filter: one agent, negative customers (htmx swaps the results in place)
    page.select_option("select[name=agent]", "A1001")
    page.select_option("select[name=sentiment]", "negative")
    page.click("#filters button[type=submit]")
    page.wait_for_function("document.querySelector('#total').textContent === '2'")
    assert "agent=A1001" in page.url
    _shot(page, "calls-filtered")

    page.click("table.list tbody tr:first-child a.open")
    page.wait_for_selector("#transcript .line")
    assert "不归我管" in page.content()
    page.wait_for_function("document.querySelector('#player').readyState >= 1")
    page.wait_for_selector("#wave canvas, #wave div", state="attached")

    # play, then seek by clicking the third line: the audio jumps there and the line lights up
    page.evaluate("document.querySelector('#player').play()")
    page.wait_for_function("document.querySelector('#player').currentTime > 0.3")
    line = page.locator("#turn-2")
    start = float(line.get_attribute("data-start") or 0)
    line.click()
    page.wait_for_function(
        f"Math.abs(document.querySelector('#player').currentTime - {start}) < 1.5"
        " && document.querySelector('#turn-2').classList.contains('current')"
    )
    assert page.locator("#transcript .line.current").count() == 1
    # a highlighted phrase links to its scorecard item
    hit = page.locator("#transcript a.hit").first
    item = hit.get_attribute("href")
    assert item and page.locator(item).count() == 1
    page.evaluate("document.querySelector('#player').pause()")
    _shot(page, "call-page")
    page.screenshot(path=str(SHOTS / "call-page-top.png"))

    # override the first adjustable item with a reason and a comment
    inputs = page.locator("#reviewform input[type=number]")
    inp = next(
        inputs.nth(i) for i in range(inputs.count()) if float(inputs.nth(i).get_attribute("data-auto") or 0) >= 2
    )
    auto = float(inp.get_attribute("data-auto") or 0)
    new = max(0.0, auto - 2)
    inp.fill(f"{new:.1f}")
    name = (inp.get_attribute("name") or "").split(".", 1)[1]
    page.fill(f"input[name='note.{name}']", "开场白不规范")
    page.fill("#reviewform textarea[name=comment]", "请加强服务用语")
    page.click("#submit-review")
    page.wait_for_selector(".flash.ok")
    assert "修改 1 项" in page.content() and "开场白不规范" in page.content()
    assert page.locator("#human-total").count() == 1
    _shot(page, "call-reviewed")
    assert not errors, errors


def test_supervisor_samples_downloads_and_sees_trends(server: tuple[str, Seeded], browser: Any) -> None:
    base, sd = server
    page = _page(browser)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _login(page, base, "sup", "secret-sup")
    page.goto(base + "/qa/sampling?team=售后一组")
    assert page.locator("input[name=week]").input_value() == sd.week
    _shot(page, "sampling")
    page.click("#run-sample")
    page.wait_for_selector("#pick-count")
    assert int(page.locator("#pick-count").inner_text()) > 0
    assert "随机抽检" in page.content()
    _shot(page, "sample")
    with page.expect_download() as dl:
        page.click("#download-zip")
    path = dl.value.path()
    z = zipfile.ZipFile(io.BytesIO(Path(path).read_bytes()))
    assert "summary.csv" in z.namelist() and any(n.endswith(".wav") for n in z.namelist())

    page.goto(base + "/qa/trends")
    page.wait_for_function("document.querySelectorAll('canvas').length === 4")
    page.wait_for_timeout(300)
    # the charts drew something (a blank canvas has no non-transparent pixels)
    drawn = page.evaluate(
        "Array.from(document.querySelectorAll('canvas')).every(c => { const d = c.getContext('2d')"
        ".getImageData(0, 0, c.width, c.height).data; for (let i = 3; i < d.length; i += 4) if (d[i]) return true;"
        " return false; })"
    )
    assert drawn
    _shot(page, "trends")
    page.goto(base + "/qa/audit")
    assert "403" in page.content()  # supervisors do not read the audit log
    assert not errors, errors
