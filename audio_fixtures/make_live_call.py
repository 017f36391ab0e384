"""Generate ``ko_live_call_8k.wav``: a short two-channel call (8 kHz μ-law, like Twilio's recordings)
for the live-call tests on a fresh clone (the real calls in ../shared/calls-dev are not ours to ship).

Channel 1 is the caller, channel 2 the agent (espeak-ng Korean: the only Vosk model the tests can
install is Korean). What is said and when is in ``SCRIPT`` (the tests read it from here):
the caller asks, the agent answers with an insult (바보, "fool": the tests' scorecard forbids it),
then nobody speaks for 6 s (a long-silence alert) and the caller speaks again.
Run: ``python audio_fixtures/make_live_call.py`` (needs espeak-ng and ffmpeg).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from make_fixtures import HERE, espeak, ff, read_wav, write_wav  # type: ignore[import-not-found]

RATE = 8000
TOTAL_S = 13.0
OUT = HERE / "ko_live_call_8k.wav"
# (channel, text, start s, espeak speed): channel 0 = caller, 1 = agent
SCRIPT = [
    (0, "배송 조회", 0.5, 140),
    (1, "바보", 3.0, 150),
    (0, "상담원 연결", 10.0, 140),
]


def main() -> None:
    tracks = [np.zeros(int(TOTAL_S * RATE), dtype=np.int16) for _ in range(2)]
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        for k, (channel, text, start, speed) in enumerate(SCRIPT):
            espeak(text, "ko", t / f"{k}.wav", speed=speed)
            ff(t / f"{k}.wav", t / f"{k}8.wav", "-ar", str(RATE), "-ac", "1")
            x, _ = read_wav(t / f"{k}8.wav")
            s = int(start * RATE)
            tracks[channel][s : s + len(x)] = x[: len(tracks[channel]) - s]
            print(f"{text}: channel {channel + 1}, {start:.2f}-{start + len(x) / RATE:.2f} s")
        write_wav(t / "pcm.wav", tracks, RATE)
        ff(t / "pcm.wav", OUT, "-c:a", "pcm_mulaw")
    print(OUT, OUT.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
