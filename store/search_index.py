"""The transcript text index: character bigrams, as Lucene's CJK analyzer indexes Chinese.

Chinese has no spaces, so a word index needs a segmenter whose mistakes become missed hits. Bigrams
need none: each run of letters/digits ``ABCD`` is indexed as the tokens ``AB BC CD D`` (the last
character alone, so a one-character query finds it at the end of a run too). A query run ``BCD``
becomes the phrase ``BC CD`` (adjacent positions), ``B`` a prefix query ``B*``. For a query that
is one run the index answer is exact; a query with punctuation or spaces is narrowed by the index
and confirmed by a LIKE on the few rows it leaves.

Two homes, one set of tokens: an FTS5 table ``transcript_terms`` (rowid = call id) on SQLite; a
table ``transcript_terms`` of ``tsvector`` chunks with a GIN index on PostgreSQL (a tsvector keeps
positions up to 16,383, so long transcripts are split into overlapping chunks). The pipeline calls
:func:`index_transcript` in the same transaction that writes the transcript, so the two never
disagree; migration 0009 builds it for transcripts written before.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

TABLE = "transcript_terms"
MAX_QUERY = 100  # the list's search box keeps 100 characters; chunks overlap by this much
CHUNK = 16000  # tokens per tsvector chunk (PostgreSQL positions stop at 16,383)


_RUN = re.compile(r"[^\W_]+")  # letters and digits of any script (\w without the underscore)


def runs(value: str) -> list[str]:
    """Maximal runs of letters and digits, lower-cased (what both sides of the index agree on)."""
    return _RUN.findall(value.lower())


def tokens(value: str) -> list[str]:
    """The index tokens of a text, in position order: each run's bigrams and its last character."""
    out: list[str] = []
    for run in runs(value):
        out.extend(run[i : i + 2] for i in range(len(run) - 1))
        out.append(run[-1])
    return out


def is_exact(q: str) -> bool:
    """Whether the index alone answers ``q`` (one run, nothing else): no LIKE check needed."""
    r = runs(q)
    return len(r) == 1 and r[0] == q.strip().lower()


def fts_query(q: str) -> str | None:
    """The FTS5 MATCH expression for ``q`` (None: no letters or digits to look up)."""
    parts = []
    for run in runs(q):
        if len(run) == 1:
            parts.append(f'"{run}" *')
        else:
            parts.append('"' + " ".join(run[i : i + 2] for i in range(len(run) - 1)) + '"')
    return " AND ".join(parts) or None


def ts_query(q: str) -> str | None:
    """The PostgreSQL tsquery text for ``q`` (lexemes quoted, so no parser or dictionary touches them)."""
    parts = []
    for run in runs(q):
        if len(run) == 1:
            parts.append(f"'{run}':*")
        else:
            parts.append("(" + " <-> ".join(f"'{run[i : i + 2]}'" for i in range(len(run) - 1)) + ")")
    return " & ".join(parts) or None


def tsvectors(value: str) -> list[str]:
    """tsvector literals of a text: chunks of CHUNK tokens overlapping by MAX_QUERY (positions from 1)."""
    toks = tokens(value)
    if not toks:
        return []
    out = []
    step = CHUNK - MAX_QUERY
    for lo in range(0, max(1, len(toks) - MAX_QUERY), step):
        part = toks[lo : lo + CHUNK]
        out.append(" ".join(f"'{t}':{i + 1}" for i, t in enumerate(part)))
    return out


def not_a_model(name: str | None, type_: str, _parent: Any = None) -> bool:
    """Alembic ``include_name``: False for the index's tables (raw DDL, no ORM model)."""
    return not (type_ == "table" and (name or "").startswith(TABLE))


def _sqlite(s: Session | Connection) -> bool:
    return bool(s.get_bind().dialect.name == "sqlite") if isinstance(s, Session) else s.dialect.name == "sqlite"


def index_transcript(s: Session | Connection, call_id: int, value: str) -> None:
    """(Re)index one call's transcript text; call it wherever the transcript is written."""
    drop_transcripts(s, [call_id])
    if _sqlite(s):
        s.execute(
            text(f"INSERT INTO {TABLE} (rowid, terms) VALUES (:id, :t)"), {"id": call_id, "t": " ".join(tokens(value))}
        )
        return
    rows = [{"id": call_id, "v": v} for v in tsvectors(value)]
    if rows:
        s.execute(text(f"INSERT INTO {TABLE} (call_id, terms) VALUES (:id, CAST(:v AS tsvector))"), rows)


def drop_transcripts(s: Session | Connection, call_ids: Sequence[int]) -> None:
    """Remove calls from the index (a transcript replaced or deleted)."""
    if not call_ids:
        return
    col = "rowid" if _sqlite(s) else "call_id"
    for lo in range(0, len(call_ids), 500):
        ids = [int(i) for i in call_ids[lo : lo + 500]]
        s.execute(text(f"DELETE FROM {TABLE} WHERE {col} IN ({', '.join(map(str, ids))})"))


def index_raw(cur: Any, sqlite: bool, rows: Iterable[tuple[int, str]]) -> None:
    """Bulk index ``(call_id, text)`` rows through a DB-API cursor (migration, benchmark fill)."""
    if sqlite:
        cur.executemany(
            f"INSERT INTO {TABLE} (rowid, terms) VALUES (?, ?)", [(i, " ".join(tokens(t))) for i, t in rows]
        )
        return
    data = [(i, v) for i, t in rows for v in tsvectors(t)]
    if data:
        with cur.copy(f"COPY {TABLE} (call_id, terms) FROM STDIN") as cp:
            for row in data:
                cp.write_row(row)


def create_sql(dialect: str) -> list[str]:
    """DDL of the index (migration 0009 and the tests' fresh schemas)."""
    if dialect == "sqlite":
        # prefix='1': one-character queries read one prefix doclist, not every bigram starting with it
        return [f"CREATE VIRTUAL TABLE IF NOT EXISTS {TABLE} USING fts5(terms, tokenize='ascii', prefix='1')"]
    return [
        f"CREATE TABLE IF NOT EXISTS {TABLE} (id BIGSERIAL PRIMARY KEY, "
        "call_id INTEGER NOT NULL REFERENCES calls(id) ON DELETE CASCADE, terms TSVECTOR NOT NULL)",
        f"CREATE INDEX IF NOT EXISTS ix_{TABLE}_call ON {TABLE} (call_id)",
        f"CREATE INDEX IF NOT EXISTS ix_{TABLE}_gin ON {TABLE} USING gin (terms)",
    ]


def build(conn: Any, batch: int = 5000) -> int:
    """Index every transcript not yet in the index (idempotent); returns how many were added."""
    sqlite = conn.dialect.name == "sqlite"
    col = "rowid" if sqlite else "call_id"
    added, last = 0, 0
    raw = conn.connection.dbapi_connection
    cur = raw.cursor()
    while True:
        rows = conn.execute(
            text(
                "SELECT t.call_id, t.text FROM transcripts AS t WHERE t.call_id > :last "
                f"AND NOT EXISTS (SELECT 1 FROM {TABLE} AS x WHERE x.{col} = t.call_id) "
                "ORDER BY t.call_id LIMIT :n"
            ),
            {"last": last, "n": batch},
        ).all()
        if not rows:
            return added
        index_raw(cur, sqlite, [(int(r[0]), r[1] or "") for r in rows])
        added += len(rows)
        last = int(rows[-1][0])
