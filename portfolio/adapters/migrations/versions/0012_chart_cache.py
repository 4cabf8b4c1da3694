"""chart cache

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08

The SVG charts of a run, drawn once for the data they show (``digest``: a hash of that data) and
shared by every server process, so the report's charts are not redrawn on every view.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chart_cache",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("svg", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["optimiser_runs.id"],
            name=op.f("fk_chart_cache_run_id_optimiser_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chart_cache")),
        sa.UniqueConstraint("run_id", "name", "digest", name=op.f("uq_chart_cache_run_id")),
    )


def downgrade() -> None:
    op.drop_table("chart_cache")
