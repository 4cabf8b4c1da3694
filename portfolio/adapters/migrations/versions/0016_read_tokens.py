"""tokens of what pages read most: a quarter's scores, a mission's candidates

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07

``quarters.scores_token`` is a random value that changes whenever any score of the quarter is
inserted, changed or deleted; ``missions.candidates_token`` whenever any candidate of the mission
or any of their funding options is. Triggers set them, so they change whatever writes: the
application, an import, or a statement typed at the database. A server process keeps what it
read under the token it read it with (``repository.read_cache``) and reads again only under a
new one: the scoring page of a large programme reads thousands of scores, and nearly every page
its 300 candidates.

Random values, not counters: a database restored from a backup brings back old tokens with the
very rows they stood for, and the next change draws a token never seen before. NULL (nothing
written since this revision) means "not known": the rows are read every time.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

SQLITE_TOKEN = "lower(hex(randomblob(16)))"
_MISSION_OF_OPTION = "SELECT mission_id FROM candidates WHERE id = {}.candidate_id"


def _sqlite(table: str, target: str, column: str, key: str) -> list[str]:
    """AFTER INSERT, UPDATE and DELETE triggers on ``table`` setting ``target.column`` of the
    rows ``key`` (an SQL expression of NEW or OLD) names."""
    new, old = key.format("NEW"), key.format("OLD")
    set_token = f"UPDATE {target} SET {column} = {SQLITE_TOKEN} WHERE id IN"
    return [
        f"CREATE TRIGGER {table}_{column}_insert AFTER INSERT ON {table} "
        f"BEGIN {set_token} ({new}); END",
        f"CREATE TRIGGER {table}_{column}_update AFTER UPDATE ON {table} "
        f"BEGIN {set_token} ({old}) OR id IN ({new}); END",
        f"CREATE TRIGGER {table}_{column}_delete AFTER DELETE ON {table} "
        f"BEGIN {set_token} ({old}); END",
    ]


SQLITE = [
    *_sqlite("scores", "quarters", "scores_token", "SELECT {}.quarter_id"),
    *_sqlite("candidates", "missions", "candidates_token", "SELECT {}.mission_id"),
    *_sqlite("funding_options", "missions", "candidates_token", _MISSION_OF_OPTION),
]
SQLITE_DROP = [
    f"DROP TRIGGER IF EXISTS {table}_{column}_{event}"
    for table, column in (
        ("scores", "scores_token"),
        ("candidates", "candidates_token"),
        ("funding_options", "candidates_token"),
    )
    for event in ("insert", "update", "delete")
]

POSTGRESQL_TOKEN = "replace(gen_random_uuid()::text, '-', '')"


def _postgresql(table: str, target: str, column: str, key: str) -> list[str]:
    """One row trigger on ``table`` and its function, as ``_sqlite``."""
    set_token = f"UPDATE {target} SET {column} = {POSTGRESQL_TOKEN} WHERE id IN"
    return [
        f"""CREATE FUNCTION {table}_{column}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP <> 'INSERT' THEN {set_token} ({key.format("OLD")}); END IF;
            IF TG_OP <> 'DELETE' THEN {set_token} ({key.format("NEW")}); END IF;
            RETURN NULL;
        END $$""",
        f"""CREATE TRIGGER {table}_{column} AFTER INSERT OR UPDATE OR DELETE ON {table}
        FOR EACH ROW EXECUTE FUNCTION {table}_{column}()""",
    ]


POSTGRESQL = [
    *_postgresql("scores", "quarters", "scores_token", "SELECT {}.quarter_id"),
    *_postgresql("candidates", "missions", "candidates_token", "SELECT {}.mission_id"),
    *_postgresql("funding_options", "missions", "candidates_token", _MISSION_OF_OPTION),
]
POSTGRESQL_DROP = [
    statement
    for table, column in (
        ("scores", "scores_token"),
        ("candidates", "candidates_token"),
        ("funding_options", "candidates_token"),
    )
    for statement in (
        f"DROP TRIGGER IF EXISTS {table}_{column} ON {table}",
        f"DROP FUNCTION IF EXISTS {table}_{column}()",
    )
]


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    token = POSTGRESQL_TOKEN if postgresql else SQLITE_TOKEN
    op.add_column("quarters", sa.Column("scores_token", sa.String(length=32), nullable=True))
    op.add_column("missions", sa.Column("candidates_token", sa.String(length=32), nullable=True))
    op.execute(
        f"UPDATE quarters SET scores_token = {token} WHERE id IN (SELECT quarter_id FROM scores)"
    )
    op.execute(f"UPDATE missions SET candidates_token = {token}")
    for statement in POSTGRESQL if postgresql else SQLITE:
        op.execute(statement)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRESQL_DROP if postgresql else SQLITE_DROP:
        op.execute(statement)
    op.drop_column("missions", "candidates_token")
    op.drop_column("quarters", "scores_token")
