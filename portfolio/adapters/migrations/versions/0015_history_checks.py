"""history checks

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07

The full check of a mission's history (every closed quarter rebuilt from the live rows and
compared with its pack: seconds at the size of a large programme) runs in the background and
its report is kept. One row per check asked for: who asked and when, when it started and
finished, its status (queued, running, done, failed), the report when done and the reason when
it failed. ``pending_mission_id`` holds the mission's id while the check is queued or running
and is unique, so a mission never has two pending checks.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "history_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mission_id", sa.Integer(), nullable=False),
        sa.Column("pending_mission_id", sa.Integer(), nullable=True),
        sa.Column("requested_by", sa.String(length=40), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("report", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["mission_id"],
            ["missions.id"],
            name=op.f("fk_history_checks_mission_id_missions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_history_checks")),
        sa.UniqueConstraint(
            "pending_mission_id", name=op.f("uq_history_checks_pending_mission_id")
        ),
    )
    op.create_index(
        op.f("ix_history_checks_mission_id"), "history_checks", ["mission_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_history_checks_mission_id"), table_name="history_checks")
    op.drop_table("history_checks")
