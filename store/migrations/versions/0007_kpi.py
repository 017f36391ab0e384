"""call_kpi (a call's service-level facts), call_kpi_nodes (its menu funnel) and followups (回访 of surveys below 4)

The facts of existing calls are not computed here (they need the menu): run
``hotline kpi --rebuild`` once after upgrading to fill them from the stored events.

Revision ID: 0007_kpi
Revises: 0006_recording_trust_event_pii
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_kpi"
down_revision = "0006_recording_trust_event_pii"
branch_labels = None
depends_on = None

HOUR_INTS = (
    "calls", "offered", "answered", "abandoned", "short", "failed", "waiting", "contained", "in_sl", "callbacks",
    "agents_closed", "wait_answered_n", "wait_all_n", "talk_n", "surveys", "survey_sum", "survey_low",
)  # fmt: skip
HOUR_FLOATS = ("wait_answered_sum", "wait_all_sum", "talk_sum")


def upgrade() -> None:
    op.create_table(
        "call_kpi",
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("team", sa.String(length=64), nullable=False),
        sa.Column("skill", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("offered", sa.Boolean(), nullable=False),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered", sa.Boolean(), nullable=False),
        sa.Column("abandoned", sa.Boolean(), nullable=False),
        sa.Column("wait_s", sa.Float(), nullable=True),
        sa.Column("talk_s", sa.Float(), nullable=True),
        sa.Column("leg_result", sa.String(length=32), nullable=False),
        sa.Column("hangup_node", sa.String(length=64), nullable=False),
        sa.Column("hangup_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("path", sa.JSON(), nullable=False),
        sa.Column("survey_score", sa.Integer(), nullable=True),
        sa.Column("surveyed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("callback_requested", sa.Boolean(), nullable=False),
        sa.Column("agents_closed", sa.Boolean(), nullable=False),
        sa.Column("contained", sa.Boolean(), nullable=False),
        sa.Column("ended", sa.Boolean(), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("in_sl", sa.Boolean(), nullable=False),
        sa.Column("local_day", sa.String(length=10), nullable=False),
        sa.Column("local_hour", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_call_kpi_call_id_calls"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("call_id", name=op.f("pk_call_kpi")),
    )
    op.create_index(op.f("ix_call_kpi_started_at"), "call_kpi", ["started_at"], unique=False)
    op.create_index("ix_call_kpi_open_queue", "call_kpi", ["ended", "offered"], unique=False)
    op.create_index("ix_call_kpi_started_wait", "call_kpi", ["started_at", "wait_s"], unique=False)
    op.create_index("ix_call_kpi_team_wait", "call_kpi", ["team", "started_at", "wait_s"], unique=False)
    op.create_index("ix_call_kpi_skill_wait", "call_kpi", ["skill", "started_at", "wait_s"], unique=False)
    op.create_table(
        "kpi_hours",
        sa.Column("local_day", sa.String(length=10), nullable=False),
        sa.Column("local_hour", sa.Integer(), nullable=False),
        sa.Column("team", sa.String(length=64), nullable=False),
        sa.Column("skill", sa.String(length=64), nullable=False),
        *[sa.Column(c, sa.Integer(), nullable=False) for c in HOUR_INTS],
        *[sa.Column(c, sa.Float(), nullable=False) for c in HOUR_FLOATS],
        sa.PrimaryKeyConstraint("local_day", "local_hour", "team", "skill", name=op.f("pk_kpi_hours")),
    )
    op.create_table(
        "kpi_node_days",
        sa.Column("local_day", sa.String(length=10), nullable=False),
        sa.Column("team", sa.String(length=64), nullable=False),
        sa.Column("skill", sa.String(length=64), nullable=False),
        sa.Column("node", sa.String(length=64), nullable=False),
        sa.Column("entered", sa.Integer(), nullable=False),
        sa.Column("hung_up", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("local_day", "team", "skill", "node", name=op.f("pk_kpi_node_days")),
    )
    op.create_table(
        "call_kpi_nodes",
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("node", sa.String(length=64), nullable=False),
        sa.Column("hung_up", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"], ["call_kpi.call_id"], name=op.f("fk_call_kpi_nodes_call_id_call_kpi"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("call_id", "node", name=op.f("pk_call_kpi_nodes")),
    )
    op.create_table(
        "followups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("surveyed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_followups_call_id_calls"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_followups")),
        sa.UniqueConstraint("call_id", name=op.f("uq_followups_call_id")),
    )
    op.create_index(op.f("ix_followups_surveyed_at"), "followups", ["surveyed_at"], unique=False)
    op.create_index(op.f("ix_followups_due_at"), "followups", ["due_at"], unique=False)


def downgrade() -> None:
    op.drop_table("kpi_node_days")
    op.drop_table("kpi_hours")
    op.drop_index("ix_call_kpi_skill_wait", table_name="call_kpi")
    op.drop_index("ix_call_kpi_team_wait", table_name="call_kpi")
    op.drop_index("ix_call_kpi_started_wait", table_name="call_kpi")
    op.drop_index(op.f("ix_followups_due_at"), table_name="followups")
    op.drop_index(op.f("ix_followups_surveyed_at"), table_name="followups")
    op.drop_table("followups")
    op.drop_table("call_kpi_nodes")
    op.drop_index("ix_call_kpi_open_queue", table_name="call_kpi")
    op.drop_index(op.f("ix_call_kpi_started_at"), table_name="call_kpi")
    op.drop_table("call_kpi")
