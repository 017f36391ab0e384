"""`hotline demo`: fill a fresh installation with realistic scored calls, end to end.

Each call goes through the real IVR webhooks (signed requests via ivr.simulate, the caller
presses 0 for an agent), an agent from a team takes it, and its two-channel recording is handed to
the pipeline. The recordings, agents and teams are the development calls of ../shared/calls-dev
(real JDDC service dialogues, synthetic voices; hotline.devcalls), dated over the last weeks; on a
bare clone without them a recording is assembled from real speech (../shared/speech/zh, else the
audio fixtures) with made-up agents. The pipeline fetches, transcribes, redacts and scores it like
any other call. The recording is a local file, so it goes in the way `hotline ingest` puts files
in (a trusted CLI path), not through the recording webhook: a webhook never makes the server read
a local file.
"""

from __future__ import annotations

import random
import shutil
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from hotline.cli.options import FiniteFloat
from hotline.devcalls import caller_number, read_dev_calls, spread_dates
from hotline.settings import PROJECT_ROOT, Settings

AGENTS = (
    ("A1001", "售后一组"),
    ("A1002", "售后一组"),
    ("A1003", "售后一组"),
    ("A2001", "售后二组"),
    ("A2002", "售后二组"),
    ("A3001", "家电组"),
    ("A3002", "家电组"),
)
SCRIPTS = (("press", "0"), ("say", "人工客服"), ("press", "0"))
DEMO_HOURS = """# written by `hotline demo`: the demo's agents are on duty around the clock
timezone: Asia/Shanghai
display: 全天24小时
queues:
  default:
    daily: "00:00-24:00"
"""


def _flask_poster(client: Any) -> Any:
    def post(url: str, data: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        from urllib.parse import urlparse

        u = urlparse(url)
        path = u.path + (f"?{u.query}" if u.query else "")
        r = client.post(path, data=data, headers=headers)
        return r.status_code, r.get_data(as_text=True)

    return post


@click.command()
@click.option(
    "--calls",
    "n_calls",
    default=None,
    type=click.IntRange(1, 1000),
    help="how many calls to simulate (default: every development call of ../shared/calls-dev, else 5)",
)
@click.option(
    "--seconds", default=35.0, show_default=True, type=FiniteFloat(5.0, 1800.0), help="approximate length of each call"
)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--wait/--no-wait", default=True, show_default=True, help="wait until every call is scored")
@click.option(
    "--traffic",
    default=0,
    show_default=True,
    type=click.IntRange(0, 10_000),
    help="also N callers who self-serve, hang up in a menu, give up waiting or are answered (运营指标)",
)
def demo(n_calls: int | None, seconds: float, seed: int, wait: bool, traffic: int) -> None:
    """Simulate N calls through the IVR and the whole pipeline (transcription, redaction, scoring)."""
    from sqlalchemy import select

    from hotline.app import create_app
    from hotline.runtime import wait_for_calls
    from hotline.simcalls import CallBuilder, speech_sources
    from hotline.speech_setup import SpeechNotConfigured, fallback_speech
    from ivr.auth import auth_token
    from ivr.simulate import Action, Simulator
    from store import pipeline as repo
    from store.db import transaction
    from store.models import Call

    base = Settings.from_env()
    try:
        settings, chosen = fallback_speech(base)
    except SpeechNotConfigured as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"speech model: {chosen}" + ("" if chosen == "configured" else " (set HOTLINE_SPEECH_ENGINE to choose)"))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    hours = settings.data_dir / "demo-hours.yaml"
    hours.write_text(DEMO_HOURS, encoding="utf-8")
    # the demo signs its requests for http://localhost (the test client), whatever the public URL is
    settings = settings.with_(hours_path=hours, public_url="http://localhost")

    rng = random.Random(seed)
    dev, skipped = read_dev_calls(settings.shared_dir / "calls-dev")
    for why in skipped:
        click.echo(f"calls-dev: {why}; skipped", err=True)
    dev = spread_dates(dev, datetime.now(UTC))
    builder: CallBuilder | None = None
    if dev:
        n_calls = n_calls or len(dev)
        click.echo(f"recordings: {len(dev)} development calls from {dev[0].path.parent}")
    else:
        n_calls = n_calls or 5
        tts = settings.data_dir / "demo" / "tts"
        try:
            sources = speech_sources(settings.shared_dir, PROJECT_ROOT / "audio_fixtures", tts)
        except FileNotFoundError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"speech for the recordings: {len(sources)} utterances from {sources[0].parent}")
        builder = CallBuilder(sources, seed=seed, tts_cache=tts)

    app = create_app(settings)
    ext = app.extensions["hotline"]
    sessions = ext["sessions"]
    token = auth_token(settings.twilio_auth_token.reveal() if settings.twilio_auth_token else "", settings.data_dir)
    client = app.test_client()
    incoming = settings.data_dir / "demo" / "incoming"
    if traffic:  # mixed callers first, so 运营指标 shows more than agents who always answer
        from ivr.menu import load_menu
        from ivr.traffic import plan_calls, run_all

        plans = plan_calls(load_menu(settings.menu_path), traffic, seed)
        run_all(plans, "http://localhost/", token, post_factory=lambda: _flask_poster(client), seed=seed)
        click.echo(f"{traffic} callers of every kind through the IVR (see `hotline kpi`)")
    call_ids: list[int] = []
    audio_s = 0.0
    try:
        for i in range(n_calls):
            dc = dev[i % len(dev)] if dev else None
            fill = rng.randrange(10**8)
            caller = caller_number(dc.caller_masked, fill) if dc else f"+86138{fill:08d}"
            sim = Simulator("http://localhost/", token, caller=caller, post=_flask_poster(client))
            kind, value = SCRIPTS[i % len(SCRIPTS)]
            survey = rng.choice("5545432")  # the caller rates the agent after the call
            res = sim.run([Action(kind, value), Action("press", survey)])
            with transaction(sessions) as s:
                call = s.scalars(select(Call).where(Call.call_sid == sim.call_sid)).one()
                outcome = call.outcome
            if outcome != "transferred":
                click.echo(f"call {i + 1}: the IVR did not transfer ({outcome or res.end}); skipped", err=True)
                continue
            wav = incoming / f"{sim.call_sid}.wav"
            if dc is not None:
                agent, team = dc.agent_id, dc.team
                wav.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(dc.path, wav)
                dur = dc.duration or float(seconds)
            else:
                assert builder is not None
                agent, team = AGENTS[rng.randrange(len(AGENTS))]
                dur = builder.write(wav, rng.uniform(0.7, 1.3) * seconds)
            audio_s += dur
            with transaction(sessions) as s:
                call = s.scalars(select(Call).where(Call.call_sid == sim.call_sid)).one()
                if dc is not None:
                    started = dc.started_at.astimezone(UTC)
                else:
                    started = call.started_at - timedelta(days=rng.randrange(7), hours=rng.randrange(10))
                repo.assign_agent(s, call.id, agent, team, started)
                call.duration_s = round(dur + len(res.prompts) * 4.0, 1)  # the IVR part, then the agent
                call_ids.append(call.id)
            with transaction(sessions) as s:  # what the recording callback would store, for a local file
                _, rec, _ = repo.ensure_call_recording(
                    s,
                    call_sid=sim.call_sid,
                    recording_sid="RE" + uuid.uuid4().hex,
                    source_url=wav.as_uri(),
                    trusted=True,
                )
                rec.channels, rec.duration_s = 2, float(int(dur))
            ext["on_recording"](call.id, rec.id)  # the webhook's hook: the pipeline takes it from here
            click.echo(f"call {i + 1}/{n_calls}: {sim.call_sid[:12]}… agent {agent} ({team}), {dur:.0f} s recorded")
        if not call_ids:
            raise click.ClickException("no call reached an agent")
        click.echo(f"{len(call_ids)} call(s), {audio_s / 60:.1f} audio minutes queued")
        from hotline.service_levels import rebuild

        rebuild(ext["engine"], settings)  # the recorded calls got agents, teams and earlier start times
        if not wait:
            return
        states = wait_for_calls(sessions, call_ids, desc="pipeline")
    finally:
        ext["pipeline"].stop()
    scored = [c for c, (st, _) in states.items() if st == "scored"]
    click.echo(f"done: {len(scored)} scored, {len(states) - len(scored)} failed; see `hotline calls`")
    for cid, (st, err) in sorted(states.items()):
        if st != "scored":
            click.echo(f"  call {cid} failed: {err}", err=True)
    if not scored:
        raise SystemExit(1)
