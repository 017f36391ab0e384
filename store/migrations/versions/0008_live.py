"""live_events: live calls' transcript turns and alerts, kept with the call

Revision ID: 0008_live
Revises: 0007_kpi
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_live"
down_revision = "0007_kpi"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "live_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("call_sid", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("at", sa.Float(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_live_events_call_seq", "live_events", ["call_sid", "seq"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_live_events_call_seq", table_name="live_events")
    op.drop_table("live_events")
