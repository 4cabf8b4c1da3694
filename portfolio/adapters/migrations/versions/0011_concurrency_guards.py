"""concurrency guards

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07

Database-level guarantees that hold whatever the application does and however requests
interleave:

- a submitted score is final: an UPDATE of a submitted score is refused;
- no optimiser run is recorded in a closed quarter: the INSERT is refused (on PostgreSQL the
  check takes a share lock on the quarter's row: it waits for a close in progress, then sees it);
- no run is approved in a closed quarter: a closed quarter's approved run and state never change,
  and a quarter's approved run must be a run of that quarter.

The application checks the same rules first and locks the quarter itself
(``portfolio.services.quarters.lock_current``), so users get a clear message; these triggers are the
backstop. SQLite drops a table's triggers when a batch migration rebuilds the table: a later
migration that rebuilds ``scores``, ``optimiser_runs`` or ``quarters`` must create them again.
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

FINAL = "a submitted score is final: it cannot be changed"
CLOSED_RUN = "the quarter is closed: no optimiser run can be recorded in it"
CLOSED_APPROVAL = "the quarter is closed: its approved allocation cannot change"
OTHER_QUARTER = "an approved run must be a run of the quarter it is approved for"

SQLITE = [
    f"""CREATE TRIGGER scores_submitted_final BEFORE UPDATE ON scores
        WHEN OLD.status = 'submitted'
        BEGIN SELECT RAISE(ABORT, '{FINAL}'); END""",
    f"""CREATE TRIGGER optimiser_runs_open_quarter BEFORE INSERT ON optimiser_runs
        WHEN EXISTS (
            SELECT 1 FROM quarters
            WHERE mission_id = NEW.mission_id AND label = NEW.quarter AND state = 'closed'
        )
        BEGIN SELECT RAISE(ABORT, '{CLOSED_RUN}'); END""",
    f"""CREATE TRIGGER quarters_closed_approval BEFORE UPDATE ON quarters
        WHEN OLD.state = 'closed' AND (
            NEW.state IS NOT 'closed' OR NEW.approved_run_id IS NOT OLD.approved_run_id
        )
        BEGIN SELECT RAISE(ABORT, '{CLOSED_APPROVAL}'); END""",
    f"""CREATE TRIGGER quarters_approved_run_of_quarter BEFORE UPDATE OF approved_run_id ON quarters
        WHEN NEW.approved_run_id IS NOT NULL AND (
            SELECT quarter FROM optimiser_runs WHERE id = NEW.approved_run_id
        ) IS NOT NEW.label
        BEGIN SELECT RAISE(ABORT, '{OTHER_QUARTER}'); END""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS scores_submitted_final",
    "DROP TRIGGER IF EXISTS optimiser_runs_open_quarter",
    "DROP TRIGGER IF EXISTS quarters_closed_approval",
    "DROP TRIGGER IF EXISTS quarters_approved_run_of_quarter",
]

# errors raised as integrity violations, so the application's Conflict handling covers them
POSTGRESQL = [
    f"""CREATE FUNCTION scores_submitted_final() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '{FINAL}' USING ERRCODE = 'integrity_constraint_violation';
        END $$""",
    """CREATE TRIGGER scores_submitted_final BEFORE UPDATE ON scores
       FOR EACH ROW WHEN (OLD.status = 'submitted') EXECUTE FUNCTION scores_submitted_final()""",
    f"""CREATE FUNCTION optimiser_runs_open_quarter() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE quarter_state text;
        BEGIN
            -- FOR SHARE: wait for a close of the quarter in progress, then read its outcome
            SELECT state INTO quarter_state FROM quarters
            WHERE mission_id = NEW.mission_id AND label = NEW.quarter FOR SHARE;
            IF quarter_state = 'closed' THEN
                RAISE EXCEPTION '{CLOSED_RUN}' USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            RETURN NEW;
        END $$""",
    """CREATE TRIGGER optimiser_runs_open_quarter BEFORE INSERT ON optimiser_runs
       FOR EACH ROW EXECUTE FUNCTION optimiser_runs_open_quarter()""",
    f"""CREATE FUNCTION quarters_closed_approval() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '{CLOSED_APPROVAL}' USING ERRCODE = 'integrity_constraint_violation';
        END $$""",
    """CREATE TRIGGER quarters_closed_approval BEFORE UPDATE ON quarters
       FOR EACH ROW WHEN (OLD.state = 'closed' AND (
           NEW.state IS DISTINCT FROM 'closed'
           OR NEW.approved_run_id IS DISTINCT FROM OLD.approved_run_id
       )) EXECUTE FUNCTION quarters_closed_approval()""",
    f"""CREATE FUNCTION quarters_approved_run_of_quarter() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.approved_run_id IS NOT NULL AND (
                SELECT quarter FROM optimiser_runs WHERE id = NEW.approved_run_id
            ) IS DISTINCT FROM NEW.label THEN
                RAISE EXCEPTION '{OTHER_QUARTER}' USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            RETURN NEW;
        END $$""",
    """CREATE TRIGGER quarters_approved_run_of_quarter BEFORE UPDATE OF approved_run_id
       ON quarters FOR EACH ROW EXECUTE FUNCTION quarters_approved_run_of_quarter()""",
]
POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS scores_submitted_final ON scores",
    "DROP FUNCTION IF EXISTS scores_submitted_final()",
    "DROP TRIGGER IF EXISTS optimiser_runs_open_quarter ON optimiser_runs",
    "DROP FUNCTION IF EXISTS optimiser_runs_open_quarter()",
    "DROP TRIGGER IF EXISTS quarters_closed_approval ON quarters",
    "DROP FUNCTION IF EXISTS quarters_closed_approval()",
    "DROP TRIGGER IF EXISTS quarters_approved_run_of_quarter ON quarters",
    "DROP FUNCTION IF EXISTS quarters_approved_run_of_quarter()",
]


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRESQL if postgresql else SQLITE:
        op.execute(statement)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRESQL_DROP if postgresql else SQLITE_DROP:
        op.execute(statement)
