"""One live call's listener: both tracks' audio in, speaker turns and live QA alerts out.

Runs on the stream's worker thread (``ivr.stream.hub``): the socket thread never waits for it.
Each track has its own streaming recognizer on the process's one model (caller = inbound,
agent = outbound) for the whole stream, fed in whatever chunks arrived while it was busy. Quiet
between utterances is not decoded (half of each track is the other side talking): the recognizer
hears speech with 200 ms before it, and its clock is mapped back to the stream's (`Track.marks`),
so word times stay stream times. Finals become turns; turns go through `live.monitor.LiveQA`;
everything is published on the board.
"""

from __future__ import annotations

import bisect
import collections
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from speech.audio import ulaw_to_pcm
from speech.stream import StreamingRecognizer
from speech.stt import StreamResult, Transcriber

if TYPE_CHECKING:
    from live.board import CallRecord, LiveBoard

log = logging.getLogger(__name__)

RATE = 8000
SILENCE = b"\xff"  # μ-law silence
ENDPOINT_MS = 700  # default quiet after words that ends the utterance even if the engine waits for more
IDLE_MS = 300  # quiet this long with nothing pending: decoding stops until the next sound
PREROLL_BYTES = 8 * 200  # quiet audio kept before speech starts, fed ahead of it (the onset's context)
MAX_MARKS = 64  # resume marks kept per track (a final's words lie after the last few)
QUIET_RMS = 250.0  # 16-bit RMS under which 100 ms is quiet (about -42 dBFS; phone line noise is lower)
FEED_BYTES = 8 * 100  # at most 100 ms per recognizer call: an utterance end inside a long chunk would be lost
RESUME_WAIT_S = 30.0  # longest a resumed stream waits for the broken one to finish
MAX_PAD_MS = 10_000  # a track that jumps further ahead is not padded beyond this (hostile timestamps)
SPEAKERS = {"inbound": "customer", "outbound": "agent"}
_CJK_SPACE = re.compile(r"(?<=[\u3400-\u9fff])\s+(?=[\u3400-\u9fff])")


def quiet(ulaw: bytes) -> bool:
    """100 ms of μ-law with no speech in it (energy under ``QUIET_RMS``)."""
    x = np.frombuffer(ulaw_to_pcm(ulaw), dtype=np.int16).astype(np.float32)
    return not len(x) or float(np.sqrt(np.mean(x * x))) < QUIET_RMS


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
    heard: int = 0  # bytes of the track gone through (fed or skipped): stream time = heard / 8000
    quiet_ms: int = 0  # silence since the last sound (an open utterance is ended after the endpoint)
    listening: bool = False  # the recognizer is being fed (False: quiet is skipped)
    pending: bool = False  # sound fed since the last final result
    preroll: bytes = b""  # the last quiet audio skipped, fed ahead of the next sound
    marks: list[tuple[float, float]] = field(default_factory=list)  # (recognizer s, stream s) per resume

    def stream_time(self, t: float) -> float:
        """A time on the recognizer's clock (audio fed) -> stream seconds."""
        if not self.marks:
            return t
        i = max(0, bisect.bisect_right(self.marks, (t + 1e-3, float("inf"))) - 1)
        rec_s, stream_s = self.marks[i]
        return stream_s + (t - rec_s)


class LiveCall:
    """The `ivr.stream.hub.LiveListener` of one stream of a live call (a resumed call gets a new one
    with ``offset``: the stream clock restarts at 0, the call's clock does not)."""

    def __init__(
        self,
        board: LiveBoard,
        record: CallRecord,
        engine: Callable[[], Transcriber],
        offset: float = 0.0,
        after: LiveCall | None = None,
    ) -> None:
        self.board, self.record, self.offset = board, record, offset
        self._engine = engine
        self._after = after  # the call's previous stream, still finishing: its end sets our offset
        self.tracks = {name: Track(speaker) for name, speaker in SPEAKERS.items()}
        self.ended = False
        self.done = threading.Event()

    def _wait_previous(self) -> None:
        """A stream that resumed before the broken one's worker finished starts where that one ended
        (this stream's audio waits in its queue meanwhile: late, never lost)."""
        if self._after is not None:
            self._after.done.wait(RESUME_WAIT_S)
            self._after = None
            self.offset = self.board.resume_offset(self.record)

    # -- LiveListener ---------------------------------------------------
    def hear(self, track: str, audio: bytes, at_ms: int) -> None:
        tr = self.tracks.get(track)
        if tr is None or self.ended:
            return
        self._wait_previous()
        gap = at_ms - tr.fed_ms
        if gap > 20:
            tr.buf += SILENCE * (8 * min(gap, MAX_PAD_MS))
            tr.fed_ms += min(gap, MAX_PAD_MS)
        tr.buf += audio
        tr.fed_ms += len(audio) // 8
        tr.arrivals.append((tr.fed_ms, time.monotonic()))

    def flush(self, last: bool = False) -> None:
        """Feed what arrived, both tracks in step (100 ms of one, then of the other), so turns come
        out in stream-time order across speakers even after the worker fell behind. Only whole
        100 ms pieces of the stream clock are fed (the rest waits, unless ``last``): what is taken
        for quiet, and so what the recognizer hears, must not depend on how the network batched
        the audio."""
        pending = []
        for tr in self.tracks.values():
            n = len(tr.buf) if last else len(tr.buf) - len(tr.buf) % FEED_BYTES
            if n:
                pending.append((tr, bytes(tr.buf[:n])))
                del tr.buf[:n]
        longest = max((len(a) for _, a in pending), default=0)
        for i in range(0, longest, FEED_BYTES):
            for tr, audio in pending:
                piece = audio[i : i + FEED_BYTES]
                if piece:
                    self._feed(tr, piece)
        if pending and all(not tr.listening for tr in self.tracks.values()):  # nobody is talking
            self.board.quiet(self.record, self.offset + min(tr.heard for tr in self.tracks.values()) / 8000)

    def _feed(self, tr: Track, piece: bytes) -> None:
        """Give the track's recognizer its sound; quiet between utterances is skipped."""
        is_quiet = quiet(piece)
        tr.quiet_ms = tr.quiet_ms + len(piece) // 8 if is_quiet else 0
        if not tr.listening:
            if is_quiet:
                tr.preroll = (tr.preroll + piece)[-PREROLL_BYTES:]
                tr.heard += len(piece)
                return
            if tr.rec is None:
                tr.rec = StreamingRecognizer(self._engine(), RATE)
            tr.listening = True
            tr.marks.append((tr.rec.seconds_fed, (tr.heard - len(tr.preroll)) / 8000))
            del tr.marks[:-MAX_MARKS]
            if tr.preroll:
                self._results(tr, tr.rec.feed_mulaw(tr.preroll))
                tr.preroll = b""
        assert tr.rec is not None
        self._results(tr, tr.rec.feed_mulaw(piece))
        tr.heard += len(piece)
        tr.pending = tr.pending or not is_quiet
        # an utterance still open after the board's endpoint_ms of quiet is ended here (the engine
        # would wait for more); with nothing pending, IDLE_MS of quiet stops decoding till the next sound
        if tr.quiet_ms >= (self.board.endpoint_ms if tr.pending else IDLE_MS):
            if tr.pending:
                self._results(tr, tr.rec.cut())
                tr.pending = False
            if tr.partial:  # heard as nothing in the end: the grey text goes
                tr.partial = ""
                self.board.partial(self.record, tr.speaker, "")
            tr.listening = False

    def end(self, reason: str) -> None:
        """The stream is over: "stop" ends the call; anything else leaves it open for a resumed stream."""
        if self.ended:
            return
        self.ended = True
        self._wait_previous()
        try:
            self.flush(last=True)
            for tr in self.tracks.values():
                if tr.rec is not None:
                    self._results(tr, tr.rec.close())
                    tr.rec = None
        finally:
            self.board.stream_ended(
                self.record, reason, self.offset + max(t.fed_ms for t in self.tracks.values()) / 1000
            )
            self.done.set()

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
            tr.pending = False
            if not text:
                continue
            end = tr.stream_time(r.end) if r.end is not None else tr.heard / 8000
            start = tr.stream_time(r.start) if r.start is not None else max(0.0, end - 0.3 * len(text))
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
