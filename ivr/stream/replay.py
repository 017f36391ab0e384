"""Replay recorded Twilio Media Streams message sequences against a WebSocket server.

Plays the part of Twilio: sends ``connected``/``start``/``media``/``dtmf``/``stop`` at the
stream's pace (or faster), signs ``start`` with the server's token, plays back what the
server sends on a bidirectional stream (media queued for playing, ``mark`` echoed once the
audio before it has played, everything pending dropped on ``clear``) and records it all.
Used by tests/ivr/stream and benchmarks/stream_latency.py.
"""

from __future__ import annotations

import base64
import copy
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ivr.stream.signing import stream_parameters


@dataclass
class Fixture:
    meta: dict[str, Any]
    messages: list[dict[str, Any]]


def load_fixture(path: str | Path) -> Fixture:
    meta: dict[str, Any] = {}
    msgs: list[dict[str, Any]] = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        obj = json.loads(line)
        if "fixture" in obj:
            meta = obj["fixture"]
        else:
            msgs.append(obj)
    return Fixture(meta, msgs)


def prepare(
    messages: Sequence[dict[str, Any]],
    token: str,
    *,
    call_sid: str | None = None,
    sign: bool = True,
    params: Mapping[str, str] | None = None,
    now: float | None = None,
) -> list[dict[str, Any]]:
    """A copy with this call's ids and the signed parameters (fresh nonce, expiry, ``sig``) a server
    holding ``token`` accepts once, as signed at ``now``; ``params``: the ``<Parameter>``s of a
    TwiML answer instead, as Twilio echoes them."""
    out = copy.deepcopy(list(messages))
    for m in out:
        if m.get("event") != "start":
            continue
        start = m["start"]
        if call_sid:
            start["callSid"] = call_sid
        custom = start.setdefault("customParameters", {})
        if params is not None:
            start["customParameters"] = dict(params)
        elif sign:
            custom.update(stream_parameters(token, start["callSid"], str(custom.get("mode", "1")), now=now))
    if call_sid:
        stream_sid = "MZ" + call_sid[2:]
        for m in out:
            if "streamSid" in m:
                m["streamSid"] = stream_sid
            if m.get("event") == "start":
                m["start"]["streamSid"] = stream_sid
            if m.get("event") == "stop":
                m["stop"]["callSid"] = call_sid
    return out


@dataclass
class ReplayResult:
    received: list[dict[str, Any]] = field(default_factory=list)
    echoed_marks: list[str] = field(default_factory=list)
    sent: int = 0
    closed_by_server: bool = False
    keyword_sent_at: float | None = None  # monotonic time the frame ending the keyword was sent
    finished_at: float = 0.0

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.received if m.get("event") == kind]

    @property
    def played_ms(self) -> int:
        return sum(len(base64.b64decode(m["media"]["payload"])) // 8 for m in self.events("media"))


def replay(
    url: str,
    messages: Sequence[dict[str, Any]],
    *,
    speed: float = 1.0,
    keyword_end_ms: int | None = None,
    stop_after: int | None = None,
    settle_s: float = 0.3,
    raw_lines: Sequence[str] = (),
    before_stop: Callable[[], object] | None = None,
    headers: Mapping[str, str] | None = None,
) -> ReplayResult:
    """Send ``messages`` to ``url`` pacing media by their timestamps / ``speed`` (0 = no pacing).

    ``stop_after``: hang up abruptly (close the socket, no ``stop``) after that many messages.
    ``raw_lines``: extra text frames sent first as-is (malformed input tests).
    ``before_stop``: called before ``stop`` is sent (a caller who waits for the menu to react).
    ``headers``: extra handshake headers (``X-Twilio-Signature``).
    """
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    res = ReplayResult()
    player = _Player()
    extra = dict(headers or {})
    with connect(
        url, compression=None, open_timeout=10, close_timeout=2, max_size=2**22, additional_headers=extra
    ) as ws:
        stream_sid = next((m.get("streamSid", "") for m in messages if m.get("event") == "start"), "")

        def receive() -> None:
            try:
                for raw in ws:
                    msg = json.loads(raw)
                    res.received.append(msg)
                    player.on_message(msg)
            except ConnectionClosed:
                pass
            res.closed_by_server = True

        reader = threading.Thread(target=receive, daemon=True)
        reader.start()
        t0 = time.monotonic()
        try:
            for line in raw_lines:
                ws.send(line)
            for i, m in enumerate(messages):
                if stop_after is not None and i >= stop_after:
                    ws.close()
                    break
                if m.get("event") == "media":
                    ts = int(m["media"].get("timestamp", 0))
                    if speed > 0:
                        delay = t0 + ts / 1000.0 / speed - time.monotonic()
                        if delay > 0:
                            time.sleep(delay)
                    for name in player.due(ts):
                        ws.send(json.dumps({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}}))
                        res.echoed_marks.append(name)
                if m.get("event") == "stop" and before_stop is not None:
                    before_stop()
                ws.send(json.dumps(m))
                res.sent += 1
                if (
                    keyword_end_ms is not None
                    and res.keyword_sent_at is None
                    and m.get("event") == "media"
                    and int(m["media"].get("timestamp", 0)) + 20 >= keyword_end_ms
                ):
                    res.keyword_sent_at = time.monotonic()
        except ConnectionClosed:
            res.closed_by_server = True
        if settle_s:
            reader.join(settle_s)
    reader.join(2)
    res.finished_at = time.monotonic()
    return res


class _Player:
    """Twilio's playback of a bidirectional stream, on the stream clock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.queued_ms = 0  # audio waiting to play, from the last clock tick
        self.marks: list[tuple[int, str]] = []  # (ms of queued audio before it, name)
        self.clock = 0
        self.cleared: list[str] = []

    def on_message(self, msg: dict[str, Any]) -> None:
        with self.lock:
            ev = msg.get("event")
            if ev == "media":
                self.queued_ms += len(base64.b64decode(msg["media"]["payload"])) // 8
            elif ev == "mark":
                self.marks.append((self.queued_ms, msg["mark"]["name"]))
            elif ev == "clear":
                self.queued_ms = 0
                self.marks = [(0, name) for _, name in self.marks]  # Twilio returns them at once

    def due(self, ts: int) -> list[str]:
        with self.lock:
            played = max(0, ts - self.clock)
            self.clock = ts
            self.queued_ms = max(0, self.queued_ms - played)
            self.marks = [(max(0, at - played), name) for at, name in self.marks]
            out = [name for at, name in self.marks if at <= 0]
            self.marks = [(at, name) for at, name in self.marks if at > 0]
            return out


class RecordingRedirector:
    """A fake of Twilio's REST redirect: records (call_sid, url, monotonic time)."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.calls: list[tuple[str, str, float]] = []
        self.delay_s = delay_s
        self._lock = threading.Lock()

    def redirect(self, call_sid: str, url: str) -> None:
        with self._lock:
            self.calls.append((call_sid, url, time.monotonic()))
        if self.delay_s:
            time.sleep(self.delay_s)

    def for_call(self, call_sid: str) -> list[tuple[str, str, float]]:
        with self._lock:
            return [c for c in self.calls if c[0] == call_sid]


def both_tracks_messages(
    caller: bytes, agent: bytes, call_sid: str, params: Mapping[str, str], *, frame_ms: int = 20
) -> list[dict[str, Any]]:
    """A bridged call as Twilio streams it with ``track="both_tracks"``: ``connected``, ``start``
    (both tracks, these custom parameters), per 20 ms an inbound (caller) and an outbound (agent)
    ``media`` message with the same timestamp, then ``stop``. Audio: 8 kHz μ-law bytes."""
    stream_sid = "MZ" + call_sid[2:]
    out: list[dict[str, Any]] = [
        {"event": "connected", "protocol": "Call", "version": "1.0.0"},
        {
            "event": "start",
            "sequenceNumber": "1",
            "start": {
                "accountSid": "AC" + "0" * 32,
                "streamSid": stream_sid,
                "callSid": call_sid,
                "tracks": ["inbound", "outbound"],
                "customParameters": dict(params),
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
            "streamSid": stream_sid,
        },
    ]
    step = 8 * frame_ms
    seq, chunk = 2, 1
    for i in range(0, max(len(caller), len(agent)), step):
        for track, audio in (("inbound", caller), ("outbound", agent)):
            piece = audio[i : i + step]
            if not piece:
                continue
            out.append(
                {
                    "event": "media",
                    "sequenceNumber": str(seq),
                    "media": {
                        "track": track,
                        "chunk": str(chunk),
                        "timestamp": str(i // 8),
                        "payload": base64.b64encode(piece).decode(),
                    },
                    "streamSid": stream_sid,
                }
            )
            seq += 1
        chunk += 1
    out.append({"event": "stop", "sequenceNumber": str(seq), "streamSid": stream_sid, "stop": {"callSid": call_sid}})
    return out
