"""Decoding recordings to 16-bit PCM, channel handling, μ-law and voice-activity helpers.

Everything a contact centre records (WAV PCM/μ-law/A-law, MP3, OGG, FLAC, raw μ-law; any rate;
mono or two channels) goes through pydub + ffmpeg into int16 numpy arrays at the rate the
engine wants. Every failure is one `AudioError` naming the file and the reason, so a batch can
report it and carry on.
"""

from __future__ import annotations

import io
import warnings
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # stdlib up to 3.12, the audioop-lts package (a dependency) from 3.13

RAW_MULAW_SUFFIXES = frozenset({".ul", ".ulaw", ".mulaw", ".mu", ".u8"})
AUDIO_SUFFIXES = frozenset({".wav", ".mp3", ".ogg", ".oga", ".opus", ".flac", ".m4a", ".aac", ".amr", ".wma", ".webm"})
AUDIO_SUFFIXES = AUDIO_SUFFIXES | RAW_MULAW_SUFFIXES


class AudioError(Exception):
    """A recording cannot be used. ``str()`` reads "<file>: <reason>"."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self) -> tuple[type[AudioError], tuple[str, str]]:  # survives worker processes
        return (AudioError, (self.path, self.reason))


@dataclass(frozen=True)
class Audio:
    """Decoded audio: one int16 array per channel, all the same length."""

    rate: int
    channels: tuple[np.ndarray, ...]

    @property
    def duration(self) -> float:
        return len(self.channels[0]) / self.rate if self.channels else 0.0

    @property
    def n_channels(self) -> int:
        return len(self.channels)

    def mono(self) -> np.ndarray:
        if len(self.channels) == 1:
            return self.channels[0]
        mixed = np.mean(np.stack([c.astype(np.int32) for c in self.channels]), axis=0)
        return mixed.astype(np.int16)


# --- decoding ------------------------------------------------------------------------------


def decode(path: str | Path, rate: int = 16000, raw_format: str | None = None) -> Audio:
    """Decode a file to int16 PCM at ``rate``, keeping its channels.

    Raw μ-law (no header: .ul/.ulaw/.mulaw, or ``raw_format="mulaw"``) is taken as 8 kHz mono,
    which is what telephony systems write.
    """
    p = Path(path)
    if not p.exists():
        raise AudioError(p, "no such file")
    if not p.is_file():
        raise AudioError(p, "not a regular file")
    size = p.stat().st_size
    if size == 0:
        raise AudioError(p, "empty file (0 bytes)")
    fmt = raw_format or ("mulaw" if p.suffix.lower() in RAW_MULAW_SUFFIXES else None)
    if fmt is None:
        with p.open("rb") as f:
            head = f.read(4096)
        if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
            problem = wav_truncation(head, size)
            if problem:
                raise AudioError(p, problem)
            g711 = g711_wav(p.read_bytes()) if wav_format_tag(head) in (WAVE_FORMAT_ALAW, WAVE_FORMAT_MULAW) else None
            if g711 is not None:
                src_rate, chans = g711
                return Audio(rate, tuple(np.ascontiguousarray(resample(c, src_rate, rate)) for c in chans))
    if fmt == "mulaw":
        samples = ulaw_to_pcm(p.read_bytes())
        arr = np.frombuffer(samples, dtype=np.int16)
        return Audio(rate, (resample(arr, 8000, rate),))
    return _decode_pydub(p, rate)


WAVE_FORMAT_ALAW, WAVE_FORMAT_MULAW, WAVE_FORMAT_EXTENSIBLE = 6, 7, 0xFFFE


def wav_format_tag(head: bytes) -> int | None:
    """The format tag of a WAV's ``fmt`` chunk (1 PCM, 6 A-law, 7 μ-law; an extensible WAV's sub-format)."""
    pos = 12
    while pos + 8 <= len(head):
        cid, n = head[pos : pos + 4], int.from_bytes(head[pos + 4 : pos + 8], "little")
        if cid == b"fmt " and pos + 8 + 2 <= len(head):
            tag = int.from_bytes(head[pos + 8 : pos + 10], "little")
            if tag == WAVE_FORMAT_EXTENSIBLE and n >= 26 and pos + 8 + 26 <= len(head):
                tag = int.from_bytes(head[pos + 32 : pos + 34], "little")
            return tag
        pos += 8 + n + (n & 1)
    return None


def g711_wav(data: bytes) -> tuple[int, tuple[np.ndarray, ...]] | None:
    """(rate, int16 channels) of a G.711 μ-law/A-law WAV held in memory; None for any other WAV.

    Decoded here, not by pydub: pydub asks ffmpeg for the 8-bit samples as unsigned 8-bit *linear*
    PCM (``pcm_u8``), which throws away the companding: a quiet voice lands on 3-4 levels (steps of
    256) and the recording comes out at ~23 dB SNR. G.711 expands to 14 bits of linear PCM.
    """

    def u(b: bytes) -> int:
        return int.from_bytes(b, "little")

    pos, fmt = 12, None
    while pos + 8 <= len(data):
        cid, n = data[pos : pos + 4], u(data[pos + 4 : pos + 8])
        body = data[pos + 8 : pos + 8 + n]
        if cid == b"fmt " and len(body) >= 16:
            tag = u(body[0:2])
            if tag == WAVE_FORMAT_EXTENSIBLE and len(body) >= 26:
                tag = u(body[24:26])  # the sub-format GUID starts with the format tag
            fmt = (tag, u(body[2:4]), u(body[4:8]), u(body[14:16]))  # tag, channels, rate, bits
        elif cid == b"data":
            if fmt is None or fmt[0] not in (WAVE_FORMAT_ALAW, WAVE_FORMAT_MULAW) or fmt[3] != 8 or fmt[1] < 1:
                return None
            tag, channels, rate, _ = fmt
            if n in (0, 0xFFFFFFFF, 0x7FFFFFFF):  # streaming writers leave the size open
                body = data[pos + 8 :]
            body = body[: len(body) - len(body) % channels]
            pcm = audioop.ulaw2lin(body, 2) if tag == WAVE_FORMAT_MULAW else audioop.alaw2lin(body, 2)
            x = np.frombuffer(pcm, dtype="<i2").astype(np.int16)
            return rate, tuple(np.ascontiguousarray(x[i::channels]) for i in range(channels))
        pos += 8 + n + (n & 1)
    return None


def _decode_pydub(p: Path, rate: int) -> Audio:
    from pydub import AudioSegment
    from pydub.exceptions import CouldntDecodeError

    try:
        # ffmpeg decodes at the file's own rate (pydub puts ``parameters`` after the output, where ffmpeg
        # ignores them); numpy resamples below
        seg = AudioSegment.from_file(str(p))
    except CouldntDecodeError as exc:
        raise AudioError(p, f"cannot decode: {diagnose(p, _ffmpeg_reason(str(exc), p))}") from None
    except (IndexError, ValueError, EOFError):  # pydub's probe found no audio stream it could use
        raise AudioError(p, f"cannot decode: {diagnose(p, 'ffmpeg found no audio stream')}") from None
    except OSError as exc:  # unreadable file, or ffmpeg itself missing
        raise AudioError(p, f"cannot read ({exc.strerror or type(exc).__name__}: {exc.filename or ''})") from None
    if len(seg.raw_data) == 0 or seg.frame_count() == 0:
        raise AudioError(p, "no audio in file (truncated or header only)")
    if seg.sample_width != 2:
        seg = seg.set_sample_width(2)
    src_rate = seg.frame_rate
    data = np.frombuffer(seg.raw_data, dtype=np.int16)
    n = seg.channels
    data = data[: len(data) - len(data) % n]
    chans = tuple(np.ascontiguousarray(resample(data[i::n], src_rate, rate)) for i in range(n))
    return Audio(rate, chans)


# Leading bytes of the containers a contact centre writes: (magic, offset, container, file extension).
# A file that starts like one of these but cannot be decoded is damaged, anything else is a format we
# do not take; a download that starts like none of them is not stored as a recording.
MAGIC: tuple[tuple[bytes, int, str, str], ...] = (
    (b"RIFF", 0, "WAV", "wav"),
    (b"RF64", 0, "WAV", "wav"),
    (b"ID3", 0, "MP3", "mp3"),
    (b"OggS", 0, "OGG", "ogg"),
    (b"fLaC", 0, "FLAC", "flac"),
    (b"#!AMR", 0, "AMR", "amr"),
    (b"ftyp", 4, "MP4/M4A", "m4a"),
    (b"\x1aE\xdf\xa3", 0, "WebM", "webm"),
)


def sniff(head: bytes) -> tuple[str, str] | None:
    """(container, file extension) the first bytes announce, else None.

    A RIFF file must say WAVE (an AVI is not a recording); bare MPEG frames are told by the 11-bit
    sync word, layer bits 00 meaning ADTS AAC.
    """
    for magic, offset, name, ext in MAGIC:
        if head[offset : offset + len(magic)] == magic:
            if name == "WAV" and head[8:12] != b"WAVE":
                return None
            return name, ext
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return ("MP3", "mp3") if head[1] & 0x06 else ("AAC", "aac")
    return None


def container_of(head: bytes) -> str | None:
    """The container a file's first bytes announce (for error messages)."""
    kind = sniff(head)
    return kind[0] if kind else None


def audio_ext(head: bytes) -> str | None:
    """The file extension to store audio under, from its first bytes; None if it does not look like audio."""
    kind = sniff(head)
    return kind[1] if kind else None


def wav_info(data: bytes) -> tuple[int, float] | None:
    """(channels, seconds) of a PCM WAV held in memory, without decoding; None for other formats.

    μ-law/A-law WAVs give None too (Python's ``wave`` reads PCM only; ffmpeg decodes them later).
    Raises ValueError for a WAV whose header is broken.
    """
    if not data.startswith(b"RIFF"):
        return None
    try:
        with wave.open(io.BytesIO(data)) as w:
            return w.getnchannels(), w.getnframes() / float(w.getframerate() or 1)
    except (wave.Error, EOFError) as exc:
        if "unknown format" in str(exc):
            return None
        raise ValueError(str(exc)) from None


def diagnose(p: Path, detail: str) -> str:
    """Why ffmpeg could not decode ``p``: a damaged file of a known kind, or not a recording."""
    with p.open("rb") as f:
        head = f.read(64)
    kind = container_of(head)
    if kind is None:
        return f"unsupported format, not a recording ffmpeg can read ({detail})"
    return f"corrupt or truncated {kind} file ({detail})"


def wav_truncation(head: bytes, size: int) -> str | None:
    """A reason when a WAV's header promises more audio than the file holds (a cut-off upload).

    Streaming writers leave the sizes at 0 or 0xFFFFFFFF: those are not taken as truncation.
    """
    pos = 12
    while pos + 8 <= len(head):
        cid, n = head[pos : pos + 4], int.from_bytes(head[pos + 4 : pos + 8], "little")
        if cid == b"data":
            have = size - (pos + 8)
            if n in (0, 0xFFFFFFFF, 0x7FFFFFFF) or n <= have:
                return None
            return f"truncated WAV file: header promises {n} bytes of audio, the file holds {max(have, 0)}"
        pos += 8 + n + (n & 1)
    if pos >= size:  # the header ends before any audio chunk
        return "truncated WAV file: no audio data after the header"
    return None


def _ffmpeg_reason(msg: str, path: Path) -> str:
    """The useful last line of ffmpeg's complaint, without the long command echo or the path."""
    lines = [ln.strip().replace(f"{path}: ", "") for ln in msg.splitlines() if ln.strip()]
    for ln in reversed(lines):
        low = ln.lower()
        if any(k in low for k in ("invalid", "error", "could not", "not found", "unknown", "no such", "failed")):
            return ln[-200:]
    return (lines[-1] if lines else "unknown reason")[-200:]


def resample(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    """Band-limited resampling (polyphase via FFT-free linear filter); exact when src == dst.

    Quality is what speech recognition needs: a windowed-sinc low-pass before decimation,
    linear interpolation otherwise. Upsampling 8 -> 16 kHz by interpolation leaves images of the
    voice band above 4 kHz; a proper polyphase windowed-sinc upsampler was measured for issue 14
    and not kept: Whisper's CER on the development calls moved within noise (0.177 -> 0.171 on six
    calls) and the Korean Vosk model (16 kHz) misheard the 8 kHz call fixture with the 4-8 kHz band
    empty (docs/qa-accuracy.md, "Recognition tuning").
    """
    if src == dst or len(x) == 0:
        return x.astype(np.int16, copy=False)
    xf = x.astype(np.float32)
    if dst < src:
        xf = _lowpass(xf, cutoff=0.5 * dst / src)
    n_out = round(len(xf) * dst / src)
    t = np.arange(n_out, dtype=np.float64) * (src / dst)
    y = np.interp(t, np.arange(len(xf)), xf)
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)


def _lowpass(x: np.ndarray, cutoff: float, taps: int = 63) -> np.ndarray:
    n = np.arange(taps) - (taps - 1) / 2
    h = np.sinc(2 * cutoff * n) * np.hamming(taps)
    h /= h.sum()
    return np.convolve(x, h.astype(np.float32), mode="same")


# --- channels ------------------------------------------------------------------------------


def split_call(audio: Audio, caller_channel: int = 0) -> dict[str, np.ndarray]:
    """Two-channel call -> {"customer": ..., "agent": ...}; anything else -> {"unknown": mono}.

    Twilio dual-channel recordings put the caller (parent leg) first; ``caller_channel``
    says otherwise. A "stereo" file whose channels are identical is really mono.
    """
    if caller_channel not in (0, 1):
        raise ValueError(f"caller_channel must be 0 or 1, got {caller_channel}")
    if audio.n_channels == 2 and not np.array_equal(audio.channels[0], audio.channels[1]):
        return {"customer": audio.channels[caller_channel], "agent": audio.channels[1 - caller_channel]}
    return {"unknown": audio.mono()}


# --- μ-law (Twilio Media Streams: 8 kHz μ-law) -------------------------------------------------


def ulaw_to_pcm(data: bytes) -> bytes:
    """G.711 μ-law bytes -> 16-bit little-endian PCM bytes."""
    return audioop.ulaw2lin(data, 2)


def pcm_to_ulaw(data: bytes) -> bytes:
    """16-bit little-endian PCM bytes -> G.711 μ-law bytes."""
    return audioop.lin2ulaw(data, 2)


# --- voice activity ------------------------------------------------------------------------


def speech_regions(
    x: np.ndarray, rate: int, min_silence: float = 1.0, pad: float = 0.3, aggressiveness: int = 2
) -> list[tuple[int, int]]:
    """Sample ranges that contain speech; silences longer than ``min_silence`` s are left out.

    Uses webrtcvad on 30 ms frames (numpy energy when the rate is not one webrtcvad takes).
    Each region is padded by ``pad`` s so word edges are not cut. Cheap: ~1000x real time.
    """
    if len(x) == 0:
        return []
    flags, frame = _vad_flags(x, rate, aggressiveness)
    if not flags.any():
        return []
    gap_frames = max(1, int(min_silence * 1000 / 30))
    padf = int(pad * 1000 / 30)
    idx = np.flatnonzero(flags)
    regions: list[list[int]] = [[int(idx[0]), int(idx[0])]]
    for i in idx[1:]:
        if i - regions[-1][1] > gap_frames:
            regions.append([int(i), int(i)])
        else:
            regions[-1][1] = int(i)
    out: list[tuple[int, int]] = []
    for a, b in regions:
        s = max(0, (a - padf) * frame)
        e = min(len(x), (b + 1 + padf) * frame)
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def _vad_flags(x: np.ndarray, rate: int, aggressiveness: int) -> tuple[np.ndarray, int]:
    frame = rate * 30 // 1000
    n = len(x) // frame
    if n == 0:
        return np.zeros(1, dtype=bool) | (np.abs(x).max() > 500), max(frame, 1)
    frames = x[: n * frame].reshape(n, frame)
    energy = np.sqrt(np.mean(frames.astype(np.float32) ** 2, axis=1))
    loud = energy > 150.0  # ~ -47 dBFS: below this nothing a recognizer could use
    try:
        import webrtcvad
    except ImportError:  # pragma: no cover
        return loud, frame
    if rate not in (8000, 16000, 32000, 48000):
        return loud, frame
    vad = webrtcvad.Vad(aggressiveness)
    buf = frames.astype("<i2")
    flags = np.fromiter((bool(loud[i]) and vad.is_speech(buf[i].tobytes(), rate) for i in range(n)), bool, n)
    return flags, frame
