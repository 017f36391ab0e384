"""Two-channel call recordings assembled from real utterances, for the demo, tests and benchmarks.

Channel 0 is the caller, channel 1 the agent (Twilio's dual-channel layout, 8 kHz). Turns
alternate customer/agent with short gaps, so each channel has speech where the other is silent,
like a real call. The agent's opening and closing lines are synthesized with espeak-ng's Mandarin
pinyin voice when it is installed (so the script scorer has something to find); everything else is
real recorded speech (../shared/speech/zh), else the committed audio fixtures, else (a fresh machine
with neither) Mandarin lines synthesized by espeak-ng.
"""

from __future__ import annotations

import functools
import random
import shutil
import subprocess
import tempfile
import threading
import wave
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

RATE = 8000
OPENING = "您好，京东客服，很高兴为您服务，请问有什么可以帮您？"
CLOSING = "感谢您的耐心等待，请问还有其他问题吗？祝您生活愉快，再见。"


@dataclass(frozen=True)
class Turn:
    speaker: str  # customer | agent
    samples: np.ndarray  # int16 at RATE


def load_utterance(path: Path) -> np.ndarray:
    """Decode any audio file to 8 kHz mono int16 (ffmpeg via speech.audio)."""
    from speech.audio import decode

    return decode(path, rate=RATE).mono()


# Lines for a fresh machine with neither ../shared nor audio fixtures: synthesized with espeak-ng.
LINES = (
    "你好，我的订单已经三天了还没有收到。",
    "请您提供一下订单号，我帮您查询。",
    "我想申请退货，商品有质量问题。",
    "好的，已经为您登记，请您耐心等待。",
    "运费由谁承担呢？",
    "非常抱歉给您带来不便，运费由我们承担。",
    "好的，谢谢你。",
    "请问还有什么可以帮您？",
)


def speech_sources(shared_dir: Path, fixtures_dir: Path, cache_dir: Path | None = None) -> list[Path]:
    """Real speech (../shared/speech/zh), else the audio fixtures, else lines synthesized by espeak-ng."""
    zh = shared_dir / "speech" / "zh"
    files = sorted(zh.glob("*.wav")) if zh.is_dir() else []
    if not files:  # Mandarin fixtures plus synthesized service lines
        if fixtures_dir.is_dir():
            files = sorted(fixtures_dir.glob("zh_*.wav"))
        cache = cache_dir or Path(tempfile.gettempdir()) / "hotline-tts"
        files += [p for p in (synthesize_file(line, cache) for line in LINES) if p is not None]
    if not files and fixtures_dir.is_dir():  # no espeak-ng: any speech fixture
        bad = ("silence", "corrupt", "empty", "truncated", "not_audio")
        files = sorted(p for p in fixtures_dir.glob("*.wav") if p.stat().st_size > 8000 and not p.stem.startswith(bad))
    if not files:
        raise FileNotFoundError(f"no speech found in {zh} nor in {fixtures_dir}, and espeak-ng is not installed")
    return files


def synthesize_file(text: str, cache_dir: Path) -> Path | None:
    """espeak-ng Mandarin (pinyin voice) WAV, cached; None when espeak-ng is not installed."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        return None
    import hashlib

    out = cache_dir / f"tts-{hashlib.sha1(text.encode()).hexdigest()[:12]}.wav"
    if not out.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp.wav")
        subprocess.run([exe, "-v", "cmn-latn-pinyin", "-s", "200", "-w", str(tmp), text], check=True, timeout=60)
        tmp.replace(out)
    return out


def synthesize(text: str, cache_dir: Path) -> np.ndarray | None:
    path = synthesize_file(text, cache_dir)
    return None if path is None else load_utterance(path)


def assemble(turns: Sequence[Turn], gap_s: float = 0.5, lead_s: float = 0.3) -> np.ndarray:
    """(n, 2) int16: each turn on its speaker's channel, one after the other with gaps."""
    gap, lead = int(gap_s * RATE), int(lead_s * RATE)
    total = lead + sum(len(t.samples) + gap for t in turns)
    out = np.zeros((total, 2), dtype=np.int16)
    pos = lead
    for t in turns:
        ch = 0 if t.speaker == "customer" else 1
        out[pos : pos + len(t.samples), ch] = t.samples
        pos += len(t.samples) + gap
    return out


def write_wav(path: Path, frames: np.ndarray, rate: int = RATE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(frames.shape[1] if frames.ndim == 2 else 1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.ascontiguousarray(frames).tobytes())
    return path


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def media_server(directory: Path) -> Iterator[str]:
    """Serve ``directory`` over http on 127.0.0.1, as Twilio's media host would; yields the base URL.

    For tests and benchmarks that post recording callbacks: a webhook may only name a host the
    server allows, so list the yielded URL in HOTLINE_RECORDING_HOSTS.
    """
    srv = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietFiles, directory=str(directory)))
    thread = threading.Thread(target=srv.serve_forever, name="media-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


class CallBuilder:
    """Makes calls of a target length from a pool of utterances (decoded once, reused)."""

    def __init__(self, sources: Sequence[Path], seed: int = 0, tts_cache: Path | None = None) -> None:
        self.rng = random.Random(seed)
        self.pool = [load_utterance(p) for p in sources]
        cache = tts_cache or Path(tempfile.gettempdir()) / "hotline-tts"
        try:
            self.opening, self.closing = synthesize(OPENING, cache), synthesize(CLOSING, cache)
        except (subprocess.SubprocessError, OSError):
            self.opening = self.closing = None

    def turns(self, seconds: float) -> list[Turn]:
        turns: list[Turn] = []
        if self.opening is not None:
            turns.append(Turn("agent", self.opening))
        used = sum(len(t.samples) for t in turns) / RATE
        closing = len(self.closing) / RATE if self.closing is not None else 0.0
        speaker = "customer"
        while used + closing < seconds or len(turns) < 3:
            u = self.rng.choice(self.pool)
            turns.append(Turn(speaker, u))
            used += len(u) / RATE + 0.5
            speaker = "agent" if speaker == "customer" else "customer"
        if self.closing is not None:
            turns.append(Turn("agent", self.closing))
        return turns

    def write(self, path: Path, seconds: float) -> float:
        """Write a two-channel call of about ``seconds``; returns its real duration."""
        frames = assemble(self.turns(seconds))
        write_wav(path, frames)
        return len(frames) / RATE
