"""Media Streams in the app: the hub built from the settings, the socket mounted, the redirect targets.

``/ivr/stream/speech`` (Mode 1: a request our recognizer heard) and ``/ivr/stream/resume``
(Mode 2: the call leaves the stream) are where redirected calls re-enter the webhooks' flow,
signed like every webhook. The webhooks render their TwiML for the configured mode
(``HOTLINE_STREAM_MODE`` = 1 or 2) through the `StreamAnswers` set here; with no mode there is
no socket at all.
"""

from __future__ import annotations

import logging
import threading

from flask import Blueprint, Flask, Response, request

from ivr.callstate import CallStates
from ivr.config import StreamSettings
from ivr.flow import Flow
from ivr.flow_types import Event
from ivr.signature import refuse_unsigned
from ivr.stream.adapters import TwilioRedirector, load_engine
from ivr.stream.hub import StreamHub, report_vocabulary
from ivr.stream.live_twiml import LiveAnswers
from ivr.stream.session import SessionConfig
from ivr.stream.signing import StreamAnswers, ws_url
from ivr.stream.transport import mount
from ivr.webhooks import IvrContext, advance
from speech.stt import Transcriber

log = logging.getLogger(__name__)

bp = Blueprint("ivr_stream", __name__, url_prefix="/ivr/stream")
STREAM_EXTENSION = "hotline.stream"  # app.extensions key of the StreamHub
bp.before_request(refuse_unsigned)


def register(app: Flask, settings: StreamSettings, ivr: IvrContext) -> StreamHub:
    """Build the hub from the settings, mount the WebSocket route and the redirect targets, and
    tell the webhooks (``ivr``, from ``ivr.webhooks.register``) the mode."""
    from ivr.auth import auth_token
    from ivr.prompts_audio import PromptAudio, prompt_texts

    flow: Flow = ivr.flow
    token = auth_token(settings.twilio_auth_token, settings.data_dir)
    model_spec = settings.model

    def engine() -> Transcriber:
        return load_engine(model_spec, settings.models_dir)

    prompts = PromptAudio(settings.data_dir / "prompts", settings.tts, settings.prompts_dir)
    prompts.remember(prompt_texts(flow))  # only the menu's own texts are cached, never a read-back
    mode = settings.mode
    if mode not in ("", "1", "2"):
        raise ValueError(f"HOTLINE_STREAM_MODE must be 1, 2 or empty, not {mode!r}")
    stream_url = configured_stream_url(settings)
    modes = ((mode,) if mode else ()) + (("live",) if settings.live_calls else ())
    hub = StreamHub(
        config=SessionConfig(flow=flow, token=token, modes=modes),
        speech=engine,
        redirector=TwilioRedirector(settings.twilio_account_sid, token, settings.public_url),
        states=CallStates(ivr.rows, flow, ivr.writing),
        prompts=prompts,
        max_connections=settings.max_connections,
        stream_url=stream_url,
        check_handshake=settings.validate_signatures,
        require_handshake_signature=settings.require_handshake_signature,
    )
    app.extensions[STREAM_EXTENSION] = hub
    mount(app, hub)
    app.register_blueprint(bp)
    if "live" in modes:
        ivr.live = LiveAnswers(token, stream_url, settings.sig_ttl_s)  # transfers render a live stream
    if mode:
        ivr.streams = StreamAnswers(mode, token, stream_url, settings.sig_ttl_s)
        threading.Thread(target=_warm_up, args=(hub, mode), name="stream-warm-up", daemon=True).start()
    return hub


def configured_stream_url(settings: StreamSettings) -> str:
    """The stream URL from the settings alone ("" when only a request's host could tell)."""
    if settings.url:
        return settings.url
    return ws_url(settings.public_url) if settings.public_url else ""


def _warm_up(hub: StreamHub, mode: str) -> None:
    """Start-up, off the serving path: load the model, report OOV words, render the prompts."""
    try:
        report_vocabulary(hub)
        render_all = getattr(hub.prompts, "render_all", None)
        if mode == "2" and render_all is not None:
            from ivr.prompts_audio import prompt_texts

            n = render_all(prompt_texts(hub.config.flow))
            log.info("stream: %d prompts rendered or found in the cache", n)
    except Exception:
        log.exception("stream: warm-up failed (streams will retry on first use)")


@bp.post("/speech")
def speech() -> Response:
    """Mode 1: a request our recognizer heard enters the webhooks' flow, exactly like a Gather."""
    said = request.args.get("said", "").strip()[:100]
    try:
        conf: float | None = min(1.0, max(0.0, float(request.args.get("c", ""))))
    except ValueError:
        conf = None
    return advance("speech", lambda: Event("speech", text=said, confidence=conf) if said else Event("no_input"))


@bp.post("/resume")
def resume() -> Response:
    """Mode 2: the call leaves the stream; the stored state says transfer or goodbye."""
    return advance("resume", lambda: Event("no_input"))
