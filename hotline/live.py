"""Live calls wired into the app: the board on the stream hub, its store, the pages, the knowledge.

Runs after ``ivr.stream.routes:register`` (the hub) and ``workspace:register``. With
``HOTLINE_LIVE_CALLS`` off nothing is mounted but the pages' clear 404.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from live.board import LiveBoard
from live.knowledge import KnowledgeIndex, build_index
from live.monitor import LiveQA
from live.web import LiveWeb, assist_link, bp

log = logging.getLogger(__name__)


def register(app: Flask) -> None:
    ext = app.extensions["hotline"]
    settings = ext["settings"]
    app.register_blueprint(bp)
    if not settings.live_calls:
        return
    from ivr.auth import auth_token
    from ivr.stream.adapters import load_engine
    from ivr.stream.hub import StreamHub
    from qa.scorecard import load_scorecard
    from qa.scorers.sentiment import default_model
    from speech.redact import Policy, redact_text
    from store.live import append_event

    hub: StreamHub = ext["stream"]
    card = load_scorecard(settings.scorecard_path)
    sentiment_model = default_model()
    engine = _engine_loader(settings, load_engine)

    topic_words = _topic_words(ext.get("ivr"))
    order_words = tuple(card.phrases.lists.get("order_topic", ()))

    def new_qa(params: Mapping[str, str]) -> LiveQA:
        words = topic_words.get(params.get("topic", ""), "")
        return LiveQA(
            card,
            sentiment_model,
            consent_played=params.get("consent") == "1",
            order_topic=any(w in words for w in order_words),
        )

    sessions = ext["sessions"]
    board = LiveBoard(
        engine,
        new_qa,
        max_calls=int(settings.live_max_calls),
        max_viewers=int(settings.live_max_viewers),
        endpoint_ms=int(settings.live_endpoint_ms),
        store=lambda sid, event: append_event(sessions, sid, event),
        redact=lambda text: redact_text(text, Policy(order_numbers=bool(settings.redact_order_numbers))),
        topic_labels=_topic_labels(ext.get("ivr")),
    )
    hub.live = board
    configured = settings.twilio_auth_token.reveal() if settings.twilio_auth_token else ""
    token = auth_token(configured, settings.data_dir)
    knowledge = _Knowledge(_knowledge_dir(settings), settings.data_dir / "knowledge-index.json")
    secret = str(app.config["SECRET_KEY"])
    ext["live"] = board
    ext["live_web"] = LiveWeb(
        board=board,
        secret=secret,
        token=token,
        validate=_validator(token, str(settings.public_url), bool(settings.validate_signatures)),
        knowledge=knowledge.get,
        topic_words=topic_words,
    )
    ext["live_assist_link"] = lambda call_sid: assist_link(secret, call_sid)
    threading.Thread(target=_warm_up, args=(engine, knowledge), name="live-warm-up", daemon=True).start()


def _engine_loader(settings: Any, load_vosk: Any) -> Any:
    """How to get the live engine (loaded once, on first use): Vosk streaming at 8 kHz, or Whisper
    behind the VAD (`speech.utterances`), with the batch settings (beam, compute type) on
    `LIVE_WHISPER_THREADS` thread."""
    lock = threading.Lock()
    loaded: list[Any] = []

    def engine() -> Any:
        with lock:
            if not loaded:
                if settings.live_engine == "whisper":
                    from speech.models import find_model
                    from speech.transcribe import build_transcriber
                    from speech.utterances import UtteranceEngine

                    path = find_model(
                        str(settings.live_model or settings.whisper_model or "whisper-base-ct2"), settings.models_dir
                    )
                    options = dict(settings.whisper_options())
                    loaded.append(
                        UtteranceEngine(build_transcriber("whisper", path, threads=LIVE_WHISPER_THREADS, **options))
                    )
                else:
                    spec = str(settings.live_model or settings.stream_model or settings.vosk_model or "cn")
                    loaded.append(load_vosk(spec, settings.models_dir))
            return loaded[0]

    return engine


# CPU threads of the live Whisper model. A second thread on a 2-core box that also decodes something
# else made each utterance 3-5x slower (the threads wait on each other), not faster.
LIVE_WHISPER_THREADS = 1


def _knowledge_dir(settings: Any) -> Path:
    configured = str(settings.knowledge_dir)
    return Path(configured) if configured not in ("", ".") else Path(settings.shared_dir) / "domain"


class _Knowledge:
    """The knowledge index, built once (start-up, in the background) and cached on disk."""

    def __init__(self, folder: Path, cache: Path) -> None:
        self.folder, self.cache = folder, cache
        self._index: KnowledgeIndex | None = None
        self._lock = threading.Lock()
        self._tried = False

    def get(self) -> KnowledgeIndex | None:
        with self._lock:
            if not self._tried:
                self._tried = True
                if not self.folder.is_dir():
                    log.warning(
                        "live: no knowledge documents at %s (HOTLINE_KNOWLEDGE_DIR): no answer snippets", self.folder
                    )
                else:
                    self._index = build_index(self.folder, self.cache)
                    log.info("live: knowledge index of %d passages from %s", len(self._index), self.folder)
            return self._index


def _warm_up(engine: Any, knowledge: _Knowledge) -> None:
    try:
        knowledge.get()
        engine()
    except Exception:
        log.exception("live: warm-up failed (live calls will retry on first use)")


def _validator(token: str, public_url: str, validate: bool) -> Any:
    from twilio.request_validator import RequestValidator

    checker = RequestValidator(token)

    def valid(full_path: str, signature: str) -> bool:
        if not validate:
            return True
        from flask import request

        base = public_url.rstrip("/") if public_url else request.host_url.rstrip("/")
        return bool(signature) and bool(checker.validate(base + full_path, {}, signature))

    return valid


def _topic_words(ivr: Any) -> dict[str, str]:
    """Menu node -> its keywords and title: what the caller asked for, as a knowledge query."""
    out: dict[str, str] = {}
    menu = getattr(getattr(ivr, "flow", None), "menu", None)
    for nid, node in (getattr(menu, "nodes", None) or {}).items():
        words = [*getattr(node, "keywords", ()), str(getattr(node, "label", "") or "")]
        out[str(nid)] = " ".join(w for w in words if w)
    return out


def _topic_labels(ivr: Any) -> dict[str, str]:
    menu = getattr(getattr(ivr, "flow", None), "menu", None)
    return {
        str(nid): str(getattr(node, "label", "") or nid) for nid, node in (getattr(menu, "nodes", None) or {}).items()
    }
