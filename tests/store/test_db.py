"""The schema migrates for real on SQLite and on the PostgreSQL on localhost."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, inspect, select

from store.db import make_engine, migrate, session_factory, transaction
from store.models import Call, CallEvent


def _roundtrip(url: str) -> None:
    engine = make_engine(url)
    migrate(engine)
    migrate(engine)  # idempotent
    assert {"calls", "call_events", "callback_requests"} <= set(inspect(engine).get_table_names())
    factory = session_factory(engine)
    with transaction(factory) as s:
        call = Call(call_sid="CA1", caller_masked="138****0000", menu_path=[], flow_state={})
        call.events.append(CallEvent(kind="node", node="main", detail={}))
        s.add(call)
    with transaction(factory) as s:
        got = s.scalars(select(Call)).one()
        assert got.call_sid == "CA1" and got.events[0].node == "main"
    with pytest.raises(RuntimeError), transaction(factory) as s:
        s.add(Call(call_sid="CA2", menu_path=[], flow_state={}))
        raise RuntimeError("boom")
    with transaction(factory) as s:
        assert s.scalars(select(Call.call_sid)).all() == ["CA1"]
    engine.dispose()


def test_sqlite(tmp_path: Path) -> None:
    _roundtrip(f"sqlite:///{tmp_path / 'db.sqlite'}")


@pytest.mark.scaleout
def test_postgresql(pg_url: str) -> None:
    _roundtrip(pg_url)


def test_migrations_match_models(tmp_path: Path) -> None:
    """Every model change comes with its migration (Alembic finds nothing left to generate)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from store.base import Base
    from store.models import load_all_models
    from store.search_index import not_a_model

    load_all_models()
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(engine)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"include_name": not_a_model})  # the text index: raw DDL
        diff = compare_metadata(ctx, Base.metadata)
    engine.dispose()
    assert diff == []


def _visible_elsewhere(engine: Engine, sid: str) -> bool:
    with engine.connect() as other:
        return other.execute(select(Call.id).where(Call.call_sid == sid)).first() is not None


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.scaleout)])
def test_savepoint_rows_commit_with_their_transaction(backend: str, tmp_path: Path, request: Any) -> None:
    """A savepoint opened before any write (idempotent inserts do that) stays inside the unit of work:
    pysqlite alone would let RELEASE commit it, so a job could run before its call was marked."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}" if backend == "sqlite" else request.getfixturevalue("pg_url")
    engine = make_engine(url)
    migrate(engine)
    factory = session_factory(engine)
    with pytest.raises(RuntimeError), transaction(factory) as s:
        s.scalars(select(Call)).all()  # reads first, as get_or_create does
        with s.begin_nested():
            s.add(Call(call_sid="CA-orm", menu_path=[], flow_state={}))
        assert not _visible_elsewhere(engine, "CA-orm")  # not before the unit of work commits
        raise RuntimeError("the rest of the unit of work failed")
    assert not _visible_elsewhere(engine, "CA-orm")  # and rolled back with it
    with engine.begin() as conn:  # the webhooks' Core path
        conn.execute(select(Call.id)).all()
        with conn.begin_nested():
            conn.execute(Call.__table__.insert().values(call_sid="CA-core", menu_path=[], flow_state={}))
        assert not _visible_elsewhere(engine, "CA-core")
    assert _visible_elsewhere(engine, "CA-core")
    engine.dispose()
