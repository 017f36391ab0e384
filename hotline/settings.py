"""Settings from the environment (``HOTLINE_*``) with embedded defaults.

Defaults run everything on one machine: a SQLite file and in-process workers under
``HOTLINE_DATA_DIR``. Secrets are wrapped so they never print in logs or reprs.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from ivr.recording_url import AllowedHost, parse_hosts

PROJECT_ROOT = Path(__file__).resolve().parent.parent
WHISPER_COMPUTE_TYPES = ("float32", "int8")
WHISPER_MAX_WINDOW_S = 28.0  # speech.engines.whisper: the longest window decoded at once
IVR_ROUTERS = ("model", "keywords")  # HOTLINE_IVR_ROUTER: the trained router, or the menu's keywords only


class Secret(str):
    """A string whose repr and str-in-logs never reveal the value."""

    def __repr__(self) -> str:
        return "Secret('***')" if self else "Secret('')"

    def reveal(self) -> str:
        return str.__str__(self)


class SettingsError(ValueError):
    """A setting has a value we cannot use; the message names the variable."""


def _default_shared() -> Path:
    return PROJECT_ROOT.parent / "shared"


@dataclass(frozen=True)
class Settings:
    """Every knob of the service. Field name ``x`` is read from ``HOTLINE_X``."""

    data_dir: Path = Path("./var")
    database_url: str = ""  # default: sqlite file in data_dir
    redis_url: str = ""  # empty: in-process worker pool
    public_url: str = ""  # external base URL Twilio calls (signature checks behind a proxy)
    twilio_account_sid: str = ""
    twilio_auth_token: Secret = field(default_factory=lambda: Secret(""))
    secret_key: Secret = field(default_factory=lambda: Secret(""))
    validate_signatures: bool = True
    recording_hosts: str = ""  # hosts besides api.twilio.com recordings may be fetched from (tests, own media)
    recording_max_mb: int = 256  # largest recording download; 256 MB is 2 h 20 min of Twilio's two-channel WAV
    menu_path: Path = PROJECT_ROOT / "ivr" / "menus" / "950618.yaml"
    hours_path: Path = PROJECT_ROOT / "ivr" / "menus" / "hours.yaml"
    timezone: str = "Asia/Shanghai"
    agent_dial: str = ""  # IVR transfers: number, sip: or client: to <Dial>; empty = <Enqueue> by skill
    ivr_router: str = "model"  # model (the trained router, ivr/route_data) | keywords (the menu's keywords only)
    shared_dir: Path = field(default_factory=_default_shared)
    models_dir: Path = Path("")  # default: data_dir/models
    speech_engine: str = "vosk"  # vosk | whisper
    vosk_model: str = ""  # directory of a Vosk model
    whisper_model: str = ""  # directory of a CTranslate2 Whisper model
    whisper_beam: int = 5  # 1 is ~1.7x faster with int8, at CER 0.201 instead of 0.138 (docs/speech.md)
    whisper_compute_type: str = "float32"  # float32 | int8
    # s: speech regions of a channel closer than this are decoded as one window (more context; docs/qa-accuracy.md)
    whisper_join_gap: float = 6.0
    stream_mode: str = ""  # Media Streams speech menus: "" off, "1" alongside TwiML, "2" bidirectional
    stream_url: str = ""  # wss:// URL Twilio streams to; default public_url (wss) + /ivr/stream
    stream_model: str = ""  # Vosk model for stream menus; default vosk_model, else vosk-model-small-cn
    stream_tts: str = "espeak-ng -v cmn-latn-pinyin -s 220 --stdout {text}"  # Mode 2 prompt audio
    stream_prompts_dir: Path = Path("")  # recorded prompts (<key>.wav) that replace the TTS ones
    stream_max_connections: int = 200  # open Media Streams sockets per stream server; more are closed at once
    stream_sig_ttl_s: int = 60  # a stream's signed parameters are good this long after our TwiML named them
    stream_require_handshake_signature: bool = False  # refuse a WebSocket handshake without X-Twilio-Signature
    live_calls: bool = False  # bridged agent calls stream both tracks for live transcripts and QA (docs/live.md)
    live_max_calls: int = 4  # live calls transcribed at once per process; more are skipped and counted
    live_max_viewers: int = 4  # open live board / agent pages per process (each holds a server thread)
    live_endpoint_ms: int = 700  # quiet after words that ends a live utterance (shorter: sooner, more splits)
    live_engine: str = "vosk"  # vosk (streaming) | whisper (each utterance decoded when the VAD closes it)
    live_model: str = ""  # model for live transcripts; default stream_model/vosk_model, or whisper_model
    knowledge_dir: Path = Path("")  # agent-assist documents; default shared_dir/domain
    caller_channel: int = 0  # which channel of a two-channel recording is the caller
    redact_order_numbers: bool = False
    scorecard_path: Path = PROJECT_ROOT / "qa" / "scorecards" / "default.yaml"
    workers: int = 1  # in-process transcription worker processes
    web_processes: int = 1  # `hotline serve` processes answering HTTP (webhooks, workspace) on one port
    redis_queue: str = "hotline"  # RQ queue name (several installations can share one Redis)
    job_attempts: int = 3  # attempts per pipeline step before the call is marked failed
    job_lease_s: int = 60  # a running job whose worker is silent this long is handed to another
    kpi_service_level_s: int = 20  # service level: share of calls answered within this many seconds
    log_level: str = "INFO"
    # retention (docs/archive.md): days from the call's start; 0 keeps for ever
    retain_recordings_days: int = 180  # audio files
    retain_transcripts_days: int = 365  # transcripts, their text index and automatic scores
    retain_audit_days: int = 1095  # the audit log: at least as long as the data it speaks of
    maintenance_hour: int = 3  # local hour after which the daily retention / analyze (weekly vacuum) run

    def __post_init__(self) -> None:
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{self.data_dir.resolve() / 'hotline.db'}")
        if not str(self.models_dir) or str(self.models_dir) == ".":
            object.__setattr__(self, "models_dir", self.data_dir / "models")
        if self.whisper_compute_type not in WHISPER_COMPUTE_TYPES:
            raise SettingsError(
                f"HOTLINE_WHISPER_COMPUTE_TYPE: expected one of {', '.join(WHISPER_COMPUTE_TYPES)}, "
                f"got {self.whisper_compute_type!r}"
            )
        if self.live_engine not in ("vosk", "whisper"):
            raise SettingsError(f"HOTLINE_LIVE_ENGINE: expected vosk or whisper, got {self.live_engine!r}")
        if self.ivr_router not in IVR_ROUTERS:
            raise SettingsError(router_choice_error(self.ivr_router))
        if self.whisper_beam < 1:
            raise SettingsError(f"HOTLINE_WHISPER_BEAM: expected 1 or more, got {self.whisper_beam}")
        if not 0 <= self.whisper_join_gap <= WHISPER_MAX_WINDOW_S:
            raise SettingsError(
                f"HOTLINE_WHISPER_JOIN_GAP: expected 0..{WHISPER_MAX_WINDOW_S:g} seconds (a window is at most "
                f"{WHISPER_MAX_WINDOW_S:g} s), got {self.whisper_join_gap:g}"
            )
        positive = (
            "stream_max_connections",
            "stream_sig_ttl_s",
            "live_max_calls",
            "live_max_viewers",
            "kpi_service_level_s",
            "web_processes",
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise SettingsError(f"HOTLINE_{name.upper()}: expected 1 or more, got {getattr(self, name)}")
        if not 200 <= self.live_endpoint_ms <= 5000:
            raise SettingsError(f"HOTLINE_LIVE_ENDPOINT_MS: expected 200 to 5000, got {self.live_endpoint_ms}")
        for name in ("retain_recordings_days", "retain_transcripts_days", "retain_audit_days"):
            if not 0 <= getattr(self, name) <= 36500:
                raise SettingsError(
                    f"HOTLINE_{name.upper()}: expected 0 (keep) .. 36500 days, got {getattr(self, name)}"
                )
        kept = [d for d in (self.retain_recordings_days, self.retain_transcripts_days) if d]
        if self.retain_audit_days and (len(kept) < 2 or self.retain_audit_days < max(kept)):
            raise SettingsError(
                "HOTLINE_RETAIN_AUDIT_DAYS: the audit log must outlive what it records: expected 0 (keep) or "
                "at least HOTLINE_RETAIN_RECORDINGS_DAYS and HOTLINE_RETAIN_TRANSCRIPTS_DAYS, "
                f"got {self.retain_audit_days}"
            )
        if not 0 <= self.maintenance_hour <= 23:
            raise SettingsError(f"HOTLINE_MAINTENANCE_HOUR: expected 0..23, got {self.maintenance_hour}")
        if not 1 <= self.recording_max_mb <= 4096:
            raise SettingsError(f"HOTLINE_RECORDING_MAX_MB: expected 1..4096, got {self.recording_max_mb}")
        try:
            self.allowed_recording_hosts()
        except ValueError as exc:
            raise SettingsError(str(exc)) from None
        _check_public_url(self.public_url)

    def allowed_recording_hosts(self) -> tuple[AllowedHost, ...]:
        """HOTLINE_RECORDING_HOSTS parsed (api.twilio.com is always allowed, https only)."""
        return parse_hosts(self.recording_hosts)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Build settings from ``HOTLINE_*`` variables; unknown types raise SettingsError."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for f in fields(cls):
            key = f"HOTLINE_{f.name.upper()}"
            if key not in env:
                continue
            raw = env[key]
            values[f.name] = _coerce(key, raw, f.type)
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    def whisper_options(self) -> tuple[tuple[str, object], ...]:
        """Options for the Whisper engine (``build_transcriber(..., **dict(options))``)."""
        return (
            ("beam_size", self.whisper_beam),
            ("compute_type", self.whisper_compute_type),
            ("join_gap", self.whisper_join_gap),
        )

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    def describe(self) -> dict[str, str]:
        """Printable view for `hotline settings`: secrets show only whether they are set."""
        out: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Secret):
                out[f.name] = "(set)" if value else "(not set)"
            elif f.name == "database_url" or f.name == "redis_url":
                out[f.name] = _mask_url(str(value))
            else:
                out[f.name] = str(value)
        return out


def router_choice_error(value: str) -> str:
    """Why HOTLINE_IVR_ROUTER was refused, with the value to use instead (it was ``module:factory`` once)."""
    expected = f"expected {' or '.join(IVR_ROUTERS)}"
    if not value.strip():
        return f"HOTLINE_IVR_ROUTER is empty: {expected} (empty used to mean the menu's keywords: set keywords)"
    if ":" in value:
        return (
            f"HOTLINE_IVR_ROUTER={value!r}: a module:factory is no longer accepted, {expected} "
            "(ivr.route:make_router is now model)"
        )
    return f"HOTLINE_IVR_ROUTER: {expected}, got {value!r}"


def _check_public_url(url: str) -> None:
    """HOTLINE_PUBLIC_URL is the base Twilio signs: http(s)://host[:port][/prefix], nothing else."""
    if not url:
        return
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment or parts.username:
        raise SettingsError(f"HOTLINE_PUBLIC_URL: expected e.g. https://ivr.example.com, got {url!r}")


def _mask_url(url: str) -> str:
    """Hide a password embedded in a URL (postgresql://user:pw@host/db)."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        if ":" in creds:
            creds = creds.split(":", 1)[0] + ":***"
        return f"{scheme}://{creds}@{host}"
    return url


def _coerce(key: str, raw: str, typ: object) -> object:
    name = typ if isinstance(typ, str) else getattr(typ, "__name__", str(typ))
    if name == "bool":
        low = raw.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off", ""):
            return False
        raise SettingsError(f"{key}: expected true/false, got {raw!r}")
    if name == "int":
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(f"{key}: expected an integer, got {raw!r}") from None
    if name == "float":
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{key}: expected a number, got {raw!r}") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise SettingsError(f"{key}: expected a finite number, got {raw!r}")
        return value
    if name == "Path":
        return Path(raw)
    if name == "Secret":
        return Secret(raw)
    return raw
