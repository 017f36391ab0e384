"""Downloading a recording: from Twilio (REST, basic auth), an allow-listed host, or (CLI only) a file.

The rules of what may be fetched live in ``ivr.recording_url``; this module enforces them on the
wire: the address actually connected to, every redirect, the size cap, the time limit, and that
the bytes look like audio. Retries of transient answers are urllib3's ``Retry``.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from urllib3.util.retry import Retry

from hotline.jobs import PermanentError
from ivr.recording_url import AllowedHost, RecordingUrlError, is_local, public_address
from ivr.recording_url import check as check_recording_url
from ivr.recording_url import listed as listed_host
from speech.audio import audio_ext

AUDIO_TYPES = ("application/octet-stream", "binary/octet-stream", "application/ogg", "video/webm", "video/mp4")
REDIRECTS = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 3
# Twilio answers 404 for a moment after the recording callback, and 5xx/429 under load
RETRY_STATUS = frozenset({404, 408, 429, *range(500, 600)})


@dataclass(frozen=True)
class Download:
    """A fetched recording: its bytes and the file extension its first bytes announce."""

    data: bytes
    ext: str


class AddressRefused(Exception):
    """The connection reached a loopback/private address the URL's host was not allowed to have."""


def retry_policy(retries: int, backoff_s: float, sleep: Callable[[float], None]) -> Retry:
    """urllib3 ``Retry`` for connection errors and transient statuses, waiting ``backoff_s``·2ⁿ⁻¹ before try n+1.

    Unlike urllib3's own back-off the first retry waits too (Twilio's 404 lasts a moment), and the wait
    goes through ``sleep`` so tests need not. Redirects are not followed here (``Fetcher`` checks each
    hop); Retry-After is not obeyed, so a host cannot park a worker.
    """

    class BackoffRetry(Retry):
        def get_backoff_time(self) -> float:
            return backoff_s * 2 ** (len(self.history) - 1) if self.history else 0.0

        def sleep(self, response: Any = None) -> None:
            sleep(self.get_backoff_time())

    return BackoffRetry(
        total=retries,
        redirect=False,
        status_forcelist=RETRY_STATUS,
        raise_on_status=False,
        respect_retry_after_header=False,
    )


def _guarded_session(may_be_private: Callable[[str, str, int | None], bool], retry: Retry) -> Any:
    """A requests Session that checks the address it actually connected to (after DNS, every hop).

    Checking the name before connecting is not enough: DNS may answer differently a moment
    later (rebinding). So the socket's peer address is checked, and a loopback, private,
    link-local or reserved one is refused unless ``may_be_private(scheme, host, port)``.
    Environment proxies and ~/.netrc are ignored (``trust_env``): recordings are fetched directly.
    """
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    def checked(conn: Any, scheme: str, sock: Any) -> Any:
        peer = str(sock.getpeername()[0])
        if not public_address(peer) and not may_be_private(scheme, str(conn.host), conn.port):
            sock.close()
            raise AddressRefused(f"{conn.host} resolved to a loopback/private address, refused")
        return sock

    class GuardedHTTP(HTTPConnection):
        def _new_conn(self) -> Any:
            return checked(self, "http", super()._new_conn())

    class GuardedHTTPS(HTTPSConnection):
        def _new_conn(self) -> Any:
            return checked(self, "https", super()._new_conn())

    class Pool(HTTPConnectionPool):
        ConnectionCls = GuardedHTTP

    class TlsPool(HTTPSConnectionPool):
        ConnectionCls = GuardedHTTPS

    class Adapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": Pool, "https": TlsPool}

    session = requests.Session()
    session.trust_env = False
    session.mount("http://", Adapter(max_retries=retry))
    session.mount("https://", Adapter(max_retries=retry))
    return session


class Fetcher:
    """Gets recording bytes from Twilio (REST, basic auth), an allow-listed host, or (CLI only) a file.

    A URL from a webhook is fetched only if ``ivr.recording_url.check`` accepts it: https on
    Twilio's API host with a recording path, or a host in HOTLINE_RECORDING_HOSTS. Local paths and
    ``file://`` need ``local_ok`` (the recording came from `hotline ingest`/`demo`). Downloads
    are streamed with a size cap, must look like audio, and follow redirects only within the
    host (or to a listed host). Connection errors, 404, 408, 429 and 5xx are retried ``retries``
    times with exponential back-off; after that a 404 is final. Credentials go only to hosts in
    ``auth_hosts`` (Twilio's).
    """

    def __init__(
        self,
        account_sid: str = "",
        auth_token: str = "",
        *,
        hosts: tuple[AllowedHost, ...] = (),
        max_bytes: int = 256 * 1024 * 1024,
        retries: int = 3,
        backoff_s: float = 0.5,
        timeout_s: float = 30.0,
        max_seconds: float = 600.0,
        auth_hosts: tuple[str, ...] = ("twilio.com",),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.account_sid, self._token = account_sid, auth_token
        self.hosts, self.max_bytes = hosts, max_bytes
        self.retries, self.timeout_s, self.max_seconds = retries, timeout_s, max_seconds
        self.retry = retry_policy(retries, backoff_s, sleep)
        self.auth_hosts = auth_hosts

    def __repr__(self) -> str:
        return f"Fetcher(account_sid={self.account_sid!r}, auth_token='***')"

    def fetch(self, url: str, local_ok: bool = False) -> Download:
        """The recording at ``url``. Raises PermanentError for what retrying cannot fix."""
        if is_local(url):
            if not local_ok:
                raise PermanentError(
                    "recording URL refused: a local file, and the recording did not come from `hotline ingest`"
                )
            parsed = urllib.parse.urlparse(url)
            path = Path(urllib.parse.unquote(parsed.path)) if parsed.scheme == "file" else Path(url)
            if not path.is_file():
                raise PermanentError(f"recording not found: {path.name}")
            data = path.read_bytes()
            return Download(data, audio_ext(data[:64]) or path.suffix.lstrip(".").lower() or "bin")
        try:
            safe = check_recording_url(url, self.hosts)
        except RecordingUrlError as exc:
            raise PermanentError(f"recording URL refused: {exc}") from None
        return self._http(safe)

    def _wants_auth(self, host: str) -> bool:
        return any(host == h or host.endswith("." + h) for h in self.auth_hosts)

    def _http(self, url: str) -> Download:
        import requests

        parsed = urllib.parse.urlparse(url)
        host = parsed.hostname or ""
        auth = None
        if self._wants_auth(host):
            if not (self.account_sid and self._token):
                raise PermanentError(
                    "Twilio credentials missing: set HOTLINE_TWILIO_ACCOUNT_SID and HOTLINE_TWILIO_AUTH_TOKEN"
                )
            auth = (self.account_sid, self._token)
            if (
                host.endswith("twilio.com")
                and "/Recordings/" in parsed.path
                and "." not in parsed.path.rsplit("/", 1)[-1]
            ):
                # Twilio: the bare RecordingUrl serves WAV; ask for both channels of a dual recording
                url = urllib.parse.urlunparse(parsed._replace(path=parsed.path + ".wav", query="RequestedChannels=2"))
        tries = self.retries + 1
        private_ok = lambda scheme, h, port: listed_host(scheme, h, port, self.hosts)  # noqa: E731
        with _guarded_session(private_ok, self.retry) as session:
            try:
                status, download = self._download(session, url, auth)
            except AddressRefused as exc:
                raise PermanentError(f"recording URL refused: {exc}") from None
            except requests.RequestException as exc:
                raise ConnectionError(f"recording download failed after {tries} tries: {type(exc).__name__}") from None
        if download is not None:
            return download
        if status in (401, 403):
            raise PermanentError(f"recording download refused (HTTP {status}): check the Twilio account SID and token")
        if status == 404:
            raise PermanentError(f"recording not found (HTTP 404 after {tries} tries)")
        if status in RETRY_STATUS:
            raise ConnectionError(f"recording download failed after {tries} tries: HTTP {status}")
        raise PermanentError(f"recording download failed (HTTP {status})")

    def _download(self, session: Any, url: str, auth: tuple[str, str] | None) -> tuple[int, Download | None]:
        """One GET, following redirects only within the host (or to a listed host), without credentials after a move."""
        origin = urllib.parse.urlsplit(url)
        for _ in range(MAX_REDIRECTS + 1):
            with session.get(url, auth=auth, timeout=self.timeout_s, stream=True, allow_redirects=False) as resp:
                if resp.status_code in REDIRECTS and resp.headers.get("Location"):
                    url, auth = self._redirect(origin, url, resp.headers["Location"], auth)
                    continue
                if resp.status_code != 200:
                    return resp.status_code, None
                return 200, self._read(resp)
        raise PermanentError(f"recording download: more than {MAX_REDIRECTS} redirects")

    def _redirect(
        self, origin: urllib.parse.SplitResult, url: str, location: str, auth: tuple[str, str] | None
    ) -> tuple[str, tuple[str, str] | None]:
        target = urllib.parse.urlsplit(urllib.parse.urljoin(url, location))
        same = (target.scheme, target.hostname, target.port) == (origin.scheme, origin.hostname, origin.port)
        if not same and not listed_host(target.scheme, target.hostname or "", target.port, self.hosts):
            raise PermanentError("recording download redirected to another host, refused")
        try:
            nxt = check_recording_url(target.geturl(), self.hosts) if not same else target.geturl()
        except RecordingUrlError as exc:
            raise PermanentError(f"recording download redirect refused: {exc}") from None
        return nxt, auth if same else None

    def _read(self, resp: Any) -> Download:
        """The body, streamed: refused past the size cap, after the time limit, or if it is not audio."""
        ctype = resp.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if ctype and not (ctype.startswith("audio/") or ctype in AUDIO_TYPES):
            raise PermanentError(f"recording download is not audio (Content-Type {ctype[:40]})")
        too_big = f"recording larger than {self.max_bytes // (1024 * 1024)} MB (HOTLINE_RECORDING_MAX_MB), refused"
        length = resp.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > self.max_bytes:
            raise PermanentError(too_big)
        deadline = time.monotonic() + self.max_seconds
        buf = bytearray()
        ext: str | None = None
        for chunk in resp.iter_content(64 * 1024):
            buf += chunk
            if len(buf) > self.max_bytes:
                raise PermanentError(too_big)
            if ext is None and len(buf) >= 12:
                ext = audio_ext(bytes(buf[:64]))
                if ext is None:
                    raise PermanentError("recording download does not look like audio (no WAV/MP3/OGG/FLAC header)")
            if time.monotonic() > deadline:
                raise PermanentError(f"recording download took longer than {self.max_seconds:.0f} s, refused")
        if not buf:
            raise PermanentError("empty recording (0 bytes)")
        if ext is None:
            raise PermanentError(f"corrupt recording: only {len(buf)} bytes")
        return Download(bytes(buf), ext)
