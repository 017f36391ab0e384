"""Decoding every fixture format with the real ffmpeg, channel split, μ-law, VAD, bad files."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from speech import audio
from speech.audio import Audio, AudioError, decode, pcm_to_ulaw, speech_regions, split_call, ulaw_to_pcm
from tests.speech.conftest import FIXTURES

SPEECH_FILES = [
    ("ko_delivery_16k.wav", 1),
    ("ko_delivery_8k_mulaw.wav", 1),
    ("ko_delivery_8k_alaw.wav", 1),
    ("ko_delivery_8k.ul", 1),
    ("ko_delivery_44k.mp3", 1),
    ("ko_delivery_48k.ogg", 1),
    ("ko_delivery_16k.flac", 1),
    ("ko_delivery_44k_stereo.wav", 2),
    ("ko_call_8k_stereo.wav", 2),
    ("zh_greeting_16k.wav", 1),
]


@pytest.mark.parametrize(("name", "channels"), SPEECH_FILES)
@pytest.mark.parametrize("rate", [8000, 16000])
def test_decodes_each_format(name: str, channels: int, rate: int) -> None:
    a = decode(FIXTURES / name, rate=rate)
    assert a.rate == rate
    assert a.n_channels == channels
    assert all(c.dtype == np.int16 and len(c) == len(a.channels[0]) for c in a.channels)
    assert 1.5 < a.duration < 6.0
    assert int(np.abs(a.mono()).max()) > 1000  # there is speech in it, not silence


def test_same_speech_in_every_format_is_aligned() -> None:
    """All delivery variants come from one source: lengths agree within MP3 padding."""
    ref = decode(FIXTURES / "ko_delivery_16k.wav")
    for name, _ in SPEECH_FILES[:8]:
        a = decode(FIXTURES / name)
        assert abs(a.duration - ref.duration) < 0.08, name


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("empty.wav", "empty file"),
        ("corrupt.mp3", "cannot decode: unsupported format"),  # random bytes
        ("truncated.wav", "truncated WAV file"),  # cut inside the header
        ("not_audio.wav", "cannot decode: unsupported format"),  # a text file
        ("missing.wav", "no such file"),
    ],
)
def test_bad_files_raise_one_error_naming_file_and_reason(name: str, reason: str) -> None:
    with pytest.raises(AudioError) as err:
        decode(FIXTURES / name)
    assert name in str(err.value)
    assert err.value.reason.startswith(reason)
    assert err.value.path.endswith(name)
    assert pickle.loads(pickle.dumps(err.value)).reason == err.value.reason  # crosses worker processes


@pytest.mark.parametrize(
    ("source", "cut", "name", "reason"),
    [
        ("ko_delivery_16k.wav", 0.5, "cut.wav", "truncated WAV file: header promises 73384 bytes"),
        ("ko_delivery_48k.ogg", 0.25, "cut.ogg", "cannot decode: corrupt or truncated OGG file"),
        ("ko_delivery_16k.flac", 0.003, "cut.flac", "cannot decode: corrupt or truncated FLAC file"),
    ],
)
def test_truncated_recordings(tmp_path: Path, source: str, cut: float, name: str, reason: str) -> None:
    data = (FIXTURES / source).read_bytes()
    f = tmp_path / name
    f.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(AudioError) as err:
        decode(f)
    assert err.value.reason.startswith(reason), err.value.reason


def test_unsupported_file_given_by_name(tmp_path: Path) -> None:
    f = tmp_path / "notes.txt"
    f.write_text("订单 123\n" * 200, encoding="utf-8")
    with pytest.raises(AudioError, match=r"notes\.txt: cannot decode: unsupported format"):
        decode(f)


def test_streaming_wav_header_sizes_are_not_truncation(tmp_path: Path) -> None:
    """Writers that stream leave the data size at 0xFFFFFFFF; the audio is all there."""
    data = bytearray((FIXTURES / "ko_delivery_16k.wav").read_bytes())
    assert data[36:40] == b"data"
    data[40:44] = (0xFFFFFFFF).to_bytes(4, "little")
    f = tmp_path / "streamed.wav"
    f.write_bytes(bytes(data))
    assert audio.wav_truncation(bytes(data[:4096]), len(data)) is None
    assert decode(f).duration == pytest.approx(decode(FIXTURES / "ko_delivery_16k.wav").duration, abs=0.01)


def test_header_only_wav_is_no_audio(tmp_path: Path) -> None:
    head = (FIXTURES / "ko_delivery_16k.wav").read_bytes()[:44]
    f = tmp_path / "header_only.wav"
    f.write_bytes(head)
    with pytest.raises(AudioError, match=r"header_only\.wav"):
        decode(f)


def test_silence_decodes_and_has_no_speech_regions() -> None:
    a = decode(FIXTURES / "silence_8k.wav", rate=8000)
    assert a.duration == pytest.approx(3.0, abs=0.01)
    assert speech_regions(a.channels[0], 8000) == []


def test_vad_skips_long_gap_only() -> None:
    a = decode(FIXTURES / "ko_gap_8k.wav", rate=16000)
    regions = [(s / 16000, e / 16000) for s, e in speech_regions(a.channels[0], 16000, min_silence=1.0)]
    assert len(regions) == 2
    assert regions[0][0] < 0.5 < regions[0][1] < 3.0
    assert 5.0 < regions[1][0] < 6.5 < regions[1][1]


def test_split_call_caller_channel_setting() -> None:
    a = decode(FIXTURES / "ko_call_8k_stereo.wav", rate=8000)
    parts = split_call(a)
    assert set(parts) == {"customer", "agent"}
    assert parts["customer"] is a.channels[0]
    swapped = split_call(a, caller_channel=1)
    assert swapped["customer"] is a.channels[1]
    with pytest.raises(ValueError):
        split_call(a, caller_channel=2)


def test_identical_stereo_channels_are_mono() -> None:
    a = decode(FIXTURES / "ko_delivery_44k_stereo.wav")
    assert list(split_call(a)) == ["unknown"]
    mono = Audio(8000, (np.zeros(10, dtype=np.int16),))
    assert list(split_call(mono)) == ["unknown"]


def test_mulaw_roundtrip() -> None:
    rng = np.random.default_rng(1)
    pcm = rng.integers(-32768, 32767, 8000, dtype=np.int16).tobytes()
    mu = pcm_to_ulaw(pcm)
    assert len(mu) == 8000
    back = np.frombuffer(ulaw_to_pcm(mu), dtype=np.int16).astype(np.int32)
    orig = np.frombuffer(pcm, dtype=np.int16).astype(np.int32)
    assert np.all(np.abs(back - orig) <= np.maximum(np.abs(orig) // 16, 8) + 4)  # G.711 step size


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", ("WAV", "wav")),
        (b"RIFF\x00\x00\x00\x00AVI LIST", None),  # a RIFF file that is not a WAV
        (b"ID3\x04", ("MP3", "mp3")),
        (b"\xff\xfb\x90\x00", ("MP3", "mp3")),  # a bare MPEG layer III frame
        (b"\xff\xf1\x50\x80", ("AAC", "aac")),  # ADTS: layer bits 00
        (b"\x00\x00\x00\x20ftypM4A ", ("MP4/M4A", "m4a")),
        (b"<html><body>", None),
    ],
)
def test_sniff_names_the_container_and_the_extension(head: bytes, kind: tuple[str, str] | None) -> None:
    assert audio.sniff(head) == kind
    assert audio.audio_ext(head) == (kind[1] if kind else None)


def test_wav_info_reads_the_header_only() -> None:
    import io
    import wave

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00" * 4 * 4000)
    assert audio.wav_info(buf.getvalue()) == (2, 0.5)
    assert audio.wav_info(b"ID3\x04" + b"\x00" * 60) is None
    with pytest.raises(ValueError):
        audio.wav_info(b"RIFF\x00\x00\x00\x00WAVEfmt " + b"\x01" * 60)


def test_resample_keeps_duration() -> None:
    x = (np.sin(np.arange(8000) * 2 * np.pi * 440 / 8000) * 10000).astype(np.int16)
    up = audio.resample(x, 8000, 16000)
    assert len(up) == 16000
    down = audio.resample(up, 16000, 8000)
    assert len(down) == 8000
    assert np.corrcoef(down[100:-100], x[100:-100])[0, 1] > 0.99


def _data_chunk(raw: bytes) -> bytes:
    i = raw.index(b"data")
    return raw[i + 8 : i + 8 + int.from_bytes(raw[i + 4 : i + 8], "little")]


@pytest.mark.parametrize(
    ("name", "expand"), [("ko_delivery_8k_mulaw.wav", "ulaw"), ("ko_delivery_8k_alaw.wav", "alaw")]
)
def test_g711_wav_expands_to_linear_pcm_not_8_bit(name: str, expand: str) -> None:
    """pydub would hand ffmpeg's pcm_u8 (steps of 256) back: quiet speech must keep its fine levels."""
    raw = (FIXTURES / name).read_bytes()
    want = np.frombuffer(
        audio.audioop.ulaw2lin(_data_chunk(raw), 2)
        if expand == "ulaw"
        else audio.audioop.alaw2lin(_data_chunk(raw), 2),
        dtype=np.int16,
    )
    got = decode(FIXTURES / name, rate=8000).channels[0]
    assert np.array_equal(got, want)
    quiet = got[np.abs(got) < 256]
    assert len(np.unique(quiet)) > 20


def test_g711_stereo_wav_keeps_both_channels() -> None:
    raw = (FIXTURES / "ko_live_call_8k.wav").read_bytes()
    both = np.frombuffer(ulaw_to_pcm(_data_chunk(raw)), dtype=np.int16)
    a = decode(FIXTURES / "ko_live_call_8k.wav", rate=8000)
    assert a.n_channels == 2
    assert np.array_equal(a.channels[0], both[0::2]) and np.array_equal(a.channels[1], both[1::2])


def test_wav_format_tag_reads_the_header_only() -> None:
    assert audio.wav_format_tag((FIXTURES / "ko_delivery_8k_mulaw.wav").read_bytes()[:4096]) == 7
    assert audio.wav_format_tag((FIXTURES / "ko_delivery_8k_alaw.wav").read_bytes()[:4096]) == 6
    assert audio.wav_format_tag((FIXTURES / "ko_delivery_16k.wav").read_bytes()[:4096]) == 1
    fmt = (0xFFFE).to_bytes(2, "little") + bytes(22) + (7).to_bytes(2, "little") + bytes(14)  # extensible, μ-law
    head = b"RIFF\x00\x00\x00\x00WAVEfmt " + len(fmt).to_bytes(4, "little") + fmt
    assert audio.wav_format_tag(head) == 7
    assert audio.wav_format_tag(b"RIFF\x00\x00\x00\x00WAVE") is None
