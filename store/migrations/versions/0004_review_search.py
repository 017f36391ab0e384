"""review workspace: covering indexes for the call list's score and flag filters and transcript search

Revision ID: 0004_review_search
Revises: 0003_review
"""

from alembic import op

revision = "0004_review_search"
down_revision = "0003_review"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_scores_total_call", "scores", ["total", "call_id"], unique=False)
    op.create_index("ix_scores_sentiment_call", "scores", ["customer_sentiment", "call_id"], unique=False)
    if op.get_bind().dialect.name != "sqlite":  # see store/models_review.py: SQLite-only indexes
        return
    op.create_index("ix_scores_flags", "scores", ["flags", "call_id"], unique=False)
    op.create_index("ix_transcripts_call_text", "transcripts", ["call_id", "text"], unique=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index("ix_transcripts_call_text", table_name="transcripts")
        op.drop_index("ix_scores_flags", table_name="scores")
    op.drop_index("ix_scores_sentiment_call", table_name="scores")
    op.drop_index("ix_scores_total_call", table_name="scores")
