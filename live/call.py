"""One live call's listener: both tracks' audio in, speaker turns and live QA alerts out.

Runs on the stream's worker thread (``ivr.stream.hub``): the socket thread never waits for it.
Each track has its own streaming recognizer on the process's one model (caller = inbound,
agent = outbound), fed in whatever chunks arrived while it was busy, on the stream's clock:
a track that skipped time is padded with silence so word times stay stream times. Finals
become turns; turns go through `live.monitor.LiveQA`; everything is published on the board.
"""

from __future__ import annotations

import collections
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from speech.stream import StreamingRecognizer
from speech.stt import StreamResult, Transcriber

if TYPE_CHECKING:
    from live.board import CallRecord, LiveBoard

log = logging.getLogger(__name__)

RATE = 8000
SILENCE = b"\xff"  # μ-law silence
MAX_PAD_MS = 10_000  # a track that jumps further ahead is not padded beyond this (hostile timestamps)
SPEAKERS = {"inbound": "customer", "outbound": "agent"}
_CJK_SPACE = re.compile(r"(?<=[\u3400-\u9fff])\s+(?=[\u3400-\u9fff])")


def tidy(text: str) -> str:
    """A recognizer's text for reading: no spaces between Chinese characters."""
    return _CJK_SPACE.sub("", text.strip())


@dataclass
class Track:
    speaker: str
    rec: StreamingRecognizer | None = None
    buf: bytearray = field(default_factory=bytearray)
    fed_ms: int = 0  # stream time the recognizer has been given audio up to (incl. buf)
    arrivals: collections.deque[tuple[int, float]] = field(default_factory=lambda: collections.deque(maxlen=3000))
    partial: str = ""


class LiveCall:
    """The `ivr.stream.hub.LiveListener` of one stream of a live call (a resumed call gets a new one
    with ``offset``: the stream clock restarts at 0, the call's clock does not)."""

    def __init__(
        self, board: LiveBoard, record: CallRecord, engine: Callable[[], Transcriber], offset: float = 0.0
    ) -> None:
        self.board, self.record, self.offset = board, record, offset
        self._engine = engine
        self.tracks = {name: Track(speaker) for name, speaker in SPEAKERS.items()}
        self.ended = False

    # -- LiveListener ---------------------------------------------------
    def hear(self, track: str, audio: bytes, at_ms: int) -> None:
        tr = self.tracks.get(track)
        if tr is None or self.ended:
            return
        gap = at_ms - tr.fed_ms
        if gap > 20:
            tr.buf += SILENCE * (8 * min(gap, MAX_PAD_MS))
            tr.fed_ms += min(gap, MAX_PAD_MS)
        tr.buf += audio
        tr.fed_ms += len(audio) // 8
        tr.arrivals.append((tr.fed_ms, time.monotonic()))

    def flush(self) -> None:
        for tr in self.tracks.values():
            if tr.buf:
                audio, tr.buf = bytes(tr.buf), bytearray()
                if tr.rec is None:
                    tr.rec = StreamingRecognizer(self._engine(), RATE)
                self._results(tr, tr.rec.feed_mulaw(audio))

    def end(self, reason: str) -> None:
        """The stream is over: "stop" ends the call; anything else leaves it open for a resumed stream."""
        if self.ended:
            return
        self.ended = True
        try:
            self.flush()
            for tr in self.tracks.values():
                if tr.rec is not None:
                    self._results(tr, tr.rec.close())
                    tr.rec = None
        finally:
            self.board.stream_ended(self.record, reason, self.offset + max(t.fed_ms for t in self.tracks.values()) / 1000)

    # -- results ----------------------------------------------------------
    def _results(self, tr: Track, results: list[StreamResult]) -> None:
        for r in results:
            text = tidy(r.text)
            if not r.is_final:
                if text != tr.partial:
                    tr.partial = text
                    self.board.partial(self.record, tr.speaker, text)
                continue
            tr.partial = ""
            if not text:
                continue
            fed_s = tr.fed_ms / 1000
            end = r.end if r.end is not None else fed_s
            start = r.start if r.start is not None else max(0.0, end - 0.3 * len(text))
            self.board.turn(self.record, tr.speaker, text, self.offset + start, self.offset + end, self._lag(tr, end))

    @staticmethod
    def _lag(tr: Track, end_s: float) -> float | None:
        """Seconds from the arrival of the utterance's last audio to now (the server's share of latency)."""
        end_ms = int(end_s * 1000)
        arrived = None
        while tr.arrivals and tr.arrivals[0][0] < end_ms:
            tr.arrivals.popleft()
        if tr.arrivals:
            arrived = tr.arrivals[0][1]
        return None if arrived is None else round(time.monotonic() - arrived, 3)
