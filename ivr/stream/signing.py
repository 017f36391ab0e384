"""Who may open a Media Stream, and how our TwiML names one (pure: values in, values out).

Each stream our TwiML names gets its own custom parameters: the mode, a one-time nonce, an expiry
and their HMAC-SHA256 with the CallSid, keyed with the Twilio auth token. Twilio echoes them in
the ``start`` message, where the session checks them (`check_signature`). `StreamAnswers` is what
the webhooks hold in a stream mode: how each answer is rendered (`ivr.twiml.StreamSpec`) and the
fresh parameters every first answer gets.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ivr.twiml import StreamSpec, sign_stream

NONCE_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
SIG_TTL_S = 60  # a stream must say ``start`` this long after our TwiML named it (Twilio: a second or two)
STREAM_PATH = "/ivr/stream"
PARAMETERS = ("mode", "nonce", "exp", "sig")  # the <Parameter>s of a stream, in `stream_parameters`' order


def stream_signature(token: str, call_sid: str, mode: str, nonce: str, expires: int) -> str:
    """The ``sig`` custom parameter: HMAC-SHA256 of "<callSid>:<mode>:<nonce>:<expires>" with the
    Twilio auth token. Only a server holding the token can make it; it names one call, one mode,
    one stream (the nonce is accepted once) and a deadline (unix seconds) for that stream's ``start``.
    """
    msg = f"{call_sid}:{mode}:{nonce}:{expires}"
    return hmac.new(token.encode(), msg.encode(), hashlib.sha256).hexdigest()


def stream_parameters(
    token: str, call_sid: str, mode: str, *, ttl_s: int = SIG_TTL_S, now: float | None = None, nonce: str = ""
) -> dict[str, str]:
    """The ``<Parameter>``s our TwiML gives one stream (Twilio echoes them in ``start.customParameters``:
    a stream URL cannot carry a query string): mode, a fresh nonce, the expiry and their signature."""
    nonce = nonce or secrets.token_urlsafe(18)
    expires = int((time.time() if now is None else now) + ttl_s)
    sig = stream_signature(token, call_sid, mode, nonce, expires)
    return {"mode": mode, "nonce": nonce, "exp": str(expires), "sig": sig}


def check_signature(token: str, call_sid: str, mode: str, params: Mapping[str, Any], now: float) -> str:
    """Why these custom parameters do not open a stream of ``call_sid`` in ``mode``: "auth" (no,
    malformed or wrong signature), "expired" (signed by us, too late); "" when they do."""
    nonce, exp, sig = (str(params.get(k, "")) for k in ("nonce", "exp", "sig"))
    if not token or not NONCE_RE.match(nonce) or not (exp.isascii() and exp.isdigit()) or len(exp) > 12:
        return "auth"
    if not hmac.compare_digest(stream_signature(token, call_sid, mode, nonce, int(exp)), sig):
        return "auth"
    return "expired" if int(exp) < now else ""


def ws_url(http_base: str) -> str:
    """The stream socket's URL on this base (``https://host`` -> ``wss://host/ivr/stream``)."""
    return http_base.rstrip("/").replace("https://", "wss://").replace("http://", "ws://") + STREAM_PATH


def handshake_urls(configured: str, host: str, path: str) -> list[str]:
    """URLs Twilio may have signed a WebSocket handshake for: the stream URL our TwiML names, else
    this request's host as ``wss://`` (behind TLS) or ``ws://`` (local). Twilio's validator also
    tries them with and without the default port."""
    urls = [configured] if configured else []
    if host:
        urls += [f"wss://{host}{path}", f"ws://{host}{path}"]
    return urls


@dataclass(frozen=True)
class StreamAnswers:
    """The webhooks' TwiML in a stream mode (``HOTLINE_STREAM_MODE``).

    Mode "1": every answer listens to keys only (speech goes to our recognizer) and stops the
    stream before a transfer or goodbye; the call's first answer starts the stream. Mode "2": the
    first answer connects the call to the stream, which runs the menu; later answers (after a
    transfer, the survey) are the usual ones.
    """

    mode: str
    token: str
    url: str = ""  # HOTLINE_STREAM_URL, else from HOTLINE_PUBLIC_URL; "" = from the request's host
    ttl_s: int = SIG_TTL_S

    def spec(self, host_url: str, *, opening: bool) -> StreamSpec | None:
        """How to render an answer (``opening``: the call's first); ``host_url``: the request's base."""
        if not opening:
            return StreamSpec(self.mode) if self.mode == "1" else None
        return StreamSpec(self.mode, self.url or ws_url(host_url), PARAMETERS)

    def sign(self, twiml: str, call_sid: str) -> str:
        """A first answer with parameters of its own: each answer, even a retried one, names a new stream."""
        return sign_stream(twiml, stream_parameters(self.token, call_sid, self.mode, ttl_s=self.ttl_s))
