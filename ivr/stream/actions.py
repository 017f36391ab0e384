"""What a Media Stream session decides, as values: the vocabulary between the session and the hub.

The session (`ivr.stream.session`) returns these for each message; the hub's worker carries them
out in order (send on the socket, feed the recognizer, play prompts, store a step, redirect the
call). Like pipecat's frames, they let the protocol be tested without sockets or threads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ivr.flow_types import Step


@dataclass(frozen=True)
class Send:
    """A message to Twilio on this socket (bidirectional streams: media, mark, clear)."""

    message: Mapping[str, Any]


@dataclass(frozen=True)
class Recognize:
    """Caller audio (μ-law bytes) for this stream's recognizer, in order, never dropped."""

    audio: bytes


@dataclass(frozen=True)
class SetGrammar:
    phrases: tuple[str, ...]


@dataclass(frozen=True)
class Play:
    """Mode 2: say these texts as audio, then send mark ``mark`` (it comes back when played)."""

    texts: tuple[str, ...]
    mark: str


@dataclass(frozen=True)
class Redirect:
    """Move the live call to this URL (relative to the public base) via Twilio's REST API."""

    call_sid: str
    url: str


@dataclass(frozen=True)
class StepTaken:
    """Mode 2: the flow took a step; the web layer stores state and events (before a Redirect)."""

    call_sid: str
    step: Step


@dataclass(frozen=True)
class Close:
    """End this stream: ``reason`` is "stop", "auth", "expired", "mode", "replay", "busy", "no-start",
    "format", "track", "malformed"."""

    reason: str


@dataclass(frozen=True)
class Ignored:
    """A message that was not acted on (malformed, wrong track, out of order): counted and logged."""

    reason: str


Action = Send | Recognize | SetGrammar | Play | Redirect | StepTaken | Close | Ignored
