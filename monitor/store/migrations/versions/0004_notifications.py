"""notifications: receivers' groups and messages (SPEC §5.1)

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa
import monitor.store.models

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('notify_groups',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('receiver', sa.String(length=64), nullable=False),
    sa.Column('route', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('labels', sa.JSON(), nullable=False),
    sa.Column('pending', sa.JSON(), nullable=False),
    sa.Column('flush_at', monitor.store.models.UTCDateTime(), nullable=True),
    sa.Column('last_sent_at', monitor.store.models.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('receiver', 'route', 'key', name='uq_notify_groups')
    )
    with op.batch_alter_table('notify_groups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notify_groups_flush_at'), ['flush_at'], unique=False)

    op.create_table('notifications',
    sa.Column('seq', BigId, autoincrement=True, nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('receiver', sa.String(length=64), nullable=False),
    sa.Column('labels', sa.JSON(), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('history', sa.JSON(), nullable=False),
    sa.Column('created_at', monitor.store.models.UTCDateTime(), nullable=False),
    sa.Column('next_attempt_at', monitor.store.models.UTCDateTime(), nullable=True),
    sa.Column('claimed_by', sa.String(length=100), nullable=True),
    sa.Column('delivered_at', monitor.store.models.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('seq'),
    sa.UniqueConstraint('id')
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notifications_created_at'), ['created_at'], unique=False)
        batch_op.create_index('ix_notifications_due', ['state', 'receiver', 'next_attempt_at'], unique=False)


def downgrade() -> None:
    op.drop_table('notifications')
    op.drop_table('notify_groups')
