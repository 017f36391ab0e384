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
class Listen:
    """A live-call stream started (both tracks of a bridged call): open its listener, or close the
    stream at once ("live-full") when the box already carries all the live calls it can."""

    call_sid: str
    params: Mapping[str, str]


@dataclass(frozen=True)
class Hear:
    """Live calls: one track's μ-law audio at stream time ``at_ms`` ("inbound": the caller,
    "outbound": the agent), in order, never mixed with the other track."""

    track: str
    audio: bytes
    at_ms: int


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
    "format", "track", "malformed", "live-full"."""

    reason: str


@dataclass(frozen=True)
class Ignored:
    """A message that was not acted on (malformed, wrong track, out of order): counted and logged."""

    reason: str


Action = Send | Recognize | Listen | Hear | SetGrammar | Play | Redirect | StepTaken | Close | Ignored
