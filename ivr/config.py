"""What the IVR needs from the service's settings, typed: built by the composition root (``hotline.app``).

ivr sits below hotline, so it cannot read ``hotline.settings.Settings``; the app hands each part
of the IVR the few values it uses instead, and nothing here reads ``app.extensions`` untyped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ivr.recording_url import AllowedHost

IVR_EXTENSION = "hotline.ivr"  # app.extensions key of the webhooks' context (ivr.webhooks.IvrContext)
ROUTERS = ("model", "keywords")  # HOTLINE_IVR_ROUTER: the trained router (ivr.route), or the menu's keywords


@dataclass(frozen=True)
class IvrSettings:
    """The webhooks: menu, hours, speech router, signature checks, transfers, recording hosts."""

    data_dir: Path
    menu_path: Path
    hours_path: Path
    timezone: str = "Asia/Shanghai"
    router: str = "model"  # one of ROUTERS
    twilio_auth_token: str = field(default="", repr=False)  # "" = the local development token
    public_url: str = ""
    validate_signatures: bool = True
    agent_dial: str = ""
    recording_hosts: tuple[AllowedHost, ...] = ()
    service_level_s: float = 20.0  # HOTLINE_KPI_SERVICE_LEVEL_S: answered within this counts (kpi facts)


@dataclass(frozen=True)
class StreamSettings:
    """Media Streams speech menus (``HOTLINE_STREAM_*``)."""

    data_dir: Path
    mode: str = ""  # "" off, "1" alongside TwiML, "2" bidirectional
    url: str = ""  # wss:// URL Twilio streams to; "" = public_url (wss) + /ivr/stream
    public_url: str = ""
    model: str = "cn"  # Vosk model name or directory
    models_dir: Path = Path("models")
    tts: str = ""
    prompts_dir: Path | None = None
    max_connections: int = 200
    sig_ttl_s: int = 60
    validate_signatures: bool = True
    require_handshake_signature: bool = False
    twilio_account_sid: str = ""
    twilio_auth_token: str = field(default="", repr=False)
    live_calls: bool = False  # HOTLINE_LIVE_CALLS: transfers also stream both tracks (live/)
