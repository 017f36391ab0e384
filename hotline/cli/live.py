"""`hotline live`: replay a two-channel recording as a live bridged call; build the knowledge index."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from hotline.settings import Settings


@click.group("live")
def live_group() -> None:
    """Live calls: replay a recorded call to a server, build the agent-assist knowledge index."""


def stream_url_for(base: str, configured: str = "") -> str:
    """The stream socket of the server at ``base``: HOTLINE_STREAM_URL when set, else what
    ``hotline serve`` opens: ws://host:(port+1)/ivr/stream, or wss://host/ivr/stream behind TLS."""
    if configured:
        return configured
    u = urlsplit(base)
    if u.scheme == "https" or u.port is None:
        return f"{'wss' if u.scheme == 'https' else 'ws'}://{u.hostname}/ivr/stream"
    return f"ws://{u.hostname}:{u.port + 1}/ivr/stream"


@live_group.command("replay")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--url", required=True, help="the server's base URL, e.g. http://127.0.0.1:8000")
@click.option("--ws-url", default="", help="its Media Streams socket (default: HOTLINE_STREAM_URL, else port+1)")
@click.option(
    "--speed", default=1.0, show_default=True, type=click.FloatRange(0, 100), help="1 = real time; 0 = no pacing"
)
@click.option("--json", "as_json", is_flag=True, help="print the call's events, one JSON object a line, once it ends")
@click.option("--call-sid", default="", help="the call's id (default: a new one)")
@click.option("--topic", default="", help="the caller's menu choice (routing topic), e.g. order")
@click.option("--limit", default=0.0, type=click.FloatRange(0), help="send only the first LIMIT seconds (0 = all)")
@click.option(
    "--wait", default=60.0, show_default=True, type=click.FloatRange(1, 3600), help="seconds to wait for the end"
)
def replay_cmd(
    file: Path, url: str, ws_url: str, speed: float, as_json: bool, call_sid: str, topic: str, limit: float, wait: float
) -> None:
    """Send FILE (two channels: 1 = caller, 2 = agent) to the server as Twilio streams a bridged call:
    signed, both tracks, at SPEED times real time."""
    from ivr.auth import auth_token
    from ivr.stream.replay import both_tracks_messages, replay
    from ivr.stream.session import SID_RE
    from ivr.stream.signing import stream_parameters
    from speech.audio import AudioError, decode, pcm_to_ulaw

    settings = Settings.from_env()
    token = auth_token(settings.twilio_auth_token.reveal() if settings.twilio_auth_token else "", settings.data_dir)
    try:
        audio = decode(file, rate=8000)
    except AudioError as exc:
        raise click.ClickException(f"{file}: {exc}") from None
    if audio.n_channels != 2:
        raise click.ClickException(
            f"{file}: {audio.n_channels} channel(s); a call recording has two (1 caller, 2 agent)"
        )
    call_sid = call_sid or "CA" + secrets.token_hex(16)
    if not SID_RE.match(call_sid):
        raise click.ClickException("--call-sid: letters and digits, like CA0123…")
    params = stream_parameters(token, call_sid, "live")
    if topic:
        params["topic"] = topic[:32]
    n = int(limit * 8000) if limit else None
    caller, agent = (pcm_to_ulaw(c[:n].tobytes()) for c in audio.channels)
    messages = both_tracks_messages(caller, agent, call_sid, params)
    socket_url = stream_url_for(url, ws_url or str(settings.stream_url or ""))
    t0 = time.monotonic()
    try:
        res = replay(socket_url, messages, speed=speed, settle_s=0.2)
    except OSError as exc:
        raise click.ClickException(f"cannot stream to {socket_url}: {exc}") from None
    if res.sent < len(messages):
        raise click.ClickException(f"the server closed the stream after {res.sent} of {len(messages)} messages")
    if not as_json:
        click.echo(f"call {call_sid}: {audio.duration:.1f} s streamed in {time.monotonic() - t0:.1f} s to {socket_url}")
        return
    for event in _events(url, call_sid, token, wait):
        click.echo(json.dumps(event, ensure_ascii=False))


def _events(base: str, call_sid: str, token: str, wait: float) -> list[dict[str, Any]]:
    """The call's turns and alerts once the server has ended it (signed GET, polled until then)."""
    import requests
    from twilio.request_validator import RequestValidator

    path = f"/live/calls/{call_sid}/events"
    full = base.rstrip("/") + path
    signature = RequestValidator(token).compute_signature(full, {})
    end = time.monotonic() + wait
    while True:
        try:
            r = requests.get(full, headers={"X-Twilio-Signature": signature}, timeout=10)
        except requests.RequestException as exc:
            raise click.ClickException(f"cannot read the call's events from {base}: {exc}") from None
        if r.status_code != 200:
            raise click.ClickException(f"{full}: HTTP {r.status_code}: {r.text.strip()[:200]}")
        data = r.json()
        if data.get("status") == "ended" or time.monotonic() > end:
            if data.get("status") != "ended":
                click.echo(f"the call has not ended after {wait:.0f} s; its events so far:", err=True)
            keep = ("turn", "alert")
            return [{k: v for k, v in e.items() if k != "seq"} for e in data.get("events", []) if e.get("type") in keep]
        time.sleep(0.2)


@live_group.command("index")
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="default: HOTLINE_KNOWLEDGE_DIR",
)
def index_cmd(folder: Path | None) -> None:
    """Build (or check) the agent-assist knowledge index from the hotline's documents."""
    from hotline.live import _knowledge_dir
    from live.knowledge import build_index

    settings = Settings.from_env()
    folder = folder or _knowledge_dir(settings)
    if not folder.is_dir():
        raise click.ClickException(f"{folder}: no such folder (HOTLINE_KNOWLEDGE_DIR)")
    index = build_index(folder, settings.data_dir / "knowledge-index.json")
    click.echo(f"{len(index)} passages from {folder} -> {settings.data_dir / 'knowledge-index.json'}")
