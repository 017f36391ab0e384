"""Which token signs Twilio requests, and how the URL Twilio called is reconstructed.

With no ``HOTLINE_TWILIO_AUTH_TOKEN`` the server and ``hotline simulate`` share a random
per-installation token in the data directory, so a fresh clone works end to end while real
Twilio requests (signed with the account's token) are still refused until it is configured.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

DEV_TOKEN_FILE = "dev-twilio-auth-token"


def auth_token(configured: str, data_dir: Path, *, create: bool = True) -> str:
    if configured:
        return configured
    path = data_dir / DEV_TOKEN_FILE
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        if not create:
            return ""
    data_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(16)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(token)
    return token


def public_request_url(public_url: str, request_url: str, full_path: str) -> str:
    """The URL Twilio signed: behind a proxy the public base plus our path and query."""
    if not public_url:
        return request_url
    return public_url.rstrip("/") + full_path
