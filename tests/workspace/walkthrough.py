"""Drive a running workspace in Chromium the way its users do (the issue's "must show").

    .venv/bin/python -m tests.workspace.walkthrough --base http://127.0.0.1:8000 \\
        --qa qa1:PASSWORD --supervisor sup1:PASSWORD [--team 售后一组] [--out var/screenshots/demo]

Against a store filled by ``hotline demo`` and accounts made with ``hotline users add``: the QA
user logs in, opens a scored call, fetches and plays its recording (the audio route must return a
WAV), seeks by clicking a transcript line, checks the highlighted phrases, overrides one item with
a reason; the supervisor runs the proposed week's sample for the team and downloads its zip.
A call the 待人工确认 filter finds is opened at its marked item, whose link plays the marked audio.
Screenshots of the list, call, review-mark, sample and trends pages go to ``--out``. Exits non-zero on failure.
"""

from __future__ import annotations

import argparse
import io
import sys
import zipfile
from pathlib import Path
from typing import Any

from tests.browser import ARGS, CHROMIUM


def _login(page: Any, base: str, cred: str) -> None:
    name, password = cred.split(":", 1)
    page.goto(base + "/qa/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    if "/qa/login" in page.url:
        raise SystemExit(f"login failed for {name}")


def qa_session(browser: Any, base: str, cred: str, out: Path) -> dict[str, Any]:
    ctx = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _login(page, base, cred)
    page.goto(base + "/qa/calls?sort=-started_at")
    page.screenshot(path=str(out / "demo-calls.png"), full_page=True)
    # the first call that has a score
    rows = page.locator("table.list tbody tr")
    link = None
    for i in range(rows.count()):
        if rows.nth(i).locator("a.open").count():
            link = rows.nth(i).locator("a.open").first
            break
    if link is None:
        raise SystemExit("no scored call with a recording in the list")
    link.click()
    page.wait_for_selector("#transcript .line")
    call_url = page.url
    audio = page.request.get(call_url.split("#")[0] + "/audio")
    body = audio.body()
    wav = audio.status == 200 and body[:4] == b"RIFF" and audio.headers.get("content-type", "").startswith("audio/wav")
    page.wait_for_function("document.querySelector('#player').readyState >= 1")
    page.evaluate("document.querySelector('#player').play()")
    page.wait_for_function("document.querySelector('#player').currentTime > 0.5")
    lines = page.locator("#transcript .line")
    target = lines.nth(min(2, lines.count() - 1))
    start = float(target.get_attribute("data-start") or 0)
    target.click()
    page.wait_for_function(
        f"Math.abs(document.querySelector('#player').currentTime - {start}) < 1.5"
        " && document.querySelectorAll('#transcript .line.current').length === 1"
    )
    played_to = float(page.evaluate("document.querySelector('#player').currentTime"))
    page.evaluate("document.querySelector('#player').pause()")
    hits = page.locator("#transcript a.hit")
    n_hits = hits.count()
    linked = n_hits > 0 and page.locator(hits.first.get_attribute("href") or "#none").count() == 1
    page.screenshot(path=str(out / "demo-call.png"), full_page=True)
    # override the first item that can go down by one point
    inputs = page.locator("#reviewform input[type=number]")
    inp = next(
        (inputs.nth(i) for i in range(inputs.count()) if float(inputs.nth(i).get_attribute("data-auto") or 0) >= 1),
        None,
    )
    if inp is None:
        raise SystemExit("no item to override")
    auto = float(inp.get_attribute("data-auto") or 0)
    inp.fill(f"{auto - 1:g}")
    key = (inp.get_attribute("name") or "").split(".", 1)[1]
    page.fill(f"input[name='note.{key}']", "演示：人工复核扣1分")
    page.fill("#reviewform textarea[name=comment]", "演示复核意见")
    page.click("#submit-review")
    page.wait_for_selector(".flash.ok")
    human_total = page.locator("#human-total").inner_text()
    page.screenshot(path=str(out / "demo-call-reviewed.png"), full_page=True)
    ctx.close()
    return {
        "call": call_url,
        "audio_wav_bytes": len(body) if wav else 0,
        "seeked_to": round(played_to, 2),
        "line_start": start,
        "highlights": n_hits,
        "highlight_links_to_item": linked,
        "overrode": f"{key}: {auto:g} -> {auto - 1:g}",
        "human_total": human_total,
        "page_errors": errors,
    }


def review_session(browser: Any, base: str, cred: str, out: Path) -> dict[str, Any]:
    """A call the list's 待人工确认 filter finds: its marked item, and the audio it points at."""
    ctx = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _login(page, base, cred)
    page.goto(base + "/qa/calls?flag=needs_review&sort=-started_at")
    links = page.locator("table.list tbody tr a.open")
    if not links.count():
        ctx.close()
        return {"flagged_calls": 0, "page_errors": errors}
    flagged = int(page.locator("#total").inner_text())
    links.first.click()
    page.wait_for_selector("#transcript .line")
    row = page.locator("tr.needs-review").first
    mark = row.locator("a.evlink.review").first
    t = float(mark.get_attribute("data-time") or 0)
    row.scroll_into_view_if_needed()
    mark.click()  # plays from the marked time
    page.wait_for_function(f"Math.abs(document.querySelector('#player').currentTime - {t}) < 1.5")
    page.evaluate("document.querySelector('#player').pause()")
    page.screenshot(path=str(out / "demo-call-review.png"), full_page=True)
    result = {
        "flagged_calls": flagged,
        "call": page.url,
        "marked_item": row.locator("td b").first.inner_text(),
        "mark": mark.inner_text(),
        "player_at": round(float(page.evaluate("document.querySelector('#player').currentTime")), 2),
        "page_errors": errors,
    }
    ctx.close()
    return result


def supervisor_session(browser: Any, base: str, cred: str, team: str, out: Path) -> dict[str, Any]:
    ctx = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN", accept_downloads=True)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _login(page, base, cred)
    page.goto(base + "/qa/sampling" + (f"?team={team}" if team else ""))
    week = page.locator("input[name=week]").input_value()
    note = page.locator("#week-note").inner_text() if page.locator("#week-note").count() else ""
    page.click("#run-sample")
    page.wait_for_selector("#pick-count")
    picks = int(page.locator("#pick-count").inner_text())
    page.screenshot(path=str(out / "demo-sample.png"), full_page=True)
    with page.expect_download() as dl:
        page.click("#download-zip")
    data = Path(dl.value.path()).read_bytes()
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    (out / dl.value.suggested_filename).write_bytes(data)
    page.goto(base + "/qa/trends")
    page.wait_for_function("document.querySelectorAll('canvas').length === 4")
    page.wait_for_timeout(500)
    page.screenshot(path=str(out / "demo-trends.png"), full_page=True)
    ctx.close()
    return {
        "week": week,
        "week_note": note,
        "picks": picks,
        "zip": dl.value.suggested_filename,
        "zip_bytes": len(data),
        "zip_wavs": sum(1 for n in names if n.endswith(".wav")),
        "zip_files": len(names),
        "page_errors": errors,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="http://127.0.0.1:8000")
    ap.add_argument("--qa", required=True, help="NAME:PASSWORD of a qa account")
    ap.add_argument("--supervisor", required=True, help="NAME:PASSWORD of a supervisor account")
    ap.add_argument("--team", default="", help="team to sample (default: the page's choice)")
    ap.add_argument("--out", default="var/screenshots/demo")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        qa = qa_session(browser, args.base, args.qa, out)
        rev = review_session(browser, args.base, args.qa, out)
        sup = supervisor_session(browser, args.base, args.supervisor, args.team, out)
        browser.close()
    for who, res in (("qa", qa), ("review", rev), ("supervisor", sup)):
        for k, v in res.items():
            print(f"{who:10s} {k:24s} {v}")
    ok = (
        qa["audio_wav_bytes"] > 0
        and qa["highlights"] > 0
        and qa["highlight_links_to_item"]
        and sup["picks"] > 0
        and sup["zip_wavs"] > 0
        and not qa["page_errors"]
        and not sup["page_errors"]
        and not rev["page_errors"]
    )
    print("screenshots:", ", ".join(sorted(str(x) for x in out.glob("*.png"))))
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
