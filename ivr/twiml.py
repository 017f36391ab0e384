"""Render flow steps as TwiML with twilio's own builder (pure: values in, XML text out).

Every response either listens (``<Gather>`` followed by a ``<Redirect>`` so a silent caller is
never left in dead air), transfers (recording notice, then ``<Dial>`` or ``<Enqueue>`` with a
dual-channel recording), or says goodbye and hangs up. In a Media Streams mode (`StreamSpec`)
the same step is rendered for the stream: Mode 1 starts ``<Start><Stream>`` beside keys-only
menus, Mode 2 connects the call to ``<Connect><Stream>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from typing import Any, Protocol
from urllib.parse import urlencode

from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from ivr.flow_types import GatherSpec, State, Step

LANGUAGE = "zh-CN"


@dataclass(frozen=True)
class Urls:
    """Where Twilio posts next (relative: Twilio resolves them against the URL it just called)."""

    gather: str = "/ivr/gather"
    after: str = "/ivr/after"  # <Dial>/<Enqueue> action: the agent leg ended
    hold: str = "/ivr/hold"  # <Enqueue> waitUrl
    recording: str = "/ivr/recording"
    status: str = "/ivr/status"
    fallback: str = "/ivr/fallback"  # Mode 2: where the call goes when its stream fails


STREAM_NAME = "nav"  # the Mode 1 stream, named so a later answer can stop it


@dataclass(frozen=True)
class StreamSpec:
    """Render an answer for Media Streams mode ``mode`` ("1" or "2").

    ``parameters``: names of the ``<Parameter>``s of a stream this answer opens (the call's first
    answer; empty: it opens none). Their values differ for every answer, so the answer is rendered
    (and cached, and stored for retries) with empty values, which `sign_stream` fills in.
    """

    mode: str
    url: str = ""  # the ``wss://`` URL of the stream this answer opens
    parameters: tuple[str, ...] = ()


LIVE_TRACKS = 'track="both_tracks"'  # only a live stream of the agent conversation streams both tracks
LIVE_SIGNED = ("mode", "nonce", "exp", "sig")  # filled per response by `sign_stream`


@dataclass(frozen=True)
class LiveSpec:
    """Transfers also start the call's live stream (both tracks: caller inbound, agent outbound) at
    ``url``. Its signed parameters are rendered empty (filled per response by `sign_stream`); what
    the live board shows is rendered as is: the menu node (topic), the queue (team), and whether
    the recording notice was said before the bridge (consent)."""

    url: str


class StreamMode(Protocol):
    """A Media Streams mode as the webhooks see it (`ivr.stream.signing.StreamAnswers`)."""

    def spec(self, host_url: str, *, opening: bool) -> StreamSpec | None:
        """How to render an answer (``opening``: the call's first); None: as without streams."""
        ...

    def sign(self, twiml: str, call_sid: str) -> str:
        """A first answer with its own freshly signed stream parameters."""
        ...


class LiveMode(Protocol):
    """Live calls as the webhooks see them (`ivr.stream.live_twiml.LiveAnswers`)."""

    def spec(self, host_url: str) -> LiveSpec:
        """Where a transfer's live stream goes (``host_url``: the request's base, when not configured)."""
        ...

    def sign(self, twiml: str, call_sid: str) -> str:
        """An answer as sent: the live stream it starts, if any, with freshly signed parameters."""
        ...


def with_query(url: str, **params: object) -> str:
    return f"{url}?{urlencode({k: v for k, v in params.items() if v is not None})}"


def _say(parent: VoiceResponse | Gather, text: str, voice: str) -> None:
    if text:
        if voice:
            parent.say(text, language=LANGUAGE, voice=voice)
        else:
            parent.say(text, language=LANGUAGE)


SEQ_MARK = "999999999"  # stands for the step number in cached answers (ours are far smaller)


def render(
    step: Step,
    *,
    urls: Urls = Urls(),
    voice: str = "",
    agent_dial: str = "",
    stream: StreamSpec | None = None,
    live: LiveSpec | None = None,
) -> str:
    """TwiML for one step. ``agent_dial`` (number, sip: or client:) dials agents; empty enqueues.
    ``stream``: the answer in a Media Streams mode (None: no stream).

    Answers differ between calls only by the step number in their URLs (and a stream's signed
    parameters), so the XML is built once per distinct answer and the number filled in.
    """
    live = live if step.action == "transfer" else None  # the cache holds one answer per kind
    key = (step.say, step.gather, step.action, step.skill, step.notice, step.node, urls, voice, agent_dial)
    return _render_cached(*key, stream, live).replace(f"s={SEQ_MARK}", f"s={step.state.seq}")


def sign_stream(twiml: str, values: Mapping[str, str]) -> str:
    """Fill in the values of an answer's stream ``<Parameter>``s (rendered empty by `render`)."""
    for name, value in values.items():
        empty = f'<Parameter name="{escape(name)}" value="" />'
        twiml = twiml.replace(empty, f'<Parameter name="{escape(name)}" value="{escape(value)}" />', 1)
    return twiml


@lru_cache(maxsize=1024)
def _render_cached(
    say: tuple[str, ...],
    gather_spec: GatherSpec | None,
    action: str,
    skill: str,
    notice: str,
    node: str,
    urls: Urls,
    voice: str,
    agent_dial: str,
    stream: StreamSpec | None,
    live: LiveSpec | None,
) -> str:
    step = Step(say, State(node=node, seq=int(SEQ_MARK)), action, gather_spec, skill=skill, notice=notice)
    return _render(step, urls=urls, voice=voice, agent_dial=agent_dial, stream=stream, live=live)


def _render(
    step: Step,
    *,
    urls: Urls,
    voice: str,
    agent_dial: str,
    stream: StreamSpec | None = None,
    live: LiveSpec | None = None,
) -> str:
    resp = VoiceResponse()
    seq = step.state.seq
    listens = step.action == "gather" and step.gather is not None
    mode1 = stream is not None and stream.mode == "1"
    if stream is not None and stream.mode == "2" and stream.parameters:
        return _connect_stream(stream, urls)  # the stream runs the menu from its start
    if stream is not None and mode1:
        if stream.parameters:
            start = resp.start()
            _stream_with_parameters(start.stream(url=stream.url, track="inbound_track", name=STREAM_NAME), stream)
        if not listens:  # leaving the menu: stop listening (no stream during agent talk)
            resp.stop().stream(name=STREAM_NAME)
    if listens and step.gather is not None:
        g = step.gather
        action = with_query(urls.gather, s=seq, n=step.node)
        listen_for = "dtmf" if mode1 else g.input  # Mode 1: speech goes to our recognizer, not Twilio's
        kwargs: dict[str, object] = {
            "input": listen_for,
            "action": action,
            "method": "POST",
            "timeout": g.timeout,
            "action_on_empty_result": True,
            "finish_on_key": g.finish_on_key,
        }
        if g.num_digits:
            kwargs["num_digits"] = g.num_digits
        if "speech" in listen_for:
            kwargs.update(language=LANGUAGE, speech_timeout="auto")
            if g.hints:
                kwargs["hints"] = ",".join(h.replace(",", " ") for h in g.hints[:100])
        gather = resp.gather(**kwargs)
        for text in step.say:
            _say(gather, text, voice)
        resp.redirect(action, method="POST")  # reached only if Twilio did not post the Gather
    elif step.action == "transfer":
        for text in step.say:
            _say(resp, text, voice)
        _say(resp, step.notice, voice)
        if live is not None:
            _live_stream(resp, live, step, agent_dial)
        after = with_query(urls.after, s=seq, n=step.node)
        if agent_dial:
            dial = Dial(
                action=after,
                method="POST",
                timeout=30,
                record="record-from-answer-dual",
                recording_status_callback=urls.recording,
                recording_status_callback_method="POST",
                recording_status_callback_event="completed",
            )
            if agent_dial.startswith("sip:"):
                dial.sip(agent_dial)
            elif agent_dial.startswith("client:"):
                dial.client(agent_dial.split(":", 1)[1])
            else:
                dial.number(
                    agent_dial,
                    status_callback=urls.status,
                    status_callback_method="POST",
                    status_callback_event="answered completed",
                )
            resp.append(dial)
        else:
            start = resp.start()
            start.recording(
                recording_status_callback=urls.recording,
                recording_status_callback_method="POST",
                recording_status_callback_event="completed",
                channels="dual",
                track="both",
            )
            resp.enqueue(
                step.skill or "general", action=after, method="POST", wait_url=urls.hold, wait_url_method="POST"
            )
    else:
        for text in step.say:
            _say(resp, text, voice)
        resp.hangup()
    return str(resp.to_xml())


def _live_stream(resp: VoiceResponse, live: LiveSpec, step: Step, agent_dial: str) -> None:
    element = resp.start().stream(url=live.url, track="both_tracks")
    for name in LIVE_SIGNED:
        element.parameter(name=name, value="")
    element.parameter(name="topic", value=step.node)
    if not agent_dial:
        element.parameter(name="team", value=step.skill or "general")
    elif agent := dialed_agent(agent_dial):
        element.parameter(name="agent", value=agent)
    if "录音" in step.notice or any("录音" in text for text in step.say):
        element.parameter(name="consent", value="1")


def dialed_agent(agent_dial: str) -> str:
    """The agent a dial reaches by name (``client:alice``, ``sip:alice@pbx``), for the live board;
    "" for a phone number (a number is not a name, and it stays out of stream parameters)."""
    scheme, _, rest = agent_dial.partition(":")
    if scheme == "client":
        return rest[:32]
    if scheme == "sip":
        return rest.split("@", 1)[0][:32]
    return ""


def _connect_stream(stream: StreamSpec, urls: Urls) -> str:
    """Mode 2's first answer: the call goes into the stream; if it fails, the fallback transfers."""
    resp = VoiceResponse()
    _stream_with_parameters(resp.connect().stream(url=stream.url), stream)
    resp.redirect(urls.fallback, method="POST")
    return str(resp.to_xml())


def _stream_with_parameters(element: Any, stream: StreamSpec) -> None:
    for name in stream.parameters:
        element.parameter(name=name, value="")


def render_hold(text: str, *, voice: str = "", pause: int = 20) -> str:
    """The queue's wait music: a message, then a pause; Twilio repeats the waitUrl."""
    resp = VoiceResponse()
    _say(resp, text, voice)
    resp.pause(length=pause)
    return str(resp.to_xml())


def render_fallback(
    apology: str,
    notice: str,
    *,
    urls: Urls = Urls(),
    voice: str = "",
    agent_dial: str = "",
    stream: StreamSpec | None = None,
    live: LiveSpec | None = None,
) -> str:
    """When our primary webhook failed: apologise and transfer, without needing the store."""
    step = Step((apology,), State(node="agent", seq=0), action="transfer", skill="general", notice=notice)
    return render(step, urls=urls, voice=voice, agent_dial=agent_dial, stream=stream, live=live)


def render_empty() -> str:
    return str(VoiceResponse().to_xml())
