"""shared run queue

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07

Several server processes (``mission-portfolio serve --workers N``) share one queue of optimiser
runs in the database: a queued run is claimed by exactly one of them, which records itself as the
run's ``owner`` (host:pid:random) and refreshes ``heartbeat`` while it solves. A process starting up
fails only the runs whose owner has stopped refreshing its heartbeat (or that have no owner: left
running by a version before this one), never a live process's run.

The columns are added and dropped with ``ALTER TABLE`` (no batch rebuild of the table), so the
SQLite triggers of revision 0011 that name ``optimiser_runs`` stay in place.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("optimiser_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("heartbeat", sa.DateTime(), nullable=True))


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+), not a batch rebuild that would drop the triggers
    op.drop_column("optimiser_runs", "heartbeat")
    op.drop_column("optimiser_runs", "owner")
