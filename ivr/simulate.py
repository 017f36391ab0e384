"""A call simulator: plays a caller's script against a running server the way Twilio would.

It posts correctly signed webhook requests, follows the TwiML it gets back (Gather, Redirect,
Enqueue/Dial, Hangup), and reports every prompt and the path. After the script the caller
stays on the line silently, so a menu that never reaches an end shows up as a dead end.
"""

from __future__ import annotations

import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urljoin, urlparse

from twilio.request_validator import RequestValidator

TRANSFER_OK = {"Enqueue": {"QueueResult": "bridged"}, "Dial": {"DialCallStatus": "completed"}}


@dataclass(frozen=True)
class Action:
    kind: str  # press | say | silence
    value: str = ""


@dataclass
class Twiml:
    """What a TwiML answer asks of the caller."""

    says: list[str] = field(default_factory=list)
    gather: dict[str, str] | None = None  # Gather attributes
    redirect: str = ""
    transfer: str = ""  # "Enqueue" | "Dial"
    transfer_target: str = ""
    transfer_action: str = ""
    recording: bool = False
    hangup: bool = False


def parse_twiml(text: str) -> Twiml:
    root = ET.fromstring(text)
    if root.tag != "Response":
        raise ValueError(f"not a TwiML Response: <{root.tag}>")
    out = Twiml()
    for el in root:
        if el.tag == "Say":
            out.says.append(el.text or "")
        elif el.tag == "Gather":
            out.gather = dict(el.attrib)
            out.says.extend(s.text or "" for s in el if s.tag == "Say")
        elif el.tag == "Redirect":
            out.redirect = out.redirect or (el.text or "")
        elif el.tag in ("Enqueue", "Dial"):
            out.transfer = el.tag
            out.transfer_action = el.get("action", "")
            out.transfer_target = (el.text or "").strip() or " ".join((c.text or "").strip() for c in el)
            out.recording = out.recording or el.get("record", "").startswith("record-from")
        elif el.tag == "Start":
            out.recording = out.recording or any(c.tag == "Recording" for c in el)
        elif el.tag == "Hangup":
            out.hangup = True
    return out


@dataclass
class Result:
    ok: bool
    end: str  # hang-up | transfer | dead-end | http-error | too-long
    detail: str = ""
    nodes: list[str] = field(default_factory=list)
    prompts: list[str] = field(default_factory=list)
    requests: int = 0

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else {"dead-end": 2, "http-error": 3, "too-long": 4}.get(self.end, 1)


Poster = Callable[[str, dict[str, str], dict[str, str]], tuple[int, str]]


def requests_poster(timeout: float = 15.0) -> Poster:
    """HTTP POST through requests (one keep-alive session)."""
    import requests

    session = requests.Session()

    def post(url: str, data: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        r = session.post(url, data=data, headers=headers, timeout=timeout)
        return r.status_code, r.text

    return post


class Simulator:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        caller: str = "+8613800138000",
        called: str = "+86950618",
        confidence: float = 0.9,
        max_steps: int = 40,
        post: Poster | None = None,
        echo: Callable[[str], None] | None = None,
        leg: Mapping[str, Mapping[str, str]] | None = None,
        hangup_after: int | None = None,
        duration_s: int | None = None,
        call_sid: str = "",
    ) -> None:
        """``leg``: what the transfer's action posts, by verb ("Enqueue", "Dial"); None: the agent answers
        (only if the script goes on). ``hangup_after``: the caller hangs up at the menu after that many
        answers to menus. ``duration_s``: the CallDuration sent at the end (default: as measured)."""
        self.base = base_url.rstrip("/") + "/"
        self.validator = RequestValidator(token)
        self.caller, self.called = caller, called
        self.confidence = confidence
        self.max_steps = max_steps
        self.post = post or requests_poster()
        self.echo = echo or (lambda _line: None)
        self.call_sid = call_sid or "CA" + uuid.uuid4().hex
        self.leg, self.hangup_after, self.duration_s = leg, hangup_after, duration_s
        self.account_sid = "AC" + "0" * 32

    def _send(self, path: str, extra: dict[str, str]) -> tuple[int, str]:
        url = urljoin(self.base, path.lstrip("/"))
        data = {
            "CallSid": self.call_sid,
            "AccountSid": self.account_sid,
            "From": self.caller,
            "To": self.called,
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
            **extra,
        }
        sig = self.validator.compute_signature(url, data)
        return self.post(url, data, {"X-Twilio-Signature": sig})

    def run(self, script: Iterable[Action]) -> Result:
        todo = list(script)
        res = Result(ok=False, end="dead-end")
        started = time.monotonic()
        answered = 0  # menus answered
        status, body = self._send("/ivr/voice", {"CallStatus": "ringing"})
        res.requests += 1
        try:
            for _ in range(self.max_steps):
                if status != 200:
                    res.end, res.detail = "http-error", f"HTTP {status}: {body[:200]}"
                    return res
                tw = parse_twiml(body)
                for s in tw.says:
                    res.prompts.append(s)
                    self.echo(f"  IVR: {s}")
                if tw.hangup:
                    res.ok, res.end, res.detail = True, "hang-up", "the IVR ended the call"
                    return res
                if tw.transfer:
                    note = " (recorded)" if tw.recording else ""
                    self.echo(f"  -> transfer by <{tw.transfer}> to {tw.transfer_target or '?'}{note}")
                    self._node(res, tw.transfer_action)
                    if self.leg is not None and tw.transfer_action:
                        status, body = self._send(tw.transfer_action, dict(self.leg[tw.transfer]))
                        res.requests += 1
                        continue
                    if not todo or not tw.transfer_action:
                        res.ok, res.end, res.detail = True, "transfer", f"{tw.transfer} {tw.transfer_target}"
                        return res
                    self.echo("  (agent conversation ends)")
                    status, body = self._send(tw.transfer_action, dict(TRANSFER_OK[tw.transfer]))
                    res.requests += 1
                    continue
                if tw.gather is not None:
                    action = tw.gather.get("action") or tw.redirect
                    if not action:
                        res.end, res.detail = "dead-end", "a Gather without an action"
                        return res
                    self._node(res, action)
                    if self.hangup_after is not None and answered >= self.hangup_after:
                        res.ok, res.end, res.detail = (
                            True,
                            "caller-hang-up",
                            f"at {res.nodes[-1] if res.nodes else '?'}",
                        )
                        return res
                    answered += 1
                    step = todo.pop(0) if todo else Action("silence")
                    status, body = self._send(action, self._input(tw.gather, step))
                    res.requests += 1
                    continue
                if tw.redirect:
                    self._node(res, tw.redirect)
                    status, body = self._send(tw.redirect, {})
                    res.requests += 1
                    continue
                res.end, res.detail = "dead-end", "the answer neither listens, transfers nor hangs up"
                return res
            res.end, res.detail = "too-long", f"no end after {self.max_steps} steps"
            return res
        finally:
            duration = str(self.duration_s or max(1, int(time.monotonic() - started)))
            self._send("/ivr/status", {"CallStatus": "completed", "CallDuration": duration})

    def _node(self, res: Result, url: str) -> None:
        node = parse_qs(urlparse(url).query).get("n", [""])[0]
        if node and (not res.nodes or res.nodes[-1] != node):
            res.nodes.append(node)

    def _input(self, gather: dict[str, str], step: Action) -> dict[str, str]:
        """What Twilio would post for this caller action under this Gather."""
        if step.kind == "press":
            digits = step.value
            finish = gather.get("finishOnKey", "#")
            if finish and finish in digits:
                digits = digits.split(finish, 1)[0]
            num = gather.get("numDigits", "")
            if num.isdigit():
                digits = digits[: int(num)]
            self.echo(f"caller presses {step.value}")
            return {"Digits": digits} if digits else {}
        if step.kind == "say":
            self.echo(f"caller says {step.value}")
            if "speech" not in gather.get("input", "dtmf"):
                return {}
            return {"SpeechResult": step.value, "Confidence": f"{self.confidence:.2f}"}
        self.echo("caller is silent")
        return {}


def parse_script_line(line: str) -> Action | None:
    """``press 2`` / ``say 我要退款`` / ``silence``; blank lines and # comments are skipped."""
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    kind, _, value = line.partition(" ")
    kind = kind.lower()
    if kind not in ("press", "say", "silence"):
        raise ValueError(f"unknown script step {kind!r} (press D, say TEXT, silence)")
    if kind != "silence" and not value.strip():
        raise ValueError(f"{kind} needs a value")
    return Action(kind, value.strip())


def parse_script(text: str) -> tuple[list[Action], str]:
    """A script file: steps, one per line, and an optional ``expect NODE`` line."""
    steps: list[Action] = []
    expect = ""
    for line in text.splitlines():
        if line.strip().lower().startswith("expect "):
            expect = line.strip().split(None, 1)[1]
            continue
        act = parse_script_line(line)
        if act is not None:
            steps.append(act)
    return steps, expect
