"""archive at scale: bigram text index of transcripts, flag bits and filter indexes, retention holds

The transcript index (store/search_index.py) is built here for every transcript already stored;
``scores.flag_bits`` is filled from the flags JSON, so the flag filter seeks an index instead of
matching JSON text row by row. Composite indexes serve the filters QA staff combine.

Revision ID: 0009_search_retention
Revises: 0008_live
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_search_retention"
down_revision = "0008_live"
branch_labels = None
depends_on = None

FLAG_BITS = {"forbidden_phrase": 1, "angry_customer": 2, "long_silence": 4, "auto_fail": 8, "needs_review": 16}


def upgrade() -> None:
    from store import search_index

    conn = op.get_bind()
    dialect = conn.dialect.name
    for sql in search_index.create_sql(dialect):
        conn.exec_driver_sql(sql)
    search_index.build(conn)

    with op.batch_alter_table("scores", schema=None) as batch_op:
        batch_op.add_column(sa.Column("flag_bits", sa.Integer(), nullable=False, server_default="0"))
    flags = "flags" if dialect == "sqlite" else "CAST(flags AS TEXT)"
    parts = " + ".join(
        f"(CASE WHEN {flags} LIKE '%\"{name}\"%' THEN {bit} ELSE 0 END)" for name, bit in FLAG_BITS.items()
    )
    conn.execute(
        sa.text(
            f"UPDATE scores SET flag_bits = ({parts}) | (CASE WHEN auto_fail THEN 8 ELSE 0 END) "
            f"WHERE {flags} <> '[]' OR auto_fail"
        )
    )
    op.create_index("ix_scores_flag_bits_call", "scores", ["flag_bits", "call_id"], unique=False)
    op.create_index("ix_calls_outcome_started", "calls", ["outcome", "started_at"], unique=False)
    op.create_index("ix_calls_started_id", "calls", ["started_at", "id"], unique=False)
    op.create_index("ix_scores_call_total", "scores", ["call_id", "total", "customer_sentiment"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_scores_call_total", table_name="scores")
    op.drop_index("ix_calls_started_id", table_name="calls")
    op.drop_index("ix_calls_outcome_started", table_name="calls")
    op.drop_index("ix_scores_flag_bits_call", table_name="scores")
    with op.batch_alter_table("scores", schema=None) as batch_op:
        batch_op.drop_column("flag_bits")
    op.execute("DROP TABLE IF EXISTS transcript_terms")
