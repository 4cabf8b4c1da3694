"""tamper evident history

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07

A keyed hash chain over the audit entries and each closed quarter's frozen rows (issue 16,
finding 5).

- ``audit_entries`` gains ``seq``, ``previous_hash`` and ``entry_hash``: each mission's entries
  (and the entries about no mission) are numbered 1, 2, … and chained with HMAC-SHA-256 under
  the server's history key (``portfolio/adapters/auditpack.py``). A unique index on (mission, seq)
  keeps
  two concurrent writers from both appending entry n.
- ``quarters`` gains ``pack_seal``: the keyed seal of the quarter's audit pack, chained to the
  previous quarter's seal.

The migration cannot know the key, so it computes nothing: entries already written stay "before
the chain" (no ``seq``), and the first entry of each chain written after it points at a keyed
hash of all of them, which vouches for them from then on; quarters closed before it have no
seal, and the first quarter sealed after it is chained to their (plain SHA-256) pack hashes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# the append-only triggers of 0001, which SQLite loses when a batch operation rebuilds the table
APPEND_ONLY_SQLITE = [
    """CREATE TRIGGER IF NOT EXISTS audit_entries_no_update BEFORE UPDATE ON audit_entries
       BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS audit_entries_no_delete BEFORE DELETE ON audit_entries
       BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END""",
]


def upgrade() -> None:
    # adding nullable columns and an index rebuilds nothing on SQLite: the triggers stay
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("previous_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("entry_hash", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_audit_entries_chain", ["mission", "seq"], unique=True)
    with op.batch_alter_table("quarters", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pack_seal", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("quarters", schema=None) as batch_op:
        batch_op.drop_column("pack_seal")
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_entries_chain")
        batch_op.drop_column("entry_hash")
        batch_op.drop_column("previous_hash")
        batch_op.drop_column("seq")
    if op.get_bind().dialect.name == "sqlite":  # dropping columns rebuilt the table
        for statement in APPEND_ONLY_SQLITE:
            op.execute(statement)
