"""recordings.trusted_source; call events without personal data

A recording's source_url may name a local file only when the CLI stored it (``trusted_source``);
the rows `hotline ingest` made (call_sid ``ingest:…``, a form no webhook can send) are marked so.
Existing call events are redacted as new ones are written: speech text through the transcript
redaction (phone, ID-card, bank-card numbers become tags), menu keys kept as a count only. What
is removed is the personal data itself; the event, its node, time and confidence stay. The
redaction cannot be undone, so the downgrade drops only the column.

Revision ID: 0006_recording_trust_event_pii
Revises: 0005_login_security
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006_recording_trust_event_pii"
down_revision = "0005_login_security"
branch_labels = None
depends_on = None

BATCH = 500


def upgrade() -> None:
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("trusted_source", sa.Boolean(), nullable=False, server_default=sa.false()))
    conn = op.get_bind()
    recordings = sa.table("recordings", sa.column("call_id", sa.Integer), sa.column("trusted_source", sa.Boolean))
    calls = sa.table("calls", sa.column("id", sa.Integer), sa.column("call_sid", sa.String))
    ingested = sa.select(calls.c.id).where(calls.c.call_sid.like("ingest:%"))
    conn.execute(recordings.update().where(recordings.c.call_id.in_(ingested)).values(trusted_source=True))
    redact_events(conn)


def redact_events(conn: Any) -> int:
    """Rewrite the speech and key events that still hold text or digits; returns how many changed."""
    from speech.redact import redact_text  # the transcripts' redaction, so both agree

    events = sa.table(
        "call_events",
        sa.column("id", sa.Integer),
        sa.column("kind", sa.String),
        sa.column("detail", sa.JSON),
    )
    changed, last = 0, 0
    while True:
        rows = conn.execute(
            sa.select(events.c.id, events.c.kind, events.c.detail)
            .where(events.c.kind.in_(("speech", "dtmf")), events.c.id > last)
            .order_by(events.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return changed
        for row in rows:
            last = row.id
            detail = dict(row.detail or {})
            if row.kind == "speech" and isinstance(detail.get("text"), str):
                text = redact_text(detail["text"])
                if text == detail["text"]:
                    continue
                detail["text"] = text
            elif row.kind == "dtmf" and "digits" in detail:
                detail = {k: v for k, v in detail.items() if k != "digits"}
                detail["length"] = len(str(row.detail["digits"]))
            else:
                continue
            conn.execute(events.update().where(events.c.id == row.id).values(detail=detail))
            changed += 1


def downgrade() -> None:
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.drop_column("trusted_source")
