"""`hotline calls`: every call with its agent, outcome, pipeline state and total score."""

from __future__ import annotations

import json
from typing import Any

import click

from hotline.settings import Settings


@click.command()
@click.option("--json", "as_json", is_flag=True, help="a JSON array (machine-readable)")
@click.option("--limit", type=int, default=500, show_default=True)
@click.option("--state", default=None, help="only calls in this pipeline state (received, scored, failed, …)")
def calls(as_json: bool, limit: int, state: str | None) -> None:
    """List calls (newest first): id, agent, start, outcome, pipeline state, total score."""
    from store import pipeline as repo
    from store.db import make_engine, migrate, session_factory, transaction

    settings = Settings.from_env()
    engine = make_engine(settings.database_url)
    migrate(engine)
    with transaction(session_factory(engine)) as s:
        rows: list[dict[str, Any]] = [
            {
                "id": c.id,
                "call_sid": c.call_sid,
                "agent": c.agent_id,
                "team": c.team,
                "start": repo.aware(c.started_at).isoformat(timespec="seconds"),
                "outcome": c.outcome,
                "duration_s": c.duration_s,
                "pipeline_state": c.pipeline_state,
                "pipeline_error": c.pipeline_error,
                "total_score": None if total is None else round(float(total), 1),
            }
            for c, total in repo.calls_overview(s, limit)
            if state is None or c.pipeline_state == state
        ]
    engine.dispose()
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    click.echo(f"{'id':>5} {'agent':<10} {'start':<25} {'outcome':<12} {'state':<12} {'score':>6}")
    for r in rows:
        score = "" if r["total_score"] is None else f"{r['total_score']:.1f}"
        click.echo(
            f"{r['id']:>5} {r['agent'] or '-':<10} {r['start']:<25} {r['outcome'] or '-':<12} "
            f"{r['pipeline_state'] or '-':<12} {score:>6}"
        )
        if r["pipeline_state"] == "failed":
            click.echo(f"{'':>5} reason: {str(r['pipeline_error'])[:110]}")
    click.echo(f"{len(rows)} call(s)")
