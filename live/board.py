"""Every live call of this process, and who is watching: the board's state and its pushes.

`LiveBoard.open` is the `ivr.stream.hub.LiveSink`: it admits a live call while fewer than
``max_calls`` are being transcribed (more are skipped and counted: the caller never waits on
us), or resumes a call whose stream broke. Listeners (`live.call.LiveCall`) report turns,
partials and the end; the board runs live QA on each turn, keeps the events with the call
(``store`` callback) and pushes them to subscribers (server-sent events: each subscriber is a
queue its response blocks on, no polling).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from live.call import ENDPOINT_MS, LiveCall
from live.monitor import ITEM_LABELS, LiveQA
from qa.dialogue import Role
from speech.redact import redact_text
from speech.stt import Transcriber

log = logging.getLogger(__name__)

KEEP_ENDED = 200  # ended calls kept in memory for the board (all events are in the store)
SUB_QUEUE = 1000  # events a slow subscriber may lag behind before it is dropped

SSE_MAX_S = 300.0  # one server-sent-events response at most this long; the browser reconnects
PING_S = 15.0

Store = Callable[[str, Mapping[str, Any]], object]
Extra = Callable[[dict[str, Any]], list[tuple[str, dict[str, Any]]]]


def sse_frame(name: str, data: Any) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@dataclass
class CallRecord:
    """A live call as the board shows it (stream seconds for times, monotonic for ``opened``)."""

    call_sid: str
    agent: str
    team: str
    topic: str
    qa: LiveQA
    opened: float
    topic_label: str = ""  # the menu's name for the request
    status: str = "live"  # live | interrupted | ended
    streams: int = 0
    turns: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    partials: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    ended_at: float | None = None
    heard_until: float = 0.0  # call seconds its streams have carried (a resumed stream starts here)
    listener: Any = None  # the live.call.LiveCall of its latest stream

    def summary(self, now: float) -> dict[str, Any]:
        return {
            "call_sid": self.call_sid,
            "agent": self.agent,
            "team": self.team,
            "topic": self.topic_label or self.topic,
            "topic_id": self.topic,
            "status": self.status,
            "duration": round((self.ended_at or now) - self.opened, 1),
            "sentiment": [s for _, s in self.qa.sentiment[-20:]],
            "alerts": self.alerts[-5:],
            "turns": len(self.turns),
        }

    def detail(self, now: float) -> dict[str, Any]:
        return {
            **self.summary(now),
            "transcript": self.turns,
            "all_alerts": self.alerts,
            "partials": self.partials,
            "missing": [{"item": m, "label": ITEM_LABELS[m]} for m in self.missing],
        }


class LiveBoard:
    def __init__(
        self,
        engine: Callable[[], Transcriber],
        new_qa: Callable[[Mapping[str, str]], LiveQA],
        *,
        max_calls: int = 4,
        max_viewers: int = 8,
        store: Store | None = None,
        redact: Callable[[str], str] = redact_text,
        topic_labels: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        endpoint_ms: int = ENDPOINT_MS,
    ) -> None:
        self.engine, self.new_qa, self.max_calls, self.store, self.clock = engine, new_qa, max_calls, store, clock
        self.max_viewers = max_viewers
        self.endpoint_ms = endpoint_ms  # quiet after words that ends an utterance the engine keeps open
        self.redact = redact  # phone, ID-card, bank-card numbers never shown, stored or pushed
        self.topic_labels = dict(topic_labels or {})  # menu node -> what the board calls the request
        self.calls: dict[str, CallRecord] = {}
        self.stats: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stats_lock = threading.Lock()
        self._subs: list[tuple[str | None, queue.Queue[dict[str, Any]]]] = []

    # -- ivr.stream.hub.LiveSink ----------------------------------------
    def open(self, call_sid: str, params: dict[str, str]) -> LiveCall | None:
        """A live stream started: a new call, or a broken one resuming; None when the box is full."""
        now = self.clock()
        with self._lock:
            live = sum(1 for c in self.calls.values() if c.status == "live" and c.call_sid != call_sid)
            rec = self.calls.get(call_sid)
            if live >= self.max_calls:
                self._count("skipped")
                log.warning(
                    "live: call %s skipped: %d live calls is the limit (HOTLINE_LIVE_MAX_CALLS)", call_sid, live
                )
                return None
            # a stream of a call we know and that has not ended: the old stream broke (its worker
            # may still be finishing: status "live"), this one resumes the call
            resumed = rec is not None and rec.status in ("interrupted", "live")
            if rec is None or rec.status == "ended":
                if rec is not None:  # a call sid seen before and ended: a new call record replaces it
                    del self.calls[call_sid]
                rec = CallRecord(
                    call_sid,
                    params.get("agent", "")[:32],
                    params.get("team", "")[:32],
                    params.get("topic", "")[:32],
                    self.new_qa(params),
                    now,
                )
                rec.topic_label = self.topic_labels.get(rec.topic, "")
                self.calls[call_sid] = rec
                self._trim()
            rec.status = "live"
            rec.streams += 1
            previous = rec.listener if resumed and rec.listener is not None and not rec.listener.done.is_set() else None
            offset = max(now - rec.opened, rec.heard_until) if resumed else 0.0
            listener = LiveCall(self, rec, self.engine, offset, after=previous)
            rec.listener = listener
            self._count("resumed" if resumed else "opened")
        log.info("live: call %s %s", call_sid, "resumed" if resumed else "opened")
        self._publish(rec, {"type": "status", "status": "live", "resumed": resumed}, keep=not resumed)
        return listener

    def resume_offset(self, rec: CallRecord) -> float:
        """Where a resumed stream's clock starts in the call: after what the broken one carried."""
        with self._lock:
            rec.status = "live"
            return max(self.clock() - rec.opened, rec.heard_until)

    # -- from the listeners (the stream's worker thread) -------------------
    def partial(self, rec: CallRecord, speaker: str, text: str) -> None:
        text = self.redact(text)
        with self._lock:
            rec.partials[speaker] = text
        self._publish(rec, {"type": "partial", "speaker": speaker, "text": text}, keep=False)

    def turn(self, rec: CallRecord, speaker: str, text: str, start: float, end: float, lag: float | None) -> None:
        text = self.redact(text)
        event: dict[str, Any] = {
            "type": "turn",
            "speaker": speaker,
            "start": round(start, 2),
            "end": round(end, 2),
            "text": text,
        }
        role: Role = "customer" if speaker == "customer" else "agent"
        with self._lock:
            rec.partials.pop(speaker, None)
            alerts = rec.qa.add(role, text, start, end)
            if speaker == "customer" and rec.qa.sentiment:
                event["sentiment"] = rec.qa.sentiment[-1][1]
            missing = rec.qa.missing()
            rec.turns.append(event)
            changed = missing != rec.missing
            rec.missing = missing
        if lag is not None:
            event = {**event, "lag": lag}
        self._publish(rec, event)
        for a in alerts:
            self._alert(rec, a.to_dict())
        if changed:
            self._publish(rec, self._missing_event(rec), keep=False)

    def quiet(self, rec: CallRecord, now: float) -> None:
        """Both sides have been quiet up to ``now`` (call seconds): a long silence is alerted now."""
        with self._lock:
            alerts = rec.qa.quiet(now)
        for a in alerts:
            self._alert(rec, a.to_dict())

    def stream_ended(self, rec: CallRecord, reason: str, at: float) -> None:
        """``stop``: the call is over (closing checked, the end stored). Otherwise it is interrupted:
        its slot is free, its state kept for a resumed stream."""
        ended = reason == "stop"
        with self._lock:
            rec.heard_until = max(rec.heard_until, at)
            rec.status = "ended" if ended else "interrupted"
            alerts = rec.qa.finish(at) if ended else []
            if ended:
                rec.ended_at = self.clock()
                rec.missing = rec.qa.missing(ended=True)
        for a in alerts:
            self._alert(rec, a.to_dict())
        self._count("ended" if ended else "interrupted")
        self._publish(
            rec, {"type": "end" if ended else "status", "status": rec.status, "time": round(at, 2)}, keep=ended
        )

    # -- readers -----------------------------------------------------------
    def snapshot(self) -> list[dict[str, Any]]:
        now = self.clock()
        with self._lock:
            return [c.summary(now) for c in sorted(self.calls.values(), key=lambda c: -c.opened)]

    def detail(self, call_sid: str) -> dict[str, Any] | None:
        with self._lock:
            rec = self.calls.get(call_sid)
            return rec.detail(self.clock()) if rec else None

    def subscribe(self, call_sid: str | None = None) -> queue.Queue[dict[str, Any]] | None:
        """A queue of this call's events (None: every call's); None when too many are open."""
        q: queue.Queue[dict[str, Any]] = queue.Queue(SUB_QUEUE)
        with self._lock:
            if len(self._subs) >= self.max_viewers:
                self._count("subscribers-refused")
                return None
            self._subs.append((call_sid, q))
        return q

    def stream(
        self, call_sid: str | None = None, extra: Extra | None = None, max_s: float = SSE_MAX_S
    ) -> Iterator[str] | None:
        """The text of a server-sent-events response: a ``snapshot`` (the call's detail, or every
        call's summary), then each event as it comes (``extra`` adds events after one); blocks on
        its queue between events, pings every ``PING_S``, ends after ``max_s`` (the browser's
        EventSource reconnects). None when too many are open."""
        q = self.subscribe(call_sid)
        if q is None:
            return None
        first = self.detail(call_sid) if call_sid else {"calls": self.snapshot()}
        return self._sse(q, first, extra, max_s)

    def _sse(self, q: queue.Queue[dict[str, Any]], first: Any, extra: Extra | None, max_s: float) -> Iterator[str]:
        end = time.monotonic() + max_s
        try:
            yield "retry: 2000\n" + sse_frame("snapshot", first)
            while (left := end - time.monotonic()) > 0:
                try:
                    event = q.get(timeout=min(PING_S, left))
                except queue.Empty:
                    yield ": ping\n\n"
                    continue
                yield sse_frame(str(event.get("type", "message")), event)
                for name, data in extra(event) if extra else ():
                    yield sse_frame(name, data)
        finally:
            self.unsubscribe(q)

    def unsubscribe(self, q: queue.Queue[dict[str, Any]]) -> None:
        with self._lock:
            self._subs = [(c, s) for c, s in self._subs if s is not q]

    # -- inside ------------------------------------------------------------
    def _alert(self, rec: CallRecord, alert: dict[str, Any]) -> None:
        with self._lock:
            rec.alerts.append(alert)
        self._count(f"alert:{alert['kind']}")
        self._publish(rec, alert)

    def _missing_event(self, rec: CallRecord) -> dict[str, Any]:
        return {"type": "missing", "items": [{"item": m, "label": ITEM_LABELS[m]} for m in rec.missing]}

    def _publish(self, rec: CallRecord, event: dict[str, Any], keep: bool = True) -> None:
        """To the store (turns, alerts, start, end) and to every subscriber of this call or of all."""
        if keep and self.store is not None:
            try:
                self.store(rec.call_sid, event)
            except Exception:  # the board goes on; the post-call score does not depend on this
                self._count("store-failed")
                log.exception("live: event of call %s not stored", rec.call_sid)
        msg = {**event, "call_sid": rec.call_sid}
        if event["type"] in ("turn", "status", "end"):
            msg["summary"] = rec.summary(self.clock())
        with self._lock:
            subs = list(self._subs)
        dropped = []
        for call_sid, q in subs:
            if call_sid is None or call_sid == rec.call_sid:
                try:
                    q.put_nowait(msg)
                except queue.Full:  # a subscriber that stopped reading: let it go
                    dropped.append(q)
        for q in dropped:
            self.unsubscribe(q)

    def _count(self, key: str) -> None:
        with self._stats_lock:
            self.stats[key] = self.stats.get(key, 0) + 1

    def _trim(self) -> None:
        ended = sorted((c for c in self.calls.values() if c.status == "ended"), key=lambda c: c.opened)
        for c in ended[: max(0, len(ended) - KEEP_ENDED)]:
            del self.calls[c.call_sid]
