"""The board: capacity and skipping, turns per speaker on the stream clock, resume, pushes, the store."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from live.board import LiveBoard
from live.monitor import LiveQA
from qa.scorecard import Scorecard
from speech.testing import Said
from tests.live.conftest import PerTrackEngine

SILENCE = b"\xff" * 160  # 20 ms of μ-law
LOUD = b"\x10" * 160  # 20 ms of a loud μ-law level: never taken for the end of an utterance


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def make(
    card: Scorecard, engine: PerTrackEngine, max_calls: int = 2
) -> tuple[LiveBoard, list[tuple[str, dict[str, Any]]], Clock]:
    stored: list[tuple[str, dict[str, Any]]] = []
    clock = Clock()

    def new_qa(params: Mapping[str, str]) -> LiveQA:
        return LiveQA(card, consent_played=params.get("consent") == "1")

    board = LiveBoard(
        lambda: engine, new_qa, max_calls=max_calls, store=lambda s, e: stored.append((s, dict(e))), clock=clock
    )
    return board, stored, clock


def play(
    listener: Any,
    seconds: float,
    start_ms: int = 0,
    tracks: tuple[str, ...] = ("inbound", "outbound"),
    sound: bytes = LOUD,
) -> None:
    for ms in range(start_ms, start_ms + int(seconds * 1000), 20):
        for track in tracks:
            listener.hear(track, sound, ms)
        if ms % 200 == 0:
            listener.flush()
    listener.flush()


CUSTOMER = [Said("我 要 投诉 你们", 1.0, 2.5)]
AGENT = [Said("您好 很高兴 为您服务", 0.2, 0.9), Said("这个 我 不知道", 3.0, 4.0)]


def test_turns_per_speaker_alerts_and_the_store(card: Scorecard) -> None:
    engine = PerTrackEngine(CUSTOMER, AGENT)
    board, stored, _ = make(card, engine)
    q = board.subscribe("CA1")
    assert q is not None
    call = board.open("CA1", {"agent": "alice", "team": "t1", "topic": "order"})
    assert call is not None
    play(call, 5.0)
    call.end("stop")
    kinds = [(e["type"], e.get("speaker") or e.get("kind")) for _, e in stored]
    assert ("turn", "agent") in kinds and ("turn", "customer") in kinds
    turns = [e for _, e in stored if e["type"] == "turn"]
    assert [t["text"] for t in turns if t["speaker"] == "agent"] == ["您好很高兴为您服务", "这个我不知道"]
    assert [(t["start"], t["end"]) for t in turns if t["speaker"] == "customer"] == [(1.0, 2.5)]
    alerts = {e["kind"] for _, e in stored if e["type"] == "alert"}
    assert {"escalation", "forbidden"} <= alerts
    assert stored[-1][1]["type"] == "end"
    pushed = []
    while not q.empty():
        pushed.append(q.get_nowait()["type"])
    assert "partial" in pushed and "missing" in pushed and pushed[-1] == "end"  # partials pushed, never stored
    assert "partial" not in {e["type"] for _, e in stored}
    detail = board.detail("CA1")
    assert detail is not None and detail["status"] == "ended" and detail["agent"] == "alice"


def test_a_full_box_skips_new_calls_and_counts_them(card: Scorecard) -> None:
    board, _, _ = make(card, PerTrackEngine([], []), max_calls=1)
    first = board.open("CA1", {})
    assert first is not None
    assert board.open("CA2", {}) is None
    assert board.stats["skipped"] == 1
    first.end("stop")
    assert board.open("CA2", {}) is not None  # the slot is free again


def test_a_broken_stream_resumes_the_same_call_later_on_its_clock(card: Scorecard) -> None:
    engine = PerTrackEngine([Said("第一句", 0.5, 1.0)], [], [Said("第二句", 0.5, 1.0)], [])
    board, stored, clock = make(card, engine)
    call = board.open("CA9", {})
    assert call is not None
    play(call, 2.0)
    call.end("disconnect")
    assert board.detail("CA9")["status"] == "interrupted"  # type: ignore[index]
    clock.t += 10.0  # the new stream starts 10 s into the call; its clock restarts at 0
    again = board.open("CA9", {})
    assert again is not None and board.stats["resumed"] == 1
    play(again, 2.0)
    again.end("stop")
    turns = [e for _, e in stored if e["type"] == "turn"]
    assert [(t["text"], t["start"]) for t in turns] == [("第一句", 0.5), ("第二句", 10.5)]


def test_hostile_timestamps_are_not_padded_without_bound(card: Scorecard) -> None:
    board, _, _ = make(card, PerTrackEngine([], []))
    call = board.open("CA3", {})
    assert call is not None
    call.hear("inbound", SILENCE, 10**9)
    assert len(call.tracks["inbound"].buf) <= 8 * 10_000 + len(SILENCE)
    call.hear("sideways", SILENCE, 0)  # not a track of ours: ignored
    call.end("stop")


def test_subscribers_are_capped(card: Scorecard) -> None:
    board, _, _ = make(card, PerTrackEngine([], []))
    board.max_viewers = 2
    a, b = board.subscribe(), board.subscribe("CA1")
    assert a is not None and b is not None and board.subscribe() is None
    board.unsubscribe(a)
    assert board.subscribe() is not None


class OpenEnded(PerTrackEngine):
    """An engine that never ends an utterance by itself (Vosk on a short word in digital silence)."""

    def stream(self, sample_rate: int, grammar: Any = None) -> Any:
        inner = super().stream(sample_rate, grammar)

        class Stream:
            def __init__(self) -> None:
                self.held: list[Any] = []

            def accept(self, pcm: bytes) -> list[Any]:
                out = inner.accept(pcm)
                self.held += [r for r in out if r.is_final]  # known, but not said: the engine waits
                return [r for r in out if not r.is_final]

            def finish(self) -> list[Any]:
                out, self.held = [*self.held, *inner.finish()], []
                return out

            def close(self) -> None:
                inner.close()

            def set_grammar(self, phrases: Any) -> None:
                inner.set_grammar(phrases)

        return Stream()


def test_quiet_after_words_ends_the_utterance_when_the_engine_does_not(card: Scorecard) -> None:
    engine = OpenEnded([Said("喂 你好", 0.2, 1.0)], [])
    board, stored, _ = make(card, engine)
    call = board.open("CA5", {})
    assert call is not None
    play(call, 0.6, tracks=("inbound",))  # words: a partial, no final
    play(call, 1.2, start_ms=600, tracks=("inbound",), sound=SILENCE)  # then quiet
    turns = [e for _, e in stored if e["type"] == "turn"]
    assert [(t["text"], t["speaker"]) for t in turns] == [("喂你好", "customer")]  # before the stream ends
    call.end("stop")


def test_the_event_stream_sends_a_snapshot_then_events_and_lets_go(card: Scorecard) -> None:
    board, _, _ = make(card, PerTrackEngine([Said("你好", 0.1, 0.5)], []))
    body = board.stream(None, max_s=0.5)
    assert body is not None
    first = next(body)
    assert first.startswith('retry: 2000\nevent: snapshot\ndata: {"calls": []}')
    call = board.open("CA6", {"agent": "bob"})
    assert call is not None
    play(call, 1.0)
    frames = list(body)  # ends after max_s
    assert any(f.startswith("event: turn\n") and "你好" in f for f in frames)
    assert board._subs == []  # unsubscribed when the response ends


def test_numbers_that_identify_people_are_redacted_before_anyone_sees_them(card: Scorecard) -> None:
    engine = PerTrackEngine([Said("我的 手机 是 13800138000", 0.2, 1.5)], [])
    board, stored, _ = make(card, engine)
    q = board.subscribe()
    call = board.open("CA4", {})
    assert call is not None and q is not None
    play(call, 2.0)
    call.end("stop")
    pushed = []
    while not q.empty():
        pushed.append(q.get_nowait())
    texts = [e["text"] for _, e in stored if e["type"] == "turn"] + [e.get("text", "") for e in pushed]
    assert texts and not any("13800138000" in t for t in texts)


def test_quiet_between_utterances_is_not_decoded_and_times_stay_stream_times(card: Scorecard) -> None:
    """The caller talks 0-1 s and 4-5 s: the recognizer hears the first second, ENDPOINT_MS of quiet,
    then the 200 ms before the second stretch, and its times are mapped back to the stream's."""
    from live.call import ENDPOINT_MS, PREROLL_BYTES

    stop = 1.0 + ENDPOINT_MS / 1000  # recognizer seconds when the quiet stopped being decoded
    resume = 4.0 - PREROLL_BYTES / 8000  # stream seconds of the first audio it hears again
    engine = PerTrackEngine([Said("第一句", 0.2, 0.9), Said("第二句", stop + 0.3, stop + 0.9)], [])
    board, stored, _ = make(card, engine)
    call = board.open("CA5", {})
    assert call is not None
    for ms in range(0, 5000, 20):
        call.hear("inbound", LOUD if ms < 1000 or ms >= 4000 else SILENCE, ms)
        call.hear("outbound", SILENCE, ms)
        if (ms + 20) % 100 == 0:  # 100 ms pieces, as the worker feeds them
            call.flush()
    call.end("stop")
    turns = [(e["text"], e["start"], e["end"]) for _, e in stored if e["type"] == "turn"]
    assert turns == [("第一句", 0.2, 0.9), ("第二句", round(resume + 0.3, 2), round(resume + 0.9, 2))]
    fed = engine.streams[0].seconds
    assert fed == pytest.approx(stop + 1.0 + PREROLL_BYTES / 8000)  # not the 5 s of the stream
    assert len(engine.streams) == 1  # the agent never spoke: no recognizer opened for silence


def test_a_long_silence_is_alerted_before_anyone_speaks_again(card: Scorecard) -> None:
    engine = PerTrackEngine([Said("我的快递到哪了", 0.2, 0.9)], [])
    board, stored, _ = make(card, engine)
    call = board.open("CA6", {})
    assert call is not None
    for ms in range(0, 8000, 20):
        call.hear("inbound", LOUD if ms < 1000 else SILENCE, ms)
        call.hear("outbound", SILENCE, ms)
        if (ms + 20) % 100 == 0:
            call.flush()
    alerts = [e for _, e in stored if e["type"] == "alert" and e["kind"] == "silence"]
    assert len(alerts) == 1 and alerts[0]["time"] == 0.9 and 5.0 <= float(alerts[0]["detail"]) < 5.2
    call.end("stop")
