"""`hotline jobs list|retry`: see where each call's pipeline stands, and run failed steps again."""

from __future__ import annotations

import json

import click

from hotline.settings import Settings


def _pipeline() -> object:
    from hotline.runtime import Pipeline
    from store.db import make_engine, migrate, session_factory

    settings = Settings.from_env()
    engine = make_engine(settings.database_url)
    migrate(engine)
    return Pipeline(settings, session_factory(engine), mode="client")


@click.group()
def jobs() -> None:
    """Pipeline jobs (one per step of each call)."""


@jobs.command("list")
@click.option("--status", type=click.Choice(["queued", "running", "done", "failed"]), default=None)
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="one JSON object per line")
def list_jobs(status: str | None, limit: int, as_json: bool) -> None:
    """Newest jobs first, with attempts and the last error."""
    from hotline.jobs import job_table
    from hotline.runtime import Pipeline
    from store import pipeline as repo
    from store.db import transaction

    pipe = _pipeline()
    assert isinstance(pipe, Pipeline)
    with transaction(pipe.sessions) as s:
        rows = job_table(repo.list_jobs(s, status, limit))
        counts = repo.count_by_status(s)
    if as_json:
        for r in rows:
            click.echo(json.dumps(r, ensure_ascii=False))
        return
    click.echo(f"{'id':>6} {'step':<10} {'call':>6} {'status':<8} {'tries':<5} {'updated':<25} error")
    for r in rows:
        click.echo(
            f"{r['id']:>6} {r['step']:<10} {r['call_id']!s:>6} {r['status']:<8} {r['attempts']:<5} "
            f"{r['updated_at']:<25} {r['error'][:80]}"
        )
    click.echo("totals: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) if counts else "no jobs")


@jobs.command("retry")
@click.argument("job_ids", nargs=-1, type=int)
@click.option("--all-failed", is_flag=True, help="retry every failed job")
def retry(job_ids: tuple[int, ...], all_failed: bool) -> None:
    """Put failed jobs back in the queue with a fresh attempt budget (a running `hotline serve`
    or `hotline worker` picks them up)."""
    from hotline.runtime import Pipeline

    if not job_ids and not all_failed:
        raise click.UsageError("give job ids, or --all-failed")
    pipe = _pipeline()
    assert isinstance(pipe, Pipeline)
    refs = pipe.retry(list(job_ids) or None)
    click.echo(f"requeued {len(refs)} job(s)" + (": " + ", ".join(str(r.id) for r in refs) if refs else ""))
