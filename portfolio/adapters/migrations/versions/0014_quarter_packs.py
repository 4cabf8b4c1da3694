"""quarter packs in a table of their own

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07

A closed quarter's audit pack (the frozen rows that decided it: megabytes at the size of a large
programme) moves out of ``quarters`` into ``quarter_packs``. SQLite stores a row's columns one
after another: with the pack in the middle of the row, reading any later column of a quarter
(its hash, its seal) walked the whole pack's overflow pages, so every page that listed the
quarters read every pack. PostgreSQL keeps large values apart already (TOAST); the one table
serves both.

The column is dropped with ``ALTER TABLE`` (no batch rebuild), so the SQLite triggers of revision
0011 on ``quarters`` stay in place.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quarter_packs",
        sa.Column("quarter_id", sa.Integer(), nullable=False),
        sa.Column("pack", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["quarter_id"],
            ["quarters.id"],
            name=op.f("fk_quarter_packs_quarter_id_quarters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("quarter_id", name=op.f("pk_quarter_packs")),
    )
    op.execute(
        "INSERT INTO quarter_packs (quarter_id, pack) "
        "SELECT id, pack FROM quarters WHERE pack IS NOT NULL"
    )
    op.drop_column("quarters", "pack")


def downgrade() -> None:
    op.add_column("quarters", sa.Column("pack", sa.JSON(), nullable=True))
    op.execute(
        "UPDATE quarters SET pack = "
        "(SELECT pack FROM quarter_packs WHERE quarter_packs.quarter_id = quarters.id)"
    )
    op.drop_table("quarter_packs")
