"""Live calls in TwiML: a transfer answer also starts a signed both-tracks stream of the call.

`ivr.twiml.render` puts ``<Start><Stream track="both_tracks">`` before the ``<Dial>`` or
``<Enqueue>`` of a transfer answer when given a `LiveSpec`, with the live mode's signed
parameters rendered empty; `LiveAnswers.sign` fills them for each response as sent (the call, "live",
a one-time nonce, an expiry: the same `ivr.stream.signing` as the menu streams), so the webhooks'
stored answers stay unsigned and a retried answer names a new stream. Inbound is the caller,
outbound what the caller hears: the agent.
"""

from __future__ import annotations

from dataclasses import dataclass

from ivr.stream.signing import SIG_TTL_S, stream_parameters, ws_url
from ivr.twiml import LIVE_TRACKS, LiveSpec, sign_stream

LIVE = "live"


@dataclass(frozen=True)
class LiveAnswers:
    """The live mode as the webhooks see it (``HOTLINE_LIVE_CALLS``)."""

    token: str
    url: str = ""  # the stream URL; "" = from the request's host
    ttl_s: int = SIG_TTL_S

    def spec(self, host_url: str) -> LiveSpec:
        return LiveSpec(self.url or ws_url(host_url))

    def sign(self, twiml: str, call_sid: str) -> str:
        """The answer as sent: a live stream it starts gets parameters of its own (unchanged otherwise)."""
        if LIVE_TRACKS not in twiml or not call_sid or not self.token:
            return twiml
        return sign_stream(twiml, stream_parameters(self.token, call_sid, LIVE, ttl_s=self.ttl_s))
