"""Twilio Media Streams as a pure session: ``handle(message) -> actions``. No sockets, no threads.

This is the protocol side of the stream (pipecat would call it the serializer): Twilio's JSON
messages in, our decisions and outgoing messages out. `ivr.stream.transport` carries it over a
socket, `ivr.stream.hub` runs the recognizer and the effects.

Twilio opens a WebSocket per call and sends ``connected``, ``start``, ``media`` (base64 μ-law,
8 kHz, 20 ms), ``dtmf`` (bidirectional streams only), ``mark`` and ``stop``. The session checks
the stream is ours (signed custom parameters: call, mode, a one-time nonce, an expiry), hands
caller audio to a recognizer through `Recognize` actions, and turns what was heard into the
same `ivr.flow` steps the webhooks take. The layers below carry the actions out: they own
sockets, threads, the recognizer, Twilio's REST client and which nonces and calls are in use.
Time is the stream's own clock (media timestamps), so a replayed stream gives the same actions
every time.

Three modes, chosen by the ``mode`` custom parameter (``"live"`` is described last):
- ``"1"``: alongside TwiML (``<Start><Stream>`` + ``<Gather input="dtmf">``). The webhooks own
  the call's state; the session reads it (`set_state`) to pick the grammar, and a recognized
  request is handed to them by redirecting the live call (`Redirect`), where the flow engine
  routes it, asks for confirmation when unsure, or ignores it.
- ``"2"``: the whole menu over a bidirectional ``<Connect><Stream>``: prompts are played as
  audio (`Play`), a caller's speech or key clears them (barge-in, ``clear``), DTMF comes from the
  stream and this session runs the flow; a transfer or the goodbye redirects the call.
- ``"live"``: the call bridged to an agent, ``<Start><Stream track="both_tracks">``: no menu;
  each track's audio goes on as `Hear` (inbound = the caller, outbound = the agent) to the
  live-call listener that `Listen` opens (the ``live`` package, wired by the composition root).
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from ivr.flow import Flow
from ivr.flow_types import Event, State, Step
from ivr.stream.actions import (
    Action,
    Close,
    Hear,
    Ignored,
    Listen,
    Play,
    Recognize,
    Redirect,
    Send,
    SetGrammar,
    StepTaken,
)
from ivr.stream.grammar import grammar_for
from ivr.stream.signing import check_signature
from speech.stt import StreamResult

SID_RE = re.compile(r"^[A-Za-z]{2}[A-Za-z0-9]{1,62}$")
FRAME_MS = 20  # Twilio sends 20 ms of 8 kHz μ-law per media message
MEDIA_FORMAT = ("audio/x-mulaw", 8000, 1)
SPEECH_URL = "/ivr/stream/speech"  # Mode 1: a recognized request enters the webhooks' flow here
RESUME_URL = "/ivr/stream/resume"  # Mode 2: the call leaves the stream (transfer, goodbye)
LIVE = "live"  # a bridged agent call, both tracks, for live transcripts and QA (no menu)
LIVE_TRACKS = ("inbound", "outbound")


# ------------------------------------------------------------------ the session
@dataclass(frozen=True)
class SessionConfig:
    flow: Flow
    token: str  # Twilio auth token: verifies the ``sig`` custom parameter
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))  # opening hours only
    stable_ms: int = 240  # a routable partial unchanged this long (stream audio) decides at once
    digit_timeout_ms: int = 3000  # Mode 2 collect: digits without '#' are taken after this pause
    max_malformed: int = 50  # more malformed messages than this closes the stream
    redirect_wait_ms: int = 4000  # Mode 1: after a redirect, wait this long for the call to move
    modes: tuple[str, ...] = ("1", "2")  # the configured mode only, in a server; () = streams off
    clock: Callable[[], float] = time.time  # unix seconds: the signature's expiry


Admit = Callable[[str, str, int], str]
"""``admit(call_sid, nonce, expires)``: the socket layer's word on a signed stream: "" to accept,
else the close reason ("replay": nonce seen before; "busy": another stream of the call is live)."""


class MediaStreamSession:
    """One Twilio media stream. Not thread-safe: the socket layer serialises calls to it."""

    def __init__(self, config: SessionConfig, admit: Admit | None = None) -> None:
        self.cfg = config
        self._admit = admit
        self.flow = config.flow
        self.menu = config.flow.menu
        self.started = False
        self.closed = False
        self.mode = ""
        self.call_sid = ""
        self.stream_sid = ""
        self.params: dict[str, str] = {}
        self.state: State | None = None
        self.clock_ms = 0  # stream time: the latest media timestamp
        self.heard_ms = 0  # stream time the recognizer has processed up to
        self.frames = 0
        self.malformed = 0
        self.ignored: dict[str, int] = {}
        self.decisions = 0  # recognized requests acted on
        self._partial = ""
        self._partial_since = 0
        self._decided = ""  # partial already acted on in this utterance
        self._tried = ""  # stable partial the flow could not use
        self._waiting_seq: int | None = None  # Mode 1: redirect sent from this flow step
        self._waiting_at = 0  # stream time of that redirect
        self._grammar: tuple[str, ...] | None = None
        # Mode 2
        self._marks = 0
        self.playing = ""  # mark of the prompt being played, "" when silent
        self._listen_since = 0
        self._digits = ""
        self._digits_at = 0
        self._pending_end = ""  # mark after which the call is redirected (goodbye)
        self._timeout_ms = 5000  # no-input timeout of the current prompt

    @property
    def slot(self) -> str:
        """What the hub holds while this stream is live: one per call and kind of stream."""
        return slot_of(self.call_sid, self.mode)

    # -- entry points ---------------------------------------------------
    def handle(self, message: Any) -> list[Action]:
        """One message from Twilio (already JSON-decoded)."""
        if self.closed:
            return []
        if not isinstance(message, dict) or not isinstance(message.get("event"), str):
            return self._malformed("not an event object")
        event = message["event"]
        if event == "connected":
            return []
        if event == "start":
            return self._start(message)
        if not self.started:
            self.closed = True
            return [Close("no-start")]
        sid = message.get("streamSid")
        if sid is not None and sid != self.stream_sid:
            return self._ignore("other stream")
        if event == "media":
            return self._media(message)
        if event == "dtmf":
            return self._dtmf(message)
        if event == "mark":
            return self._mark(message)
        if event == "stop":
            self.closed = True
            return [Close("stop")]
        return self._ignore(f"event {event[:16]}")

    def recognized(self, results: Sequence[StreamResult], at_ms: int) -> list[Action]:
        """What the recognizer made of the audio up to stream time ``at_ms`` (called after each chunk)."""
        if self.closed or not self.started:
            return []
        self.heard_ms = max(self.heard_ms, at_ms)
        out: list[Action] = []
        for r in results:
            out.extend(self._heard(r))
        p = self._partial
        if p and p not in (self._decided, self._tried) and at_ms - self._partial_since >= self.cfg.stable_ms:
            self._tried = p
            out.extend(self._decide(p, None, final=False))
        return out

    def set_state(self, state: State | None) -> list[Action]:
        """Mode 1: the call's state as the webhooks stored it (polled by the socket layer)."""
        if self.mode != "1" or state is None:
            return []
        if self.state is not None and state.seq == self.state.seq and state.node == self.state.node:
            return []
        self.state = state
        if self._waiting_seq is not None and state.seq != self._waiting_seq:
            self._waiting_seq = None
        return self._grammar_actions()

    # -- protocol -------------------------------------------------------
    def _start(self, message: dict[str, Any]) -> list[Action]:
        if self.started:
            return self._ignore("second start")
        start = message.get("start")
        if not isinstance(start, dict):
            self.closed = True
            return [Close("malformed")]
        call_sid = str(start.get("callSid", ""))
        stream_sid = str(start.get("streamSid") or message.get("streamSid") or "")
        params = start.get("customParameters") or {}
        if not SID_RE.match(call_sid) or not SID_RE.match(stream_sid) or not isinstance(params, dict):
            self.closed = True
            return [Close("malformed")]
        self.call_sid = call_sid  # for the log, even when refused; ``started`` says it was accepted
        mode = str(params.get("mode", "1"))
        why = "auth"
        if mode in ("1", "2", LIVE):
            why = check_signature(self.cfg.token, call_sid, mode, params, self.cfg.clock())
        if not why and mode not in self.cfg.modes:
            why = "mode"  # ours, but not the mode this server runs
        if why:
            self.closed = True
            return [Close(why)]
        if _media_format(start.get("mediaFormat")) != MEDIA_FORMAT:
            self.closed = True
            return [Close("format")]
        tracks = start.get("tracks") or ["inbound"]
        needed = LIVE_TRACKS if mode == LIVE else ("inbound",)
        if not isinstance(tracks, list) or any(t not in tracks for t in needed):
            self.closed = True
            return [Close("track")]
        slot = slot_of(call_sid, mode)
        why = self._admit(slot, str(params["nonce"]), int(params["exp"])) if self._admit else ""
        if why:
            self.closed = True
            return [Close(why)]
        self.started = True
        self.mode, self.stream_sid = mode, stream_sid
        self.params = {str(k): str(v)[:64] for k, v in params.items() if k not in ("sig", "nonce", "exp")}
        if mode == LIVE:
            return [Listen(call_sid, dict(self.params))]
        if mode == "2":
            step = self.flow.step(None, Event("start"), now=self.cfg.now())
            return self._apply(step)
        return []

    def _media(self, message: dict[str, Any]) -> list[Action]:
        media = message.get("media")
        if not isinstance(media, dict):
            return self._malformed("media without body")
        track = media.get("track", "inbound")
        if track != "inbound" and not (self.mode == LIVE and track in LIVE_TRACKS):
            return self._ignore("wrong track")
        try:
            audio = base64.b64decode(str(media.get("payload", "")), validate=True)
            ts = int(media.get("timestamp", self.clock_ms + FRAME_MS))
        except (binascii.Error, ValueError):
            return self._malformed("bad payload")
        self.frames += 1
        self.clock_ms = max(self.clock_ms, ts)
        if self.mode == LIVE:
            return [Hear(str(track), audio, ts)] if audio and ts >= 0 else []
        out: list[Action] = [Recognize(audio)] if audio else []
        if self.mode == "2":
            out.extend(self._timers())
        return out

    def _dtmf(self, message: dict[str, Any]) -> list[Action]:
        body = message.get("dtmf")
        digit = str(body.get("digit", "")) if isinstance(body, dict) else ""
        if len(digit) != 1 or digit not in "0123456789*#":
            return self._malformed("bad dtmf")
        if self.mode != "2":
            return self._ignore("dtmf in mode 1")  # the <Gather input="dtmf"> gets the keys
        out = self._barge_in()
        if self.state is None or self.state.phase == "ended":
            return out
        node = self.menu.nodes[self.state.node]
        if node.kind == "collect" and self.state.phase != "readback":
            if digit == "#" or (digit == "*" and not self._digits):
                keys, self._digits = self._digits + digit, ""
                return out + self._apply(self._step(Event("digits", digits=keys)))
            self._digits += digit
            self._digits_at = self.clock_ms
            if len(self._digits) >= node.max_digits:
                keys, self._digits = self._digits, ""
                return out + self._apply(self._step(Event("digits", digits=keys)))
            return out
        return out + self._apply(self._step(Event("digits", digits=digit)))

    def _mark(self, message: dict[str, Any]) -> list[Action]:
        body = message.get("mark")
        name = str(body.get("name", "")) if isinstance(body, dict) else ""
        if not name:
            return self._malformed("mark without name")
        if name == self.playing:
            self.playing = ""
            self._listen_since = self.clock_ms
        if name == self._pending_end:
            self._pending_end = ""
            return [Redirect(self.call_sid, _url(RESUME_URL, s=self.state.seq if self.state else 0))]
        return []

    # -- recognition ----------------------------------------------------
    def _heard(self, r: StreamResult) -> list[Action]:
        text = r.text.strip()
        out: list[Action] = []
        if text and self.mode == "2":
            out.extend(self._barge_in())
        if not r.is_final:
            if text != self._partial:
                self._partial, self._partial_since = text, self.heard_ms
            return out
        decided = self._decided
        self._partial, self._decided, self._tried = "", "", ""
        if not text or (decided and decided == text):
            return out  # nothing, or the partial we already acted on
        return out + self._decide(text, r.confidence, final=True)

    def _decide(self, text: str, confidence: float | None, *, final: bool) -> list[Action]:
        """A request heard: act if the flow would route it (or ask to confirm it)."""
        st = self.state
        if self._waiting_seq is not None and self.heard_ms - self._waiting_at >= self.cfg.redirect_wait_ms:
            self._waiting_seq = None  # the redirect got lost (REST error, stale step): listen again
        if st is None or st.phase in ("ended", "transferred") or self._waiting_seq is not None:
            return []
        step = self._step(Event("speech", text=text, confidence=confidence))
        acts = (
            step.state.node != st.node
            or step.state.phase != st.phase
            or bool([n for n in step.notes if n.kind == "repeat"])
        )
        if not acts and not final:
            return []  # a partial the flow cannot use: wait for more
        self._decided = "" if final else text
        if self.mode == "1":
            if not acts:
                return []  # no match: the caller keeps the keypad menu, no interruption
            self.decisions += 1
            self._waiting_seq, self._waiting_at = st.seq, self.heard_ms
            conf = "" if confidence is None else f"{confidence:.2f}"
            url = _url(SPEECH_URL, s=st.seq, n=st.node, said=text[:100], c=conf or None)
            return [Redirect(self.call_sid, url)]
        self.decisions += 1
        return self._apply(step)

    # -- Mode 2 ---------------------------------------------------------
    def _step(self, event: Event) -> Step:
        return self.flow.step(self.state, event, now=self.cfg.now())

    def _apply(self, step: Step) -> list[Action]:
        """Mode 2: adopt a flow step: store it, then play its prompt or leave the stream."""
        self.state = step.state
        self._digits = ""
        self._timeout_ms = (step.gather.timeout if step.gather else 5) * 1000
        out: list[Action] = [StepTaken(self.call_sid, step), *self._barge_in()]
        if step.action == "transfer":
            out.append(Redirect(self.call_sid, _url(RESUME_URL, s=step.state.seq)))
            return out
        self._marks += 1
        mark = f"p{self._marks}"
        if step.action == "hangup":
            self._pending_end = mark
            out.append(Play(step.say, mark))
            self.playing = mark
            return out
        out.append(Play(step.say, mark))
        self.playing = mark
        out.extend(self._grammar_actions())
        return out

    def _barge_in(self) -> list[Action]:
        if self.mode != "2" or not self.playing or self._pending_end:
            return []
        self.playing = ""
        self._listen_since = self.clock_ms
        return [Send({"event": "clear", "streamSid": self.stream_sid})]

    def _timers(self) -> list[Action]:
        """No input after the prompt, or digits typed without '#': both from the stream clock."""
        st = self.state
        if st is None or st.phase in ("ended", "transferred") or self.playing or self._pending_end:
            return []
        if self._digits and self.clock_ms - self._digits_at >= self.cfg.digit_timeout_ms:
            keys, self._digits = self._digits, ""
            return self._apply(self._step(Event("digits", digits=keys)))
        if not self._digits and not self._partial and self.clock_ms - self._listen_since >= self._timeout_ms:
            return self._apply(self._step(Event("no_input")))
        return []

    def _grammar_actions(self) -> list[Action]:
        phrases = grammar_for(self.menu, self.state)
        if phrases == self._grammar:
            return []
        self._grammar = phrases
        self._partial, self._decided, self._tried = "", "", ""
        return [SetGrammar(phrases)]

    # -- bad input --------------------------------------------------------
    def _ignore(self, reason: str) -> list[Action]:
        self.ignored[reason] = self.ignored.get(reason, 0) + 1
        return [Ignored(reason)]

    def _malformed(self, reason: str) -> list[Action]:
        self.malformed += 1
        if self.malformed > self.cfg.max_malformed:
            self.closed = True
            return [Close("malformed")]
        return self._ignore(reason)


def slot_of(call_sid: str, mode: str) -> str:
    """A call may have one menu stream and one live stream at once (the live one after the transfer)."""
    return f"{call_sid}/live" if mode == LIVE else call_sid


def _media_format(fmt: Any) -> tuple[Any, int, int] | None:
    """(encoding, rate, channels) of ``start.mediaFormat``; None when it is not one."""
    if not isinstance(fmt, dict):
        return None
    try:
        return fmt.get("encoding"), int(fmt.get("sampleRate") or 0), int(fmt.get("channels") or 0)
    except (TypeError, ValueError):
        return None


# ------------------------------------------------------------------ outgoing messages
def media_messages(stream_sid: str, ulaw: bytes, chunk_bytes: int = 8000) -> list[dict[str, Any]]:
    """Audio to play on a bidirectional stream, as ``media`` messages of ``chunk_bytes`` (1 s)."""
    return [
        {
            "event": "media",
            "streamSid": stream_sid,
            "media": {"payload": base64.b64encode(ulaw[i : i + chunk_bytes]).decode()},
        }
        for i in range(0, len(ulaw), chunk_bytes)
    ]


def mark_message(stream_sid: str, name: str) -> dict[str, Any]:
    return {"event": "mark", "streamSid": stream_sid, "mark": {"name": name}}


def _url(path: str, **params: object) -> str:
    return f"{path}?{urlencode({k: v for k, v in params.items() if v is not None})}"
