"""Alembic environment: runs on the connection handed in by store.db.migrate (or a URL)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from store.base import Base
from store.models import load_all_models
from store.search_index import not_a_model

load_all_models()
target_metadata = Base.metadata
config = context.config


def run() -> None:
    conn = config.attributes.get("connection")
    if conn is not None:
        context.configure(
            connection=conn, target_metadata=target_metadata, render_as_batch=True, include_name=not_a_model
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(config.get_section(config.config_ini_section) or {}, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True, include_name=not_a_model
        )
        with context.begin_transaction():
            context.run_migrations()


run()
