"""Live-call test helpers: an engine that hears a script per stream (caller first, then agent)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from qa.scorecard import Scorecard, load_scorecard
from speech.testing import FakeStream, FakeTranscriber, Said


class PerTrackEngine(FakeTranscriber):
    """Streams opened in turn hear ``scripts[0]``, ``scripts[1]``, ... (a listener opens the
    caller's recognizer before the agent's when both have audio)."""

    def __init__(self, *scripts: Sequence[Said]) -> None:
        super().__init__()
        self.scripts = [tuple(s) for s in scripts]
        self.lock = threading.Lock()

    def stream(self, sample_rate: int, grammar: Sequence[str] | None = None) -> FakeStream:
        with self.lock:
            script = self.scripts[len(self.streams) % len(self.scripts)]
            stream = FakeStream(script, sample_rate, grammar, interim=True)
            self.streams.append(stream)
            return stream


@pytest.fixture(scope="session")
def card() -> Scorecard:
    return load_scorecard()
