"""Which recording URLs the server may download: Twilio's, or hosts the operator listed.

A recording callback names the URL the pipeline later fetches and stores as the call's audio,
which reviewers can download. Without a check, anyone holding the auth token could make the
server read ``file:///proc/self/environ`` or an internal URL and serve it back. So a URL from a
webhook must be https on Twilio's API host with a recording path, or match an entry of
``HOTLINE_RECORDING_HOSTS`` (tests, self-hosted media). Local files come only from the CLI.
Pure: parsing and matching only; the fetcher checks the address it actually connects to.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from dataclasses import dataclass

TWILIO_API_HOST = "api.twilio.com"
TWILIO_RECORDING_PATH = re.compile(
    r"^/2010-04-01/Accounts/AC[A-Za-z0-9]{1,64}/Recordings/RE[A-Za-z0-9]{1,64}(\.(wav|mp3))?$"
)
SETTING = "HOTLINE_RECORDING_HOSTS"
MAX_URL = 2000
DEFAULT_PORTS = {"https": 443, "http": 80}


class RecordingUrlError(ValueError):
    """The URL may not be fetched; the message says why (without repeating the URL)."""


@dataclass(frozen=True)
class AllowedHost:
    """One entry of HOTLINE_RECORDING_HOSTS: ``host``, ``host:port`` or ``http://host:port``."""

    host: str
    port: int | None = None  # None: the scheme's default port only
    scheme: str = "https"

    def matches(self, scheme: str, host: str, port: int | None) -> bool:
        want = self.port or DEFAULT_PORTS[self.scheme]
        return scheme == self.scheme and host == self.host and (port or DEFAULT_PORTS[scheme]) == want


def parse_hosts(spec: str) -> tuple[AllowedHost, ...]:
    """``"media.example.com, http://127.0.0.1:8765"`` -> entries; a bad entry raises ValueError naming it."""
    out: list[AllowedHost] = []
    for raw in spec.replace(";", ",").split(","):
        entry = raw.strip()
        if not entry:
            continue
        parsed = urllib.parse.urlsplit(entry if "://" in entry else "https://" + entry)
        try:
            port = parsed.port
        except ValueError:
            raise ValueError(f"{SETTING}: bad port in {entry!r}") from None
        host = _norm_host(parsed.hostname or "")
        if (
            parsed.scheme not in DEFAULT_PORTS
            or not host
            or parsed.username is not None
            or parsed.path not in ("", "/")
            or parsed.query
            or parsed.fragment
        ):
            raise ValueError(f"{SETTING}: {entry!r} is not a host, host:port or http(s)://host[:port]")
        out.append(AllowedHost(host, port, parsed.scheme))
    return tuple(out)


def _norm_host(host: str) -> str:
    return host.strip().lower().rstrip(".")


def is_local(url: str) -> bool:
    """A ``file:`` URL or a bare path (what `hotline ingest` stores), as opposed to a network URL."""
    scheme = urllib.parse.urlsplit(url.strip()).scheme.lower()
    return scheme in ("", "file") or (len(scheme) == 1 and url[1:2] == ":")  # C:\\... on Windows


def check(url: str, hosts: tuple[AllowedHost, ...] = ()) -> str:
    """The URL to fetch (re-assembled from its parsed parts), or RecordingUrlError.

    https on Twilio's API host with a recording path, or a match of an allow-list entry. The URL
    is rebuilt from what we parsed so the HTTP client cannot read it differently.
    """
    url = url.strip()
    if not url:
        raise RecordingUrlError("RecordingUrl is missing")
    if len(url) > MAX_URL:
        raise RecordingUrlError(f"RecordingUrl is longer than {MAX_URL} characters")
    if any(not (0x21 <= ord(c) <= 0x7E) or c == "\\" for c in url):
        raise RecordingUrlError("RecordingUrl contains spaces, control characters, backslashes or non-ASCII")
    if is_local(url):
        raise RecordingUrlError(
            "RecordingUrl names a local file: only Twilio's https recording URLs (or a host in "
            f"{SETTING}) are fetched for a webhook; local files only from `hotline ingest`"
        )
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise RecordingUrlError(f"RecordingUrl scheme {scheme[:16]!r} is not accepted (https only)")
    try:
        port = parts.port
    except ValueError:
        raise RecordingUrlError("RecordingUrl has a bad port") from None
    host = _norm_host(parts.hostname or "")
    if not host:
        raise RecordingUrlError("RecordingUrl has no host")
    if parts.username is not None or parts.password is not None:
        raise RecordingUrlError("RecordingUrl must not carry a user name or password")
    if host == TWILIO_API_HOST:
        if scheme != "https" or (port or 443) != 443:
            raise RecordingUrlError(f"RecordingUrl on {TWILIO_API_HOST} must be https on port 443")
        if not TWILIO_RECORDING_PATH.match(parts.path):
            raise RecordingUrlError(f"RecordingUrl on {TWILIO_API_HOST} is not a recording's URL")
    elif not listed(scheme, host, port, hosts):
        shown = host if len(host) <= 64 else host[:61] + "..."
        what = "an IP address" if _is_ip(host) else f"host {shown}"
        raise RecordingUrlError(f"RecordingUrl {what} is neither {TWILIO_API_HOST} nor listed in {SETTING}")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    return urllib.parse.urlunsplit((scheme, netloc, parts.path, parts.query, ""))


def listed(scheme: str, host: str, port: int | None, hosts: tuple[AllowedHost, ...]) -> bool:
    """Whether the operator listed this scheme, host and port (then a private address is allowed)."""
    host = _norm_host(host)
    return any(h.matches(scheme, host, port) for h in hosts)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def public_address(ip: str) -> bool:
    """A globally routable unicast address (not loopback, private, link-local, reserved, multicast)."""
    addr = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_global and not addr.is_multicast
