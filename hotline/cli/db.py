"""`hotline db analyze|vacuum`: the database upkeep the scheduler also runs (daily / weekly)."""

from __future__ import annotations

import json

import click

from hotline.settings import Settings


@click.group()
def db() -> None:
    """Database maintenance: planner statistics and space left by deletes."""


@db.command()
def analyze() -> None:
    """Refresh the planner's statistics (ANALYZE)."""
    from store import maintenance
    from store.db import make_engine, migrate

    engine = make_engine(Settings.from_env().database_url)
    migrate(engine)
    click.echo(json.dumps(maintenance.analyze(engine)))
    engine.dispose()


@db.command()
@click.option("--full", is_flag=True, help="SQLite: rewrite the file even when little space is free")
def vacuum(full: bool) -> None:
    """Give back space left by deletes (SQLite VACUUM when worth it, PostgreSQL VACUUM ANALYZE)."""
    from store import maintenance
    from store.db import make_engine, migrate

    engine = make_engine(Settings.from_env().database_url)
    migrate(engine)
    click.echo(json.dumps(maintenance.vacuum(engine, full=full)))
    engine.dispose()
