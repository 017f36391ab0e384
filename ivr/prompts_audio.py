"""Prompt audio for bidirectional streams: text -> 8 kHz μ-law, rendered once and cached as files.

A configurable TTS command (default espeak-ng's Mandarin voice with tones) writes a WAV to
stdout; ffmpeg turns it into μ-law. Files are keyed by a hash of the text and the command, so
a changed prompt or voice renders again and nothing else does. A recorded prompt replaces the
synthetic one: put ``<key>.wav`` (any format ffmpeg reads) in the recorded folder; `key`
tells which file a text needs (``hotline`` prints them with the start-up render).
"""

from __future__ import annotations

import hashlib
import logging
import shlex
import subprocess
import threading
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_TTS = "espeak-ng -v cmn-latn-pinyin -s 220 --stdout {text}"
TTS_TIMEOUT_S = 30


class PromptAudioError(RuntimeError):
    """The TTS command or ffmpeg failed: the message names the command, never the prompt text."""


def key(text: str, command: str = DEFAULT_TTS) -> str:
    return hashlib.sha256(f"{command}\n{text}".encode()).hexdigest()[:20]


class PromptAudio:
    """Thread-safe cache: ``audio(text)`` returns μ-law bytes, rendering on first use."""

    def __init__(self, cache_dir: Path, command: str = DEFAULT_TTS, recorded_dir: Path | None = None) -> None:
        self.cache_dir = Path(cache_dir)
        self.command = command or DEFAULT_TTS
        self.recorded_dir = recorded_dir
        self._mem: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self.rendered = 0  # renders done by this process (tests check the cache works)

    def key(self, text: str) -> str:
        return key(text, self.command)

    def audio(self, text: str) -> bytes:
        k = self.key(text)
        with self._lock:
            hit = self._mem.get(k)
        if hit is not None:
            return hit
        data = self._load_or_render(text, k)
        with self._lock:
            self._mem[k] = data
        return data

    def render_all(self, texts: Iterable[str]) -> int:
        """Render every prompt up front (start-up), so no caller waits for TTS. Returns the count."""
        n = 0
        for t in dict.fromkeys(t for t in texts if t.strip()):
            self.audio(t)
            n += 1
        return n

    def _load_or_render(self, text: str, k: str) -> bytes:
        if self.recorded_dir is not None:
            for cand in sorted(Path(self.recorded_dir).glob(f"{k}.*")):
                return to_ulaw(cand.read_bytes())
        path = self.cache_dir / f"{k}.ul"
        if path.is_file():
            return path.read_bytes()
        wav = self._tts(text)
        data = to_ulaw(wav)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{threading.get_ident()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)  # atomic: another process rendering the same prompt is harmless
        self.rendered += 1
        return data

    def _tts(self, text: str) -> bytes:
        args = [a.replace("{text}", text) for a in shlex.split(self.command)]
        if "{text}" not in self.command:
            args.append(text)
        try:
            proc = subprocess.run(args, capture_output=True, timeout=TTS_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PromptAudioError(f"TTS command {args[0]!r} failed: {type(exc).__name__}") from None
        if proc.returncode != 0 or not proc.stdout:
            raise PromptAudioError(f"TTS command {args[0]!r} exited with {proc.returncode}")
        return proc.stdout


def to_ulaw(audio: bytes) -> bytes:
    """Any audio ffmpeg reads -> raw 8 kHz mono μ-law."""
    try:
        proc = subprocess.run(
            ["ffmpeg", "-loglevel", "error", "-i", "pipe:0", "-ar", "8000", "-ac", "1", "-f", "mulaw", "pipe:1"],
            input=audio,
            capture_output=True,
            timeout=TTS_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PromptAudioError(f"ffmpeg failed: {type(exc).__name__}") from None
    if proc.returncode != 0:
        raise PromptAudioError(f"ffmpeg could not convert prompt audio ({proc.returncode})")
    return proc.stdout
