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
from typing import Any

from flask import Blueprint, Flask, Response, request

from ivr.callstate import CallStates
from ivr.flow import Flow
from ivr.flow_types import Event
from ivr.signature import refuse_unsigned
from ivr.stream.adapters import TwilioRedirector, load_engine
from ivr.stream.hub import StreamHub, report_vocabulary
from ivr.stream.live_twiml import start_live_stream
from ivr.stream.session import SessionConfig
from ivr.stream.signing import StreamAnswers, ws_url
from ivr.stream.transport import mount
from ivr.webhooks import advance
from speech.stt import Transcriber

log = logging.getLogger(__name__)

bp = Blueprint("ivr_stream", __name__, url_prefix="/ivr/stream")
bp.before_request(refuse_unsigned)


def register(app: Flask) -> None:
    """Build the hub from the settings, mount the WebSocket route and the redirect targets, and
    tell the webhooks the mode. Needs ``ivr.webhooks:register`` to have run first."""
    from ivr.auth import auth_token
    from ivr.prompts_audio import PromptAudio, prompt_texts

    ext = app.extensions["hotline"]
    settings = ext["settings"]
    ivr = ext["ivr"]  # ivr.webhooks.IvrContext
    flow: Flow = ivr.flow
    configured = settings.twilio_auth_token.reveal() if settings.twilio_auth_token else ""
    token = auth_token(configured, settings.data_dir)
    model_spec = str(settings.stream_model or settings.vosk_model or "cn")

    def engine() -> Transcriber:
        return load_engine(model_spec, settings.models_dir)

    recorded = settings.stream_prompts_dir if str(settings.stream_prompts_dir) not in ("", ".") else None
    prompts = PromptAudio(settings.data_dir / "prompts", str(settings.stream_tts), recorded)
    prompts.remember(prompt_texts(flow))  # only the menu's own texts are cached, never a read-back
    mode = str(settings.stream_mode or "")
    if mode not in ("", "1", "2"):
        raise ValueError(f"HOTLINE_STREAM_MODE must be 1, 2 or empty, not {mode!r}")
    stream_url = configured_stream_url(settings)
    modes = ((mode,) if mode else ()) + (("live",) if getattr(settings, "live_calls", False) else ())
    hub = StreamHub(
        config=SessionConfig(flow=flow, token=token, modes=modes),
        speech=engine,
        redirector=TwilioRedirector(str(settings.twilio_account_sid), token, str(settings.public_url)),
        states=CallStates(ivr.engine, flow, ivr.writing),
        prompts=prompts,
        max_connections=int(settings.stream_max_connections),
        stream_url=stream_url,
        check_handshake=bool(settings.validate_signatures),
        require_handshake_signature=bool(settings.stream_require_handshake_signature),
    )
    ext["stream"] = hub
    mount(app, hub)
    app.register_blueprint(bp)
    if "live" in modes:
        live_url = stream_url
        ttl = int(settings.stream_sig_ttl_s)

        @app.after_request
        def _live_stream(resp: Response) -> Response:
            """Transfers also start the call's live both-tracks stream (signed per response)."""
            xml = resp.mimetype in ("application/xml", "text/xml")
            if request.method != "POST" or not request.path.startswith("/ivr/") or not xml:
                return resp
            url = live_url or ws_url(request.host_url)
            body = resp.get_data(as_text=True)
            signed = start_live_stream(body, request.form.get("CallSid", "")[:64], token, url, ttl_s=ttl)
            if signed is not body:
                resp.set_data(signed)
            return resp

    if mode:
        ivr.streams = StreamAnswers(mode, token, stream_url, int(settings.stream_sig_ttl_s))
        threading.Thread(target=_warm_up, args=(hub, mode), name="stream-warm-up", daemon=True).start()


def configured_stream_url(settings: Any) -> str:
    """The stream URL from the settings alone ("" when only a request's host could tell)."""
    if settings.stream_url:
        return str(settings.stream_url)
    return ws_url(str(settings.public_url)) if settings.public_url else ""


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
