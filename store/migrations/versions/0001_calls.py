"""calls, call events and callback requests

Revision ID: 0001_calls
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_calls"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("call_sid", sa.String(64), nullable=False),
        sa.Column("caller_masked", sa.String(32), nullable=False, server_default=""),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(32), nullable=False, server_default="in-progress"),
        sa.Column("outcome", sa.String(32), nullable=False, server_default=""),
        sa.Column("menu_path", sa.JSON, nullable=False),
        sa.Column("flow_state", sa.JSON, nullable=False),
        sa.Column("skill", sa.String(64), nullable=False, server_default=""),
        sa.Column("survey_score", sa.Integer, nullable=True),
        sa.Column("agent_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("team", sa.String(64), nullable=False, server_default=""),
        sa.Column("recording_sid", sa.String(64), nullable=False, server_default=""),
        sa.Column("recording_url", sa.Text, nullable=False, server_default=""),
        sa.Column("duration_s", sa.Float, nullable=True),
        sa.Column("pipeline_state", sa.String(16), nullable=False, server_default=""),
        sa.Column("pipeline_error", sa.Text, nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("id", name="pk_calls"),
        sa.UniqueConstraint("call_sid", name="uq_calls_call_sid"),
    )
    op.create_index("ix_calls_started_at", "calls", ["started_at"])
    op.create_index("ix_calls_outcome", "calls", ["outcome"])
    op.create_index("ix_calls_agent_id", "calls", ["agent_id"])
    op.create_index("ix_calls_team", "calls", ["team"])
    op.create_index("ix_calls_pipeline_state", "calls", ["pipeline_state"])
    op.create_table(
        "call_events",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("call_id", sa.Integer, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("node", sa.String(64), nullable=False, server_default=""),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.Column("request_key", sa.String(128), nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("id", name="pk_call_events"),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name="fk_call_events_call_id_calls", ondelete="CASCADE"),
    )
    op.create_index("ix_call_events_call_at", "call_events", ["call_id", "at"])
    op.create_index("ix_call_events_request_key", "call_events", ["request_key"])
    op.create_table(
        "callback_requests",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("call_id", sa.Integer, nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("skill", sa.String(64), nullable=False, server_default=""),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="open"),
        sa.PrimaryKeyConstraint("id", name="pk_callback_requests"),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name="fk_callback_requests_call_id_calls", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_callback_requests_call_id", "callback_requests", ["call_id"])


def downgrade() -> None:
    op.drop_table("callback_requests")
    op.drop_table("call_events")
    op.drop_table("calls")
