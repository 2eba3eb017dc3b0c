"""verdicts that hold: event ids per site

Revision ID: 0002
Revises: 0001

* events: an id is unique within its site (SPEC §1), so the unique constraint on ``id`` becomes one
  on ``(id, site)`` (id first: ingestion looks repeats up by id). Existing rows are kept as they are:
  ids were globally unique before, so they are unique per site too.
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

# SQLite keeps 0001's UNIQUE (id) unnamed; batch mode names it by this convention so it can be dropped.
NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _unique_on(table: str, columns: list[str]) -> str:
    for constraint in sa.inspect(op.get_bind()).get_unique_constraints(table):
        if constraint["column_names"] == columns and constraint.get("name"):
            return constraint["name"]
    return NAMES["uq"] % {"table_name": table, "column_0_name": columns[0]}


def upgrade() -> None:
    old = _unique_on("events", ["id"])
    with op.batch_alter_table("events", naming_convention=NAMES) as batch_op:
        batch_op.drop_constraint(old, type_="unique")
        batch_op.create_unique_constraint("uq_events_id_site", ["id", "site"])


def downgrade() -> None:
    # fails when two sites share an id by now: those events cannot both be kept under global ids
    with op.batch_alter_table("events", naming_convention=NAMES) as batch_op:
        batch_op.drop_constraint("uq_events_id_site", type_="unique")
        batch_op.create_unique_constraint("uq_events_id", ["id"])
