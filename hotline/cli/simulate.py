"""`hotline simulate`: place a simulated call against a running server (see ivr.simulate)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from hotline.cli.options import FiniteFloat
from hotline.settings import Settings

STEP_OPTIONS = {"--press": "press", "--say": "say", "--silence": "silence"}


def _scan(args: list[str]) -> list[tuple[str, str]]:
    """The caller's steps in command-line order (click groups repeated options by name)."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(args):
        arg = args[i]
        name, eq, value = arg.partition("=")
        if name in STEP_OPTIONS:
            kind = STEP_OPTIONS[name]
            if kind == "silence":
                out.append((kind, ""))
            elif eq:
                out.append((kind, value))
            elif i + 1 < len(args):
                out.append((kind, args[i + 1]))
                i += 1
        elif arg == "--":
            break
        i += 1
    return out


class _OrderedSteps(click.Command):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["simulate_steps"] = _scan(list(args))
        return super().parse_args(ctx, args)


@click.command(cls=_OrderedSteps)
@click.option("--url", required=True, help="base URL of the server, e.g. http://127.0.0.1:8000")
@click.option("--press", "presses", multiple=True, metavar="D", help="press keys (e.g. 2, or 12345678# for an entry)")
@click.option("--say", "says", multiple=True, metavar="TEXT", help="say something (sent as SpeechResult)")
@click.option("--silence", "silences", count=True, help="stay silent for one prompt")
@click.option("--script", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="steps from a file")
@click.option("--expect", default="", metavar="NODE", help="fail unless the call reaches this menu node")
@click.option("--confidence", default=0.9, show_default=True, type=FiniteFloat(0.0, 1.0), help="speech confidence sent")
@click.option("--from", "caller", default="+8613800138000", show_default=True, help="caller number")
@click.option("--max-steps", default=40, show_default=True, type=click.IntRange(1, 1000))
@click.option("--quiet", is_flag=True, help="print only the summary")
@click.option("--calls", type=click.IntRange(1, 100_000), default=None, help="N seeded callers of every kind (traffic)")
@click.option("--seed", type=int, default=1, show_default=True, help="seed of --calls (same seed, same callers)")
def simulate(
    url: str,
    presses: tuple[str, ...],
    says: tuple[str, ...],
    silences: int,
    script: Path | None,
    expect: str,
    confidence: float,
    caller: str,
    max_steps: int,
    quiet: bool,
    calls: int | None,
    seed: int,
) -> None:
    """Call the IVR at URL as Twilio would, pressing/saying the steps in the order given.

    Requests are signed with HOTLINE_TWILIO_AUTH_TOKEN (or the local development token of the
    data directory). Exits 0 when the call ends (transfer, self-service end, hang-up), 1 when
    --expect was not reached, 2 on a dead end, 3 on an HTTP error, 4 when it never ends.
    """
    from ivr.auth import auth_token
    from ivr.simulate import Action, Simulator, parse_script

    ctx = click.get_current_context()
    steps = [Action(kind, value) for kind, value in ctx.meta.get("simulate_steps", [])]
    if script is not None:
        file_steps, file_expect = parse_script(script.read_text(encoding="utf-8"))
        steps = file_steps + steps
        expect = expect or file_expect
    settings = Settings.from_env()
    token = auth_token(settings.twilio_auth_token.reveal(), settings.data_dir, create=False)
    if not token:
        raise click.UsageError("set HOTLINE_TWILIO_AUTH_TOKEN (the server's token) to sign requests")
    if calls is not None:
        _traffic(url, token, calls, seed, settings, quiet)
        return
    echo: Any = None if quiet else click.echo
    sim = Simulator(url, token, caller=caller, confidence=confidence, max_steps=max_steps, echo=echo)
    try:
        result = sim.run(steps)
    except Exception as exc:  # connection refused, malformed TwiML: report, do not trace back
        click.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(3)
    click.echo(f"path: {' > '.join(result.nodes)}")
    click.echo(f"end: {result.end} ({result.detail})")
    code = result.exit_code
    if result.ok and expect and expect not in result.nodes:
        click.echo(f"expected node {expect!r} was not reached", err=True)
        code = 1
    sys.exit(code)


def _traffic(url: str, token: str, n: int, seed: int, settings: Settings, quiet: bool) -> None:
    """``--calls N --seed S``: callers who self-serve, hang up in a menu, give up waiting or are answered."""
    from collections import Counter

    from ivr.menu import load_menu
    from ivr.simulate import requests_poster
    from ivr.traffic import plan_calls, run_all

    plans = plan_calls(load_menu(settings.menu_path), n, seed)
    poster = requests_poster()
    try:
        results = run_all(plans, url, token, post_factory=lambda: poster, seed=seed)
    except Exception as exc:  # connection refused, malformed TwiML: report, do not trace back
        click.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(3)
    bad = [(sid, r) for sid, r in results if not r.ok]
    kinds = Counter(p.kind for p in plans)
    if not quiet:
        for (sid, r), p in zip(results, plans, strict=True):
            click.echo(f"{sid} {p.kind:<13} {r.end:<15} {' > '.join(r.nodes)}")
    click.echo(f"{n} calls (seed {seed}): " + ", ".join(f"{k} {kinds[k]}" for k in sorted(kinds)))
    for sid, r in bad[:10]:
        click.echo(f"call {sid}: {r.end} ({r.detail})", err=True)
    sys.exit(3 if bad else 0)
