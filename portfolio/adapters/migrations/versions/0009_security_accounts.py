"""security accounts

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

Sign-in throttling per account and address, security events, API token expiry and revocation
(issue 16, findings 6, 7, 10, 11).

- ``login_throttle`` gets the shape of the atomic, exponential throttle (its rows are transient
  counters, so the table is re-created rather than converted);
- ``security_events``: the security log, append-only like the audit trail;
- ``api_tokens.expires_at``: every token expires; tokens that exist already get 90 days from now.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

APPEND_ONLY_SQLITE = [
    """CREATE TRIGGER security_events_no_update BEFORE UPDATE ON security_events
       BEGIN SELECT RAISE(ABORT, 'the security log is append-only'); END""",
    """CREATE TRIGGER security_events_no_delete BEFORE DELETE ON security_events
       BEGIN SELECT RAISE(ABORT, 'the security log is append-only'); END""",
]
APPEND_ONLY_POSTGRESQL = [
    """CREATE FUNCTION security_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'the security log is append-only'; END $$""",
    """CREATE TRIGGER security_events_append_only BEFORE UPDATE OR DELETE ON security_events
       FOR EACH ROW EXECUTE FUNCTION security_events_append_only()""",
]


def upgrade() -> None:
    op.drop_table("login_throttle")
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(), nullable=True),
        sa.Column("blocked_until", sa.DateTime(), nullable=True),
        sa.Column("last_success_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttle")),
    )

    op.create_table(
        "security_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("username", sa.String(length=40), nullable=True),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("path", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_events")),
    )
    with op.batch_alter_table("security_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_security_events_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_security_events_event"), ["event"], unique=False)
        batch_op.create_index(batch_op.f("ix_security_events_username"), ["username"], unique=False)
    dialect = op.get_bind().dialect.name
    for statement in APPEND_ONLY_POSTGRESQL if dialect == "postgresql" else APPEND_ONLY_SQLITE:
        op.execute(statement)

    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(), nullable=True))
    expiry = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=90)
    op.execute(sa.text("UPDATE api_tokens SET expires_at = :expiry").bindparams(expiry=expiry))
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.alter_column("expires_at", existing_type=sa.DateTime(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("expires_at")

    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS security_events_append_only ON security_events")
        op.execute("DROP FUNCTION IF EXISTS security_events_append_only()")
    with op.batch_alter_table("security_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_security_events_username"))
        batch_op.drop_index(batch_op.f("ix_security_events_event"))
        batch_op.drop_index(batch_op.f("ix_security_events_at"))
    op.drop_table("security_events")

    op.drop_table("login_throttle")
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_failure_at", sa.DateTime(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttle")),
    )
