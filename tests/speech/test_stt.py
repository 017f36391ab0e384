"""The one recognition protocol: every engine is a Transcriber, says what it can do, and keeps it.

Vosk runs on the real Korean model; Whisper's capabilities are checked on its class (its model
is loaded in test_whisper); the fake engine the other packages' tests use is checked here too.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from speech.audio import pcm_to_ulaw
from speech.engines.vosk import VoskTranscriber
from speech.engines.whisper import WhisperTranscriber
from speech.stream import StreamingRecognizer
from speech.stt import Capabilities, SpeechStream, Transcriber, Unsupported
from speech.testing import FakeTranscriber, Said
from tests.conftest import ROOT

SILENCE_1S = np.zeros(8000, dtype=np.int16).tobytes()


def test_the_engines_declare_what_they_can_do(vosk_free: Any) -> None:
    assert isinstance(vosk_free, Transcriber) and isinstance(vosk_free.stream(8000), SpeechStream)
    assert vosk_free.capabilities == Capabilities(
        streaming=True, interim_results=True, grammar=True, word_times=True, word_confidence=True
    )
    whisper = WhisperTranscriber.__new__(WhisperTranscriber)  # no model needed for what it declares
    assert not whisper.capabilities.streaming and not whisper.capabilities.grammar
    with pytest.raises(Unsupported, match="no streaming"):
        whisper.stream(8000)
    assert whisper.missing_words(["退款"]) is None
    assert isinstance(FakeTranscriber(), Transcriber)


def test_a_caller_checks_the_capability_not_the_class() -> None:
    batch_only = FakeTranscriber(capabilities=Capabilities(False, False, False, True, True))
    assert not batch_only.capabilities.streaming
    with pytest.raises(Unsupported):
        StreamingRecognizer(batch_only, 8000)


def test_vosk_looks_up_grammar_words(vosk_free: Any) -> None:
    assert vosk_free.missing_words(["배송 조회", "상담원"]) == []
    assert vosk_free.missing_words(["배송", "退款", "会员退款"]) == ["退", "款", "会", "员"]


# ------------------------------------------------------------------ Vosk's grammar switch
SWITCH = textwrap.dedent(
    """
    import json
    from speech.audio import decode
    from speech.engines.vosk import VoskTranscriber
    engine = VoskTranscriber({model!r}, language="ko", sample_rate=8000, vad=False)
    audio = decode({wav!r}, rate=8000).channels[0].tobytes()
    stream = engine.stream(8000, ["배송 조회", "상담원 연결"])
    heard = stream.accept(audio)  # the recognizer has been fed: SetGrammar now would abort
    stream.set_grammar(["배송 조회"])
    after = stream.accept(audio) + stream.finish()
    print(json.dumps([[r.kind for r in heard], [[r.kind, r.text, r.start] for r in after if r.is_final]]))
    """
)


def test_a_grammar_switch_after_audio_keeps_the_process_alive(ko_model: Path) -> None:
    """Vosk aborts the process (KaldiFatalError) on SetGrammar after audio: the engine's stream
    switches grammar on a new recognizer instead, keeping the stream's clock. In a subprocess,
    so a regression fails this test instead of killing the test run."""
    code = SWITCH.format(model=str(ko_model), wav=str(ROOT / "audio_fixtures" / "ko_delivery_16k.wav"))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-500:]
    heard, finals = json.loads(done.stdout.strip().splitlines()[-1])
    assert heard == ["partial"]  # the first "배송 조회" was pending when the grammar changed: dropped
    assert len(finals) == 1 and finals[0][:2] == ["final", "배송 조회"]
    assert finals[0][2] > 2.2  # the second copy, on the stream's clock (the first is 2.3 s long)


def test_switching_to_free_speech_and_back(vosk_free: Any) -> None:
    stream = vosk_free.stream(8000, ["배송 조회"])
    stream.accept(SILENCE_1S)
    stream.set_grammar(None)
    stream.accept(SILENCE_1S)
    stream.set_grammar(["상담원 연결"])
    assert stream.accept(SILENCE_1S) == [] and stream.finish() == []


# ------------------------------------------------------------------ the fake engine
SCRIPT = [Said("배송 조회", 1.0, 1.6, 0.8), Said("상담원", 3.0, 3.4)]


def test_the_fake_hears_its_script_on_the_clock_of_the_audio() -> None:
    fake = FakeTranscriber(SCRIPT)
    rec = StreamingRecognizer(fake, 8000)
    out = []
    for _ in range(20):  # 4 s of 200 ms μ-law chunks
        out += rec.feed_mulaw(pcm_to_ulaw(np.zeros(1600, dtype=np.int16).tobytes()))
    assert [(r.kind, r.text) for r in out] == [
        ("partial", "배송 조회"),
        ("final", "배송 조회"),
        ("partial", "상담원"),
        ("final", "상담원"),
    ]
    assert out[1].confidence == 0.8 and out[1].start == 1.0 and out[1].end == pytest.approx(1.6)
    assert rec.seconds_fed == pytest.approx(4.0) and rec.close() == []
    with pytest.raises(RuntimeError):
        rec.feed_pcm(SILENCE_1S)


def test_the_fake_keeps_to_its_grammar_and_drops_what_a_switch_cuts() -> None:
    fake = FakeTranscriber(SCRIPT)
    stream = fake.stream(8000, ["상담원"])
    assert stream.accept(SILENCE_1S * 2) == []  # "배송 조회" is not in the grammar: not heard
    stream = fake.stream(8000, ["배송 조회", "상담원"])
    stream.accept(np.zeros(10400, dtype=np.int16).tobytes())  # 1.3 s: "배송 조회" begun
    stream.set_grammar(["배송 조회", "상담원"])
    assert [r.text for r in stream.accept(SILENCE_1S * 3) if r.is_final] == ["상담원"]
    assert fake.streams[-1].grammars == [("배송 조회", "상담원"), ("배송 조회", "상담원")]
    assert fake.transcribe_pcm(np.zeros(8000 * 2, dtype=np.int16), 8000)[0].text == "배송 조회"
    assert FakeTranscriber(vocabulary=["배송"]).missing_words(["배송 조회"]) == ["조회"]


def test_the_vosk_engine_is_the_only_module_that_imports_vosk() -> None:
    def imports_vosk(path: Path) -> bool:
        lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
        return any(line == "import vosk" or line.startswith("from vosk ") for line in lines)

    pkgs = ("speech", "ivr", "qa", "store", "hotline")
    importers = [p.relative_to(ROOT).as_posix() for pkg in pkgs for p in (ROOT / pkg).rglob("*.py") if imports_vosk(p)]
    assert importers == ["speech/engines/vosk.py"]
    assert VoskTranscriber.capabilities.grammar
