"""faster-whisper on real Mandarin recordings (../shared/speech/zh) with CER, and a two-channel call."""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from speech.audio import decode
from speech.evaluate import cer
from speech.transcribe import transcribe_file
from tests.conftest import need_shared
from zhtext.normalize import cer_form

pytestmark = [pytest.mark.shared, pytest.mark.slow]
UTTERANCES = [  # a few short ones: the whole module runs in well under a minute
    "aishell1_BAC009S0724W0123.wav",
    "aishellsample_BAC009S0150W0211.wav",
    "aishellsample_BAC009S0150W0337.wav",
    "aishell2_IT0011W0001.wav",
    "aishellsample_BAC009S0252W0325.wav",
]


def references(zh: Path) -> dict[str, str]:
    out = {}
    for line in (zh / "transcripts.tsv").read_text(encoding="utf-8").splitlines():
        name, _, text = line.partition("\t")
        out[name] = text
    return out


@pytest.fixture(scope="module")
def zh() -> Path:
    return need_shared("speech", "zh")


@pytest.fixture(scope="module")
def whisper(zh: Path) -> Any:
    pytest.importorskip("faster_whisper")
    model = need_shared("models", "whisper-base-ct2")
    from speech.transcribe import build_transcriber

    return build_transcriber("whisper", model, language="zh", threads=2)


def test_cer_on_real_mandarin(zh: Path, whisper: Any) -> None:
    refs = references(zh)
    pairs = []
    for name in UTTERANCES:
        t = transcribe_file(zh / name, whisper)
        assert t.engine == "whisper" and t.language == "zh"
        assert all(u.speaker == "unknown" for u in t.utterances)
        hyp = "".join(u.text for u in t.utterances)
        assert " " not in hyp.strip()  # joined Chinese
        pairs.append((refs[name], hyp))
        for u in t.utterances:
            assert 0 <= u.start <= u.end <= t.duration + 0.1
    score = cer(pairs)
    assert score <= 0.30, f"CER {score:.3f} on {len(pairs)} utterances"


def _write_stereo(path: Path, left: np.ndarray, right: np.ndarray, rate: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.stack([left, right], axis=1).astype("<i2").tobytes())


def test_two_channel_call_is_a_dialogue_in_time_order(zh: Path, whisper: Any, tmp_path: Path) -> None:
    """Customer speaks first on channel 0, the agent answers on channel 1 (8 kHz, like Twilio)."""
    a = decode(zh / "aishell2_IT0011W0001.wav", rate=8000).channels[0]  # 换一首歌
    b = decode(zh / "aishellsample_BAC009S0150W0337.wav", rate=8000).channels[0]  # 自动驾驶汽车的实现
    gap = int(0.8 * 8000)
    total = len(a) + gap + len(b)
    left = np.zeros(total, dtype=np.int16)
    right = np.zeros(total, dtype=np.int16)
    left[: len(a)] = a
    right[len(a) + gap :] = b
    call = tmp_path / "call.wav"
    _write_stereo(call, left, right, 8000)
    t = transcribe_file(call, whisper)
    speakers = [u.speaker for u in t.utterances]
    assert speakers[0] == "customer" and speakers[-1] == "agent"
    assert [u.start for u in t.utterances] == sorted(u.start for u in t.utterances)
    customer = cer_form("".join(u.text for u in t.utterances if u.speaker == "customer"))
    agent = cer_form("".join(u.text for u in t.utterances if u.speaker == "agent"))
    assert cer([("换一首歌", customer)]) <= 0.5
    assert cer([("自动驾驶汽车的实现", agent)]) <= 0.5
    assert cer([("自动驾驶汽车的实现", customer)]) > 0.8 and cer([("换一首歌", agent)]) > 0.8  # not swapped
    first_agent = next(u for u in t.utterances if u.speaker == "agent")
    assert first_agent.start >= len(a) / 8000  # the agent's times are on the call's clock


def test_cer_helpers() -> None:
    assert cer([("这是测试ok", "這是 測試，OK！")]) == 0.0  # both sides in zhtext.normalize.cer_form
    assert cer([("换一首歌", "换一首歌。")]) == 0.0
    assert cer([("abcd", "abed")]) == 0.25
    assert cer([]) == 0.0


def test_cli_whisper_fast_settings(zh: Path, whisper: Any, tmp_path: Path) -> None:
    """`--beam 1 --compute-type int8` (the fast path; the defaults are beam 5, float32) runs end to end."""
    import json

    from click.testing import CliRunner

    from hotline.cli import cli

    name = UTTERANCES[0]
    model = need_shared("models", "whisper-base-ct2")
    args = ["transcribe", str(zh / name), "--engine", "whisper", "--model", str(model), "--beam", "1"]
    args += ["--compute-type", "int8"]
    res = CliRunner().invoke(cli, [*args, "--jobs", "1", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / name.replace(".wav", ".json")).read_text(encoding="utf-8"))
    text = cer_form("".join(u["text"] for u in data["utterances"]))
    assert cer([(references(zh)[name], text)]) <= 0.3


def test_default_options_invent_nothing_on_silence_or_line_noise(zh: Path) -> None:
    """Nothing said, nothing written: digital silence and a μ-law telephone line (band noise + hum) at
    8 kHz, through the engine built with the default settings (the options `hotline transcribe` uses)."""
    pytest.importorskip("faster_whisper")
    from hotline.settings import Settings
    from speech.audio import pcm_to_ulaw, ulaw_to_pcm
    from speech.transcribe import build_transcriber

    model = need_shared("models", "whisper-base-ct2")
    engine = build_transcriber("whisper", model, language="zh", threads=2, **dict(Settings().whisper_options()))
    rng = np.random.default_rng(7)
    n = 8000 * 20
    spectrum = np.fft.rfft(rng.normal(0, 1, n))
    freqs = np.fft.rfftfreq(n, 1 / 8000)
    band = np.fft.irfft(spectrum * ((freqs > 300) & (freqs < 3400)), n)
    line = (band / band.std() * 200 + 60 * np.sin(2 * np.pi * 50 * np.arange(n) / 8000)).astype(np.int16)
    line = np.frombuffer(ulaw_to_pcm(pcm_to_ulaw(line.tobytes())), dtype=np.int16)
    for name, pcm in (("silence", np.zeros(n, dtype=np.int16)), ("line noise", line)):
        text = "".join(u.text for u in engine.transcribe_pcm(pcm, 8000))
        assert text == "", f"{name}: invented {text!r}"
