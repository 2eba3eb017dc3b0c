"""verdicts that hold: event ids per site, device status by receipt, re-judgements

Revision ID: 0002
Revises: 0001

* events: an id is unique within its site (SPEC §1), so the unique constraint on ``id`` becomes one
  on ``(id, site)`` (id first: ingestion looks repeats up by id). Existing rows are kept as they are:
  ids were globally unique before, so they are unique per site too.
* device_status: offline/online intervals are timed by ``received_at`` (SPEC §2), so the index on
  ``(site, at)`` becomes one on ``(site, received_at)``. Status rows join the audit chain: those
  stored before this revision are appended to it here, in their order.
* rejudgements: each explicit re-judgement of a window's clocks (SPEC §8 ``rejudge``), chained.
"""
from alembic import op
import sqlalchemy as sa

from monitor.store.audit import GENESIS, link_hash, row_digest, status_fields
from monitor.store.models import UTCDateTime


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
    with op.batch_alter_table("device_status") as batch_op:
        batch_op.drop_index("ix_device_status_site_at")
        batch_op.create_index("ix_device_status_site_received", ["site", "received_at"], unique=False)
    _chain_existing_statuses()
    op.create_table('rejudgements',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('standard_id', sa.String(length=64), nullable=False),
    sa.Column('file', sa.String(length=200), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('window_from', UTCDateTime(), nullable=False),
    sa.Column('window_to', UTCDateTime(), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('at', UTCDateTime(), nullable=False),
    sa.Column('clocks', sa.Integer(), nullable=False),
    sa.Column('changed', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )


def _chain_existing_statuses() -> None:
    bind = op.get_bind()
    status = sa.table("device_status", sa.column("seq"), sa.column("site"), sa.column("device"),
                      sa.column("state"), sa.column("at", UTCDateTime()), sa.column("received_at", UTCDateTime()))
    chain = sa.table("audit_chain", sa.column("seq"), sa.column("kind"), sa.column("ref"), sa.column("row_hash"),
                     sa.column("prev_hash"), sa.column("hash"))
    prev = bind.execute(sa.select(chain.c.hash).order_by(chain.c.seq.desc()).limit(1)).scalar() or GENESIS
    links = []
    for row in bind.execute(sa.select(status).order_by(status.c.seq)).mappings():
        content = status_fields(row)
        digest = row_digest(content)
        current = link_hash(prev, "device_status", str(row["seq"]), digest)
        links.append({"kind": "device_status", "ref": str(row["seq"]), "row_hash": digest, "prev_hash": prev,
                      "hash": current})
        prev = current
    if links:
        bind.execute(sa.insert(chain), links)


def downgrade() -> None:
    op.drop_table('rejudgements')
    # the status links stay in the chain (removing them would break every later link); the code of
    # 0001 does not know them, so its verify reports the first as changed
    with op.batch_alter_table("device_status") as batch_op:
        batch_op.drop_index("ix_device_status_site_received")
        batch_op.create_index("ix_device_status_site_at", ["site", "at"], unique=False)
    # fails when two sites share an id by now: those events cannot both be kept under global ids
    with op.batch_alter_table("events", naming_convention=NAMES) as batch_op:
        batch_op.drop_constraint("uq_events_id_site", type_="unique")
        batch_op.create_unique_constraint("uq_events_id", ["id"])
