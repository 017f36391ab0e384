"""`hotline sample --team T --week 2026-W47`: run a team's weekly QA sample from the shell."""

from __future__ import annotations

import click

from hotline.settings import Settings


@click.command()
@click.option("--team", required=True, help="team name as on the calls (e.g. 售后一组)")
@click.option(
    "--week", default=None, help="ISO week, e.g. 2026-W47 (default: this week, or the week of the team's newest calls)"
)
@click.option(
    "--per-agent",
    type=click.IntRange(0, 1000),
    default=None,
    help="random calls per agent (default: the team's policy, 3)",
)
@click.option(
    "--seed",
    type=click.IntRange(0, 2**31 - 1),  # stored in an integer column
    default=None,
    help="seed (default: the week's number, so reruns agree)",
)
def sample(team: str, week: str | None, per_agent: int | None, seed: int | None) -> None:
    """Pick N random calls per agent plus targeted ones; store the sample with reasons and assignees."""
    from qa.sampling import PolicyError
    from store import sampling as repo
    from store.db import make_engine, migrate, session_factory, transaction
    from workspace.sampling_run import REASON_LABELS, default_week, run_sample

    settings = Settings.from_env()
    engine = make_engine(settings.database_url)
    migrate(engine)
    with transaction(session_factory(engine)) as s:
        week = week or default_week(settings.timezone, repo.latest_call_start(s, team))
        if seed is None:
            seed = int(week.replace("-W", "")) if week.replace("-W", "").isdigit() else 0
        try:
            res = run_sample(s, team, week, seed=seed, per_agent=per_agent)
        except (ValueError, PolicyError) as exc:
            raise click.ClickException(str(exc)) from None
        picks = repo.sample_picks(s, res.sample_id)
    click.echo(
        f"sample {res.sample_id}: team {team}, week {week}, seed {seed}: "
        f"{res.picks} picks of {res.audit.get('eligible', 0)} eligible calls"
    )
    for p, name in picks:
        click.echo(f"  call {p.call_id}\tagent {p.agent_id}\t{REASON_LABELS.get(p.reason, p.reason)}\t-> {name or '-'}")
    engine.dispose()
