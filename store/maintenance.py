"""Database upkeep a year of inserts and deletes needs: fresh planner statistics, space given back.

SQLite: ``ANALYZE`` (``PRAGMA optimize`` afterwards), the FTS5 index's segments merged, the WAL
truncated and, when more than a fifth of the file is free pages, ``VACUUM``. PostgreSQL:
``VACUUM (ANALYZE)`` (autovacuum does most of it; this keeps the visibility map fresh so the list's
index-only scans stay index-only after retention deletes).
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from store import search_index

VACUUM_FREE_SHARE = 0.2
ANALYSIS_LIMIT = 2000  # rows SQLite's ANALYZE reads per index


def analyze(engine: Engine) -> dict[str, Any]:
    """Refresh the planner's statistics; returns what was done and how long it took."""
    t0 = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if engine.dialect.name == "sqlite":
            # sample each index (SQLite's own advice for big files): seconds, not minutes, at a million calls
            conn.exec_driver_sql(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
        conn.exec_driver_sql("ANALYZE")
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA optimize")
    return {"task": "analyze", "seconds": round(time.perf_counter() - t0, 2)}


def vacuum(engine: Engine, *, full: bool = False) -> dict[str, Any]:
    """Give back space left by deletes; ``full`` forces SQLite's VACUUM (rewrites the file)."""
    t0 = time.perf_counter()
    out: dict[str, Any] = {"task": "vacuum"}
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql(
                f"INSERT INTO {search_index.TABLE}({search_index.TABLE}) VALUES ('optimize')"
            )  # merge the index's segments: fewer b-trees per query
            pages = int(conn.exec_driver_sql("PRAGMA page_count").scalar() or 0)
            free = int(conn.exec_driver_sql("PRAGMA freelist_count").scalar() or 0)
            out["free_share"] = round(free / pages, 3) if pages else 0.0
            if full or (pages and free / pages > VACUUM_FREE_SHARE):
                conn.exec_driver_sql("VACUUM")
                out["vacuumed"] = True
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            conn.exec_driver_sql("VACUUM (ANALYZE)")
            out["vacuumed"] = True
    out["seconds"] = round(time.perf_counter() - t0, 2)
    return out


def database_bytes(engine: Engine) -> int:
    """The database's size on disk (SQLite: the file and its WAL; PostgreSQL: pg_database_size)."""
    if engine.dialect.name == "sqlite":
        import os

        path = str(engine.url.database or "")
        return sum(os.path.getsize(p) for p in (path, path + "-wal") if path and os.path.exists(p))
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar() or 0)


def storage_summary(s: Session) -> dict[str, Any]:
    """What the storage page shows: rough counts (no table scan for calls), the last retention
    run's audit entry and the last maintenance jobs."""
    from store.models import Call
    from store.models_pipeline import Job, Recording, TranscriptRow
    from store.models_review import AuditEntry

    return {
        "calls": int(s.scalar(select(func.max(Call.id))) or 0),  # ids only grow
        "recordings": int(s.scalar(select(func.count(Recording.id)).where(Recording.audio_path != "")) or 0),
        "transcripts": int(s.scalar(select(func.count(TranscriptRow.id))) or 0),
        "last_retention": s.scalars(
            select(AuditEntry).where(AuditEntry.action == "retention").order_by(AuditEntry.id.desc()).limit(1)
        ).first(),
        "upkeep": list(s.scalars(select(Job).where(Job.key.like("maint:%")).order_by(Job.id.desc()).limit(6))),
    }
