"""Prompt audio for Mode 2 streams: real TTS (espeak-ng), recordings, the cache, and what is never cached."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.ivr.helpers import MENU_PATH, ROOT


def test_prompt_audio_rendered_once_and_cached(tmp_path: Path) -> None:
    from ivr.prompts_audio import PromptAudio

    p = PromptAudio(tmp_path / "cache")
    text = "您好，欢迎致电京东客服热线。"
    audio = p.audio(text)
    assert 8000 < len(audio) < 8000 * 10  # seconds of 8 kHz μ-law, one byte a sample
    assert len(set(audio)) > 50  # speech, not silence
    assert p.rendered == 1 and list((tmp_path / "cache").glob("*.ul"))
    assert p.audio(text) == audio and p.rendered == 1
    again = PromptAudio(tmp_path / "cache")  # another process: the file cache
    assert again.audio(text) == audio and again.rendered == 0
    rec = tmp_path / "recorded"
    rec.mkdir()
    (rec / f"{p.key(text)}.ul").write_bytes(b"")  # unreadable "recording": ffmpeg error is reported
    from ivr.prompts_audio import PromptAudioError

    with pytest.raises(PromptAudioError):
        PromptAudio(tmp_path / "c2", recorded_dir=rec).audio(text)
    broken = PromptAudio(tmp_path / "c3", command="false {text}")
    with pytest.raises(PromptAudioError, match="'false'"):
        broken.audio(text)
    assert not re.search(text, str(PromptAudioError))


def test_recorded_prompt_replaces_the_tts_one(tmp_path: Path) -> None:
    from ivr.prompts_audio import PromptAudio, key, to_ulaw

    text = "您好，欢迎致电京东客服热线。"
    rec = tmp_path / "recorded"
    rec.mkdir()
    recording = (ROOT / "audio_fixtures" / "ko_delivery_16k.wav").read_bytes()
    (rec / f"{key(text, 'false {text}')}.wav").write_bytes(recording)
    # the TTS command would fail: the recording is used, converted to 8 kHz μ-law, nothing rendered
    p = PromptAudio(tmp_path / "cache", command="false {text}", recorded_dir=rec)
    audio = p.audio(text)
    assert audio == to_ulaw(recording) and p.rendered == 0
    assert abs(len(audio) - len(recording[44:]) // 4) < 400  # 16 kHz 16-bit -> 8 kHz 8-bit: a quarter
    with pytest.raises(Exception, match="'false'"):
        p.audio("另一句提示。")  # no recording for this one: the (broken) TTS is asked


def test_the_tts_command_is_configurable(tmp_path: Path) -> None:
    from ivr.prompts_audio import PromptAudio

    text = "您好，欢迎致电京东客服热线。"
    default = PromptAudio(tmp_path / "cache")
    slow = PromptAudio(tmp_path / "cache", command="espeak-ng -v cmn-latn-pinyin -s 120 --stdout {text}")
    assert default.key(text) != slow.key(text)  # a changed voice renders again, into the same cache
    a, b = default.audio(text), slow.audio(text)
    assert default.rendered == 1 and slow.rendered == 1
    assert len(b) > len(a) * 1.4  # 120 words a minute instead of 220: the command really ran
    assert len(list((tmp_path / "cache").glob("*.ul"))) == 2


def test_read_backs_of_caller_data_are_never_cached(tmp_path: Path) -> None:
    from ivr.caller_text import spell_digits
    from ivr.flow import Flow
    from ivr.menu import load_menu
    from ivr.prompts_audio import PromptAudio, prompt_texts

    flow = Flow(load_menu(MENU_PATH))
    texts = prompt_texts(flow)
    assert flow.msg("welcome") in texts and flow.menu.node("logistics").short in texts
    assert flow.msg("confirm", label=flow.menu.node("payment.refund").label) in texts  # asked at call time
    assert not [t for t in texts if "{" in t]
    p = PromptAudio(tmp_path / "cache")
    p.remember(texts[:1])
    readback = flow.msg("readback", digits=spell_digits("20261123"))
    assert len(p.audio(readback)) > 8000 and p.audio(texts[0]) and p.audio(readback)
    assert len(list((tmp_path / "cache").glob("*.ul"))) == 1  # the welcome only: no order number on disk
    assert p.rendered == 3  # the read-back was rendered each time it was asked for


def test_prompt_keys_are_listed_for_recordings(capsys: pytest.CaptureFixture[str]) -> None:
    from ivr.prompts_audio import DEFAULT_TTS, key, main

    assert main([str(MENU_PATH)]) == 0
    lines = capsys.readouterr().out.splitlines()
    welcome = "您好，欢迎致电京东客服热线。"
    assert f"{key(welcome, DEFAULT_TTS)}.wav\t{welcome}" in lines
    assert len(lines) > 50 and all(line.split("\t")[0].endswith(".wav") for line in lines)
