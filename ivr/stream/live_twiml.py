"""Live calls in TwiML: a transfer answer also starts a signed both-tracks stream of the call.

`start_live_stream` adds ``<Start><Stream track="both_tracks">`` before the ``<Dial>`` or
``<Enqueue>`` of a transfer answer, with the live mode's signed parameters (call, "live", a
one-time nonce, an expiry: the same `ivr.stream.signing` as the menu streams) and what the board
and the assist page show: the menu node the caller chose (the request's topic) and the queue.
Inbound is the caller, outbound what the caller hears: the agent. Applied to each response as
sent (fresh signature every time), so the webhooks' stored answers stay unsigned.
"""

from __future__ import annotations

import re
from xml.sax.saxutils import quoteattr

from ivr.stream.signing import stream_parameters

LIVE = "live"
_BRIDGE = re.compile(r"<(Dial|Enqueue)\b")
_NODE = re.compile(r"/ivr/after\?[^\"']*?\bn=([A-Za-z0-9_-]{1,32})")
_QUEUE = re.compile(r"<Enqueue[^>]*>([^<]{1,64})</Enqueue>")


def start_live_stream(twiml: str, call_sid: str, token: str, url: str, *, ttl_s: int = 60) -> str:
    """``twiml`` with a live stream started before its bridge; unchanged when it bridges nothing,
    already streams live, or when there is no stream URL or token to sign with."""
    m = _BRIDGE.search(twiml)
    if m is None or not url or not token or not call_sid or 'value="live"' in twiml:
        return twiml
    params = stream_parameters(token, call_sid, LIVE, ttl_s=ttl_s)
    node = _NODE.search(twiml)
    queue = _QUEUE.search(twiml)
    if node:
        params["topic"] = node.group(1)
    if queue:
        params["team"] = queue.group(1).strip()
    if "录音" in twiml[: m.start()]:
        params["consent"] = "1"  # the recording notice was said before the bridge
    inner = "".join(f"<Parameter name={quoteattr(k)} value={quoteattr(v)} />" for k, v in params.items())
    start = f'<Start><Stream url={quoteattr(url)} track="both_tracks">{inner}</Stream></Start>'
    return twiml[: m.start()] + start + twiml[m.start() :]
