"""Transcript types and their JSON form, the contract between speech and everything above it.

JSON schema (version 1, stable; new optional keys may be added, none removed or renamed)::

    {
      "schema": 1,
      "duration": 12.34,            # seconds of audio
      "engine": "vosk",             # "vosk" | "whisper" | ...
      "model": "vosk-model-small-cn-0.22",
      "language": "zh",
      "redacted": true,             # PII redaction applied before writing
      "utterances": [               # ordered by start time (then end)
        {
          "speaker": "customer",    # "customer" | "agent" | "unknown"
          "start": 0.42, "end": 2.10,
          "text": "我的手机号是[电话]",
          "words": [{"text": "我", "start": 0.42, "end": 0.55, "conf": 0.98}, ...]
        }
      ]
    }

Times are seconds from the start of the recording, rounded to milliseconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

SCHEMA_VERSION = 1
CUSTOMER = "customer"
AGENT = "agent"
UNKNOWN = "unknown"
SPEAKERS = (CUSTOMER, AGENT, UNKNOWN)


def _t(x: float) -> float:
    return round(float(x), 3)


@dataclass(frozen=True)
class Word:
    text: str
    start: float
    end: float
    conf: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "start": _t(self.start), "end": _t(self.end), "conf": round(float(self.conf), 3)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Word:
        return cls(str(d["text"]), float(d["start"]), float(d["end"]), float(d.get("conf", 1.0)))


@dataclass(frozen=True)
class Utterance:
    speaker: str
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "speaker": self.speaker,
            "start": _t(self.start),
            "end": _t(self.end),
            "text": self.text,
            "words": [w.to_dict() for w in self.words],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Utterance:
        words = tuple(Word.from_dict(w) for w in d.get("words", []))
        return cls(str(d["speaker"]), float(d["start"]), float(d["end"]), str(d["text"]), words)

    def with_speaker(self, speaker: str) -> Utterance:
        return replace(self, speaker=speaker)


@dataclass(frozen=True)
class Transcript:
    duration: float
    engine: str
    model: str
    language: str
    utterances: tuple[Utterance, ...] = ()
    redacted: bool = False
    schema: int = field(default=SCHEMA_VERSION)

    @property
    def text(self) -> str:
        """All utterance texts, one per line (for quick looks, not for storage)."""
        return "\n".join(u.text for u in self.utterances)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "duration": _t(self.duration),
            "engine": self.engine,
            "model": self.model,
            "language": self.language,
            "redacted": self.redacted,
            "utterances": [u.to_dict() for u in self.utterances],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Transcript:
        schema = int(d.get("schema", SCHEMA_VERSION))
        if schema > SCHEMA_VERSION:
            raise ValueError(f"transcript schema {schema} is newer than this code understands ({SCHEMA_VERSION})")
        return cls(
            duration=float(d["duration"]),
            engine=str(d["engine"]),
            model=str(d["model"]),
            language=str(d["language"]),
            utterances=tuple(Utterance.from_dict(u) for u in d["utterances"]),
            redacted=bool(d.get("redacted", False)),
            schema=schema,
        )

    def to_json(self, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    @classmethod
    def from_json(cls, text: str) -> Transcript:
        return cls.from_dict(json.loads(text))
