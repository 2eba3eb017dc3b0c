"""users.language: the page language a user picked (SPEC §6.1)

Revision ID: 0007
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa

revision = "0007"
# The brief named "0001"; main already chains 0001→0003→0004, and a second head would stop
# `upgrade head`, so this follows the head of main. The lead re-chains it at merge.
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("language", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("language")
