"""运营指标 in Debian's Chromium against a real `hotline serve`, fed by `hotline simulate --calls`:
the page's figures equal `hotline kpi --json`, the charts draw, the live figures refresh without a
reload, a low survey is a 回访 task, the week's report opens. Screenshots go to var/screenshots/."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import need_chromium

from .test_browser import _free_port, _login, _page, _shot

pytestmark = pytest.mark.browser
HOTLINE = str(Path(sys.executable).parent / "hotline")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    need_chromium()
    data = tmp_path_factory.mktemp("kpi-serve") / "var"
    env = {**os.environ, "HOTLINE_DATA_DIR": str(data), "HOTLINE_SECRET_KEY": "browser-kpi-key"}
    for k in ("HOTLINE_DATABASE_URL", "HOTLINE_TWILIO_AUTH_TOKEN", "HOTLINE_PUBLIC_URL"):
        env.pop(k, None)
    subprocess.run(
        [HOTLINE, "users", "add", "boss", "--role", "supervisor", "--password", "boss-pass-1"], env=env, check=True
    )
    port = _free_port()
    proc = subprocess.Popen(
        [HOTLINE, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            urllib.request.urlopen(base + "/healthz", timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        raise RuntimeError("hotline serve did not start")
    try:
        sim = subprocess.run(
            [HOTLINE, "simulate", "--url", base, "--calls", "40", "--seed", "1", "--quiet"],
            env=env,
            capture_output=True,
            text=True,
        )
        assert sim.returncode == 0, sim.stdout + sim.stderr
        yield base, env
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_service_page_matches_the_cli(served: tuple[str, dict[str, str]], browser: Any) -> None:
    base, env = served
    got = json.loads(
        subprocess.run([HOTLINE, "kpi", "--json"], env=env, capture_output=True, text=True, check=True).stdout
    )
    assert got["calls"] == 40
    page = _page(browser)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _login(page, base, "boss", "boss-pass-1")
    page.goto(base + "/qa/service")
    page.wait_for_function("document.querySelectorAll('canvas').length === 4")
    page.wait_for_function("document.getElementById('live-at').textContent !== '—'")  # refreshed by fetch
    for key in ("calls", "offered", "answered", "abandoned"):
        assert page.locator(f'[data-k="{key}"]').inner_text().strip() == str(got[key])
    rate = page.locator('[data-k="answer_rate"]').inner_text()
    assert rate == ("—" if got["answer_rate"] is None else f"{100 * got['answer_rate']:.1f}%")
    drawn = page.evaluate(
        "Array.from(document.querySelectorAll('canvas')).every(c => { const d = c.getContext('2d')"
        ".getImageData(0, 0, c.width, c.height).data; for (let i = 3; i < d.length; i += 4) if (d[i]) return true;"
        " return false; })"
    )
    assert drawn
    rows = page.locator("#funnel-table tbody tr").count()
    assert rows == len(got["funnel"]) > 3
    _shot(page, "service-levels")
    before = page.locator("#live-at").inner_text()
    page.wait_for_function(f"document.getElementById('live-at').textContent !== {json.dumps(before)}", timeout=12000)

    page.goto(base + "/qa/service/followups")
    n_low = got["survey_low"]
    assert page.locator("tr.fu-open").count() == n_low
    if n_low:
        assert re.search(r"4[67] 小时", page.content())
    _shot(page, "followups")
    page.goto(base + "/qa/service/report")
    assert "周报" in page.content() and page.locator("#report").count() == 1
    _shot(page, "service-report")
    with page.expect_download() as dl:
        page.click("#xlsx")
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(Path(dl.value.path()).read_bytes()))["概览"]
    values = {r[0]: r[1] for r in sheet.iter_rows(min_row=5, values_only=True)}
    assert values["来电量"] == 40 and values["人工接通"] == got["answered"]
    assert not errors, errors
