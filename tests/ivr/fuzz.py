"""A seeded fuzzer for the IVR: random callers against the pure flow engine and the signed HTTP layer.

Each simulated call presses random keys, says every kind of thing (menu words, commands, yes/no,
numbers, junk, nothing), stays silent, hangs up, comes back from the agent leg with any outcome,
in and out of business hours. Every step must either listen (a prompt and a Gather), transfer,
or end the call; a caller who then stays silent must reach a transfer or an end within a few
prompts. Anything else is a dead end; an exception is an exception. The HTTP layer gets the same
callers through signed requests, plus retries, stale steps and callbacks with junk values.

    python -m tests.ivr.fuzz --calls 10000 --http-calls 2000 --seed 1

The test suite runs a small number of calls (tests/ivr/test_fuzz.py).
"""

from __future__ import annotations

import argparse
import random
import re
import time
import traceback
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from ivr.caller_text import BACK_WORDS, END_WORDS, MAIN_WORDS, REPEAT_WORDS
from ivr.flow import Flow
from ivr.flow_types import Event, State, Step
from ivr.menu import Menu
from ivr.simulate import parse_twiml
from ivr.twiml import render

SILENCE_LIMIT = 12  # prompts a silent caller may hear before the call must transfer or end
MAX_STEPS = 40  # events per fuzzed call before the caller falls silent
WEEK_START = datetime(2026, 11, 23, tzinfo=UTC)  # a Monday: clocks are drawn over the following week
AGENT_OUTCOMES = ("completed", "bridged", "answered", "leave", "redirected", "busy", "no-answer", "failed",
                  "canceled", "hangup", "queue-full", "system-error", "error", "", "??", "x" * 80)  # fmt: skip
JUNK = ("", " ", "啊", "😀😀", "\x00\x01", "DROP TABLE calls;", "<Say>hi</Say>", "%s%s%n", "一" * 600,
        "hello operator", "123abc", "\u202e反转", "​")  # fmt: skip
NUMBERS = ("13812345678", "我的手机号是13812345678", "幺三八 嗯 幺二三四 嗯 五六七八", "身份证110105194912310021",
           "订单号123456789012", "三", "五分", "一二三", "两个", "0", "9", "#", "*")  # fmt: skip


@dataclass
class Report:
    """What a fuzz run found. ``problems`` keeps the first few, with the seed and call to replay them."""

    layer: str
    calls: int = 0
    steps: int = 0
    exceptions: int = 0
    dead_ends: int = 0
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, kind: str, where: str, detail: str) -> None:
        if kind == "exception":
            self.exceptions += 1
        else:
            self.dead_ends += 1
        if len(self.problems) < 10:
            self.problems.append(f"{kind} at {where}: {detail}")

    def __str__(self) -> str:
        return (
            f"{self.layer}: {self.calls} calls, {self.steps} steps, {self.exceptions} exceptions, "
            f"{self.dead_ends} dead ends ({self.seconds:.1f} s)"
        )


# ------------------------------------------------------------------ what callers do


class Caller:
    """Random but reproducible caller behaviour, drawn from the menu's own words and every kind of noise."""

    def __init__(self, menu: Menu, rng: random.Random) -> None:
        self.rng = rng
        words: list[str] = []
        for node in menu.nodes.values():
            words.extend(w for w in (node.label, *node.keywords) if w)
        self.menu_words = tuple(words)
        self.commands = (*REPEAT_WORDS, *BACK_WORDS, *MAIN_WORDS, *END_WORDS, "人工", "转人工", "人工客服")
        self.yes_no = (*menu.yes_words, *menu.no_words)

    def keys(self) -> str:
        r = self.rng.random()
        if r < 0.6:
            return self.rng.choice("0123456789*#")
        if r < 0.85:  # an entry: digits and maybe a #
            n = self.rng.randint(1, 24)
            return "".join(self.rng.choice("0123456789") for _ in range(n)) + self.rng.choice(("#", "", "##"))
        return "".join(self.rng.choice("0123456789*#") for _ in range(self.rng.randint(2, 6)))

    def speech(self) -> str:
        pool = self.rng.choice((self.menu_words, self.menu_words, self.commands, self.yes_no, NUMBERS, JUNK))
        text = self.rng.choice(pool)
        if self.rng.random() < 0.2:  # a longer sentence around it
            text = self.rng.choice(("我想", "请帮我", "那个", "")) + text + self.rng.choice(("吧", "谢谢", "", "。"))
        return text

    def confidence(self) -> float | None:
        return None if self.rng.random() < 0.15 else round(self.rng.random(), 3)

    def event(self, last: Step) -> Event:
        """What Twilio would deliver after ``last`` (and now and then what it should not)."""
        r = self.rng.random()
        if r < 0.03:
            return Event("hangup")
        if last.action == "transfer" or r > 0.97:
            return Event("transfer_end", text=self.rng.choice(AGENT_OUTCOMES))
        return self.answer(last.gather is None or "speech" in last.gather.input or r > 0.95)

    def answer(self, speech_ok: bool) -> Event:
        """What the caller does at a prompt: keys, words (where speech is listened for), or nothing."""
        r = self.rng.random()
        if r < 0.45:
            return Event("digits", digits=self.keys())
        if r < 0.8 and speech_ok:
            return Event("speech", text=self.speech(), confidence=self.confidence())
        return Event("no_input")

    def clock(self) -> datetime:
        return WEEK_START + timedelta(minutes=self.rng.randrange(7 * 24 * 60))


# ------------------------------------------------------------------ the pure flow engine


def problem_with(step: Step, menu: Menu) -> str:
    """Why this step leaves the caller stuck ("" if it does not): it must listen, transfer or end."""
    st = step.state
    if st.node not in menu.nodes:
        return f"unknown node {st.node!r}"
    if step.action == "gather":
        if step.gather is None:
            return "gather without a spec"
        if not any(s.strip() for s in step.say):
            return f"silent gather at {st.node}"
    elif step.action == "transfer":
        if not step.skill or st.phase != "transferred":
            return f"transfer without a skill or state at {st.node}"
    elif step.action == "hangup":
        if st.phase != "ended":
            return f"hang-up while the call is not ended at {st.node}"
    else:
        return f"unknown action {step.action!r}"
    tw = parse_twiml(render(step))
    shape = "gather" if tw.gather is not None else "transfer" if tw.transfer else "hangup" if tw.hangup else "none"
    if shape != step.action or (tw.gather is not None and not tw.gather.get("action")):
        return f"TwiML does not {step.action} at {st.node} (it does: {shape})"
    if State.from_dict(st.to_dict()) != st:
        return f"state does not survive storage at {st.node}"
    return ""


def silent_until_end(flow: Flow, step: Step, now: datetime) -> str:
    """A caller who stops answering must be transferred or hear goodbye within SILENCE_LIMIT prompts."""
    for _ in range(SILENCE_LIMIT):
        if step.action in ("transfer", "hangup"):
            return ""
        step = flow.step(step.state, Event("no_input"), now=now)
        if problem := problem_with(step, flow.menu):
            return problem
    return "" if step.action in ("transfer", "hangup") else f"silence never ends the call (still at {step.node})"


def fuzz_flow(flows: list[Flow], calls: int, seed: int = 0) -> Report:
    """``calls`` random calls through the pure engine (routers alternate between ``flows``)."""

    def call(i: int) -> str:
        rng = random.Random(f"{seed}:{i}")
        flow = flows[i % len(flows)]
        caller = Caller(flow.menu, rng)
        now = caller.clock()
        step = flow.step(None, Event("start"), now=now)
        steps = 1
        try:
            for _ in range(rng.randint(1, MAX_STEPS)):
                if problem := problem_with(step, flow.menu):
                    return problem
                if step.action == "hangup":
                    return ""
                step = flow.step(step.state, caller.event(step), now=now)
                steps += 1
            return silent_until_end(flow, step, now)
        finally:
            report.steps += steps

    report = Report("flow")
    return _run(report, calls, seed, call)


def _run(report: Report, calls: int, seed: int, call: Callable[[int], str]) -> Report:
    """Run ``call(i)`` for each call: a returned problem is a dead end, a raised one an exception."""
    started = time.monotonic()
    for i in range(calls):
        where = f"seed {seed} {report.layer} call {i}"
        try:
            if problem := call(i):
                report.add("dead end", where, problem)
        except Exception:
            report.add("exception", where, traceback.format_exc(limit=6))
        report.calls += 1
    report.seconds = time.monotonic() - started
    return report


def make_flows() -> list[Flow]:
    """The menu with the shipped hours, routed by its keywords and by the trained router (the default)."""
    from ivr.hours import load_hours
    from ivr.menu import load_menu
    from ivr.route import make_router

    root = Path(__file__).resolve().parents[2] / "ivr" / "menus"
    menu = load_menu(root / "950618.yaml")
    hours = load_hours(root / "hours.yaml")
    return [Flow(menu, hours), Flow(menu, hours, make_router(menu))]


# ------------------------------------------------------------------ the signed HTTP layer

Post = Callable[[str, dict[str, str]], Any]  # (path with query, form) -> a Flask test response


def _action(body: str) -> tuple[str, str]:
    """(what the answer does, the URL to post next)."""
    tw = parse_twiml(body)
    if tw.gather is not None:
        return "gather", tw.gather.get("action", "")
    if tw.transfer:
        return "transfer", tw.transfer_action
    if tw.hangup:
        return "hangup", ""
    return "none", ""


def _seq_of(url: str) -> int:
    return int((parse_qs(urlparse(url).query).get("s") or ["0"])[0] or 0)


def fuzz_http(post: Post, menu: Menu, calls: int, seed: int = 0) -> Report:
    """``calls`` random calls through the signed webhooks; ``post`` signs and sends one form."""

    def call(i: int) -> str:
        rng = random.Random(f"http:{seed}:{i}")
        sid = "CA" + "".join(rng.choice("0123456789abcdef") for _ in range(32))
        return _http_call(post, Caller(menu, rng), sid, report)

    report = Report("http")
    return _run(report, calls, seed, call)


def _caller_facing(post: Post, path: str, form: dict[str, str], report: Report) -> tuple[str, str, str]:
    """Post to a webhook the caller hears: it must answer 200 with TwiML that listens, transfers or ends."""
    r = post(path, form)
    report.steps += 1
    body = r.get_data(as_text=True)
    if r.status_code != 200:
        return "", "", f"HTTP {r.status_code} from {path}: {body[:120]!r}"
    try:
        action, url = _action(body)
    except (ET.ParseError, ValueError) as exc:
        return "", "", f"not TwiML from {path}: {exc}"
    if action == "none" or (action == "gather" and not url):
        return "", "", f"a dead end from {path}: {body[:200]!r}"
    return action, url, ""


def _callback(post: Post, caller: Caller, sid: str, report: Report) -> tuple[str, bool]:
    """A status or recording callback with random (often bad) values: (a 5xx as a problem, the call ended).

    After a final status Twilio sends no more requests for the call, and neither does the fuzzer.
    """
    rng = caller.rng
    status = ""
    if rng.random() < 0.5:
        status = rng.choice(("ringing", "in-progress", "completed", "busy", "rewound", ""))
        form = {"CallSid": sid, "CallStatus": status}
        form["CallDuration"] = rng.choice(("12", "inf", "nan", "-1", "1e999", "", "abc"))
        path = "/ivr/status"
    else:
        form = {
            "CallSid": sid,
            "RecordingSid": "RE" + "".join(rng.choice("0123456789abcdef") for _ in range(32)),
            "RecordingStatus": rng.choice(("completed", "in-progress", "absent")),
            "RecordingUrl": rng.choice(
                (
                    "https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/RE1",
                    "file:///etc/passwd",
                    "http://127.0.0.1:1/x",
                    "/etc/shadow",
                    "",
                )
            ),
            "RecordingDuration": rng.choice(("30", "inf", "nan", "")),
            "RecordingChannels": rng.choice(("2", "1", "inf", "9", "")),
        }
        path = "/ivr/recording"
    r = post(path, form)
    report.steps += 1
    problem = "" if r.status_code < 500 else f"HTTP {r.status_code} from {path}"
    return problem, status in ("completed", "busy") and r.status_code == 200


def _http_call(post: Post, caller: Caller, sid: str, report: Report) -> str:
    """One call over HTTP: random input up to a point, then silence, which must end the call."""
    rng = caller.rng
    base = {"CallSid": sid, "From": "+86138" + "".join(rng.choice("0123456789") for _ in range(8))}
    action, url, problem = _caller_facing(post, "/ivr/voice", {**base, "CallStatus": "ringing"}, report)
    quiet_from, silent_prompts = rng.randint(1, MAX_STEPS), 0
    for n in range(quiet_from + 3 * SILENCE_LIMIT):
        if problem or action == "hangup":
            break
        if action == "transfer" and not url:  # no action URL: Twilio ends the call with the agent leg
            break
        if rng.random() < 0.1:
            problem, ended = _callback(post, caller, sid, report)
            if problem or ended:
                break
        form = dict(base)
        if action == "transfer":
            form[rng.choice(("DialCallStatus", "QueueResult"))] = rng.choice(AGENT_OUTCOMES)
        elif n >= quiet_from:
            silent_prompts += 1
            if silent_prompts > SILENCE_LIMIT:
                return f"silence never ends the call (still gathering at {url})"
        else:
            ev = caller.answer(speech_ok=rng.random() < 0.9)
            if ev.kind == "digits":
                form["Digits"] = ev.digits
            elif ev.kind == "speech":
                form["SpeechResult"] = ev.text
                form["Confidence"] = rng.choice((str(ev.confidence), "nan", "inf", "", "-3", "0.8"))
        if rng.random() < 0.05:  # a stale request (an older step number): the last answer again
            url = re.sub(r"\bs=(\d+)", lambda m: f"s={max(0, int(m.group(1)) - 1)}", url)
        answer = _caller_facing(post, url, form, report)
        if not answer[2] and rng.random() < 0.05:  # Twilio retried the same request: the same answer
            again = _caller_facing(post, url, form, report)
            if again != answer:
                return f"a retried request was answered differently at {url}"
        action, url, problem = answer
    if not problem and rng.random() < 0.5:
        problem = _callback(post, caller, sid, report)[0]
    return problem


@contextmanager
def http_app(data_dir: Path) -> Iterator[tuple[Post, Menu]]:
    """A fresh app over SQLite in ``data_dir`` and a poster that signs like Twilio."""
    from hotline.app import create_app
    from hotline.settings import Secret, Settings
    from tests.ivr.helpers import TOKEN, sign

    settings = Settings(data_dir=data_dir, twilio_auth_token=Secret(TOKEN), public_url="http://localhost")
    app = create_app(settings)
    app.extensions["hotline"]["ivr"].on_recording = lambda call_id, rec_id: None  # fuzz the webhooks, not downloads
    client = app.test_client()

    def post(path: str, form: dict[str, str]) -> Any:
        return client.post(path, data=form, headers={"X-Twilio-Signature": sign("http://localhost" + path, form)})

    try:
        yield post, app.extensions["hotline"]["ivr"].flow.menu
    finally:
        app.extensions["hotline"]["pipeline"].stop()
        app.extensions["hotline"]["engine"].dispose()


def main() -> None:
    import logging
    import tempfile

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=1000, help="calls through the pure flow engine")
    ap.add_argument(
        "--http-calls", type=int, default=None, help="calls through the signed webhooks (default: calls/10)"
    )
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)  # webhooks log every refused junk value at WARNING
    flow_report = fuzz_flow(make_flows(), args.calls, args.seed)
    print(flow_report, flush=True)
    with tempfile.TemporaryDirectory(prefix="hotline-fuzz-") as tmp, http_app(Path(tmp)) as (post, menu):
        http_calls = args.http_calls if args.http_calls is not None else max(1, args.calls // 10)
        http_report = fuzz_http(post, menu, http_calls, args.seed)
    print(http_report)
    for report in (flow_report, http_report):
        for p in report.problems:
            print(f"  {report.layer}: {p}")
    raise SystemExit(1 if any(r.exceptions or r.dead_ends for r in (flow_report, http_report)) else 0)


if __name__ == "__main__":
    main()
