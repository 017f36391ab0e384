"""Twilio's request signature (X-Twilio-Signature), checked before any webhook does anything.

`refuse_unsigned` is the ``before_request`` hook of every blueprint Twilio posts to (the IVR's
webhooks and the streams' redirect targets): with signatures on, a request without a valid
signature for the URL Twilio called (the public URL behind a proxy) gets a 403.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from typing import Any, Protocol

from flask import Response, current_app, request
from twilio.request_validator import RequestValidator

from ivr.auth import public_request_url
from ivr.config import IVR_EXTENSION

log = logging.getLogger(__name__)


class Signatures(Protocol):
    """What the check needs of the app's IVR context (``ivr.webhooks.IvrContext``)."""

    validator: RequestValidator
    public_url: str
    validate_signatures: bool


def signed(validator: RequestValidator, url: str, params: Mapping[str, Any], signature: str) -> bool:
    """One HMAC for the URL as seen; twilio's full check (with and without port) only if that fails."""
    if hmac.compare_digest(validator.compute_signature(url, params), signature):
        return True
    return bool(validator.validate(url, params, signature))


def refuse_unsigned() -> Response | None:
    """A 403 for a request Twilio did not sign (None: go on). Uses the app's IVR context."""
    ctx: Signatures = current_app.extensions[IVR_EXTENSION]
    if not ctx.validate_signatures:
        return None
    signature = request.headers.get("X-Twilio-Signature", "")
    if ctx.public_url:  # the usual case: no need to rebuild the URL from the Host header
        url = public_request_url(ctx.public_url, "", request.full_path if request.query_string else request.path)
    else:
        url = request.url
    if not signature or not signed(ctx.validator, url, request.form, signature):
        log.warning("ivr: refused %s %s: %s signature", request.method, request.path, "bad" if signature else "no")
        return Response("forbidden: bad or missing X-Twilio-Signature\n", status=403, mimetype="text/plain")
    return None
