"""The streams' ties to the outside: the speech engine they listen with, Twilio's REST API they redirect with.

Streams use speech's one protocol (`speech.stt.Transcriber`) directly: `load_engine` builds the
configured engine at Twilio's 8 kHz, and each stream's worker opens a
`speech.stream.StreamingRecognizer` on it (μ-law framing). `TwilioRedirector` moves a live call
to one of our URLs.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from speech.stt import Transcriber

log = logging.getLogger(__name__)


def load_engine(model_spec: str, models_dir: str | Path) -> Transcriber:
    """The Vosk engine for streams: 8 kHz (Twilio's μ-law), no VAD (the caller's audio is live).

    One model per process (speech's cache), shared by every stream's recognizer.
    """
    from speech.models import find_model
    from speech.transcribe import build_transcriber

    return build_transcriber("vosk", find_model(model_spec, Path(models_dir)), sample_rate=8000, vad=False)


class TwilioRedirector:
    """Redirect a live call with Twilio's REST API; URLs are made absolute with the public base.

    ``client``: a ready ``twilio.rest.Client`` (or anything with ``calls(sid).update(...)``);
    by default one is built on first use from the account SID and the auth token.
    """

    def __init__(self, account_sid: str, token: str, public_url: str, client: Any = None) -> None:
        self.account_sid, self._token, self.public_url = account_sid, token, public_url.rstrip("/")
        self._client: Any = client

    def __repr__(self) -> str:  # never the token
        return f"TwilioRedirector(account_sid={self.account_sid!r}, public_url={self.public_url!r})"

    def redirect(self, call_sid: str, url: str) -> None:
        if not self.account_sid or not self.public_url:
            log.error(
                "stream: call %s cannot be redirected: set HOTLINE_TWILIO_ACCOUNT_SID and HOTLINE_PUBLIC_URL", call_sid
            )
            return
        if self._client is None:
            from twilio.rest import Client

            self._client = Client(self.account_sid, self._token)
        self._client.calls(call_sid).update(url=self.public_url + url, method="POST")
