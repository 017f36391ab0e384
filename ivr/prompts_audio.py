"""Prompt audio for bidirectional streams: text -> 8 kHz μ-law, rendered once and cached as files.

A configurable TTS command (default espeak-ng's Mandarin voice with tones) writes a WAV to
stdout; ffmpeg turns it into μ-law. Files are keyed by a hash of the text and the command, so
a changed prompt or voice renders again and nothing else does. A recorded prompt replaces the
synthetic one: put ``<key>.wav`` (any format ffmpeg reads) in the recorded folder; `key`
tells which file a text needs (``python -m ivr.prompts_audio`` lists them for a menu).

Only the menu's own texts are kept (`remember`, done at start-up): a prompt made at call time
from personal data (an order number read back) is rendered for that call and never written to
disk or kept in memory.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ivr.flow import Flow

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
        self.known: set[str] | None = None  # texts that may be cached; None = every text

    def remember(self, texts: Iterable[str]) -> None:
        """Declare the menu's own prompt texts: only these are cached from now on."""
        with self._lock:
            self.known = (self.known or set()) | {t for t in texts if t.strip()}

    def cacheable(self, text: str) -> bool:
        with self._lock:
            return self.known is None or text in self.known

    def key(self, text: str) -> str:
        return key(text, self.command)

    def audio(self, text: str) -> bytes:
        k = self.key(text)
        if not self.cacheable(text):  # made from a caller's data: render for this call only
            data = to_ulaw(self._tts(text))
            with self._lock:
                self.rendered += 1
            return data
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
        texts = list(dict.fromkeys(t for t in texts if t.strip()))
        self.remember(texts)
        for t in texts:
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
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
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


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ivr.prompts_audio [menu.yaml] [--command CMD]``: the file name each prompt's
    recording must have (``<key>.wav`` in ``HOTLINE_STREAM_PROMPTS_DIR``), then its text."""
    import argparse

    from ivr.flow import Flow
    from ivr.hours import load_hours
    from ivr.menu import load_menu

    menus = Path(__file__).parent / "menus"
    ap = argparse.ArgumentParser(prog="python -m ivr.prompts_audio", description=main.__doc__)
    ap.add_argument("menu", nargs="?", default=str(menus / "950618.yaml"), help="HOTLINE_MENU_PATH")
    ap.add_argument("--hours", default=str(menus / "hours.yaml"), help="HOTLINE_HOURS_PATH")
    ap.add_argument("--command", default=DEFAULT_TTS, help="the TTS command (HOTLINE_STREAM_TTS)")
    args = ap.parse_args(argv)
    for text in prompt_texts(Flow(load_menu(args.menu), load_hours(args.hours))):
        print(f"{key(text, args.command)}.wav\t{text}")
    return 0


def prompt_texts(flow: Flow) -> list[str]:
    """Every prompt a call can hear except those made from the caller's own data (read-backs)."""
    menu = flow.menu
    texts: list[str] = [t for t in menu.messages.values() if "{" not in t]
    texts.append(flow.msg("agents_closed", hours=flow.hours.display or ""))
    for n in menu.nodes.values():
        texts += [n.prompt, n.short, flow.msg("confirm", label=n.label)]
    return list(dict.fromkeys(t for t in texts if t and t.strip()))


if __name__ == "__main__":
    sys.exit(main())
