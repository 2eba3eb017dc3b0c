"""server-side login sessions, shared settings, login rate-limit hits; NOTIFY on alert changes

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa
import monitor.store.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# PostgreSQL only: every statement that adds alert actions wakes the web processes' SSE streams
# (LISTEN smartmon_alert_actions) at commit, instead of each stream polling.
NOTIFY_FUNCTION = """
CREATE OR REPLACE FUNCTION smartmon_notify_alert_actions() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('smartmon_alert_actions', '');
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""
NOTIFY_TRIGGER = """
CREATE TRIGGER alert_actions_notify AFTER INSERT ON alert_actions
FOR EACH STATEMENT EXECUTE FUNCTION smartmon_notify_alert_actions()
"""


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", BigId, nullable=True),
        sa.Column("token_id", sa.String(length=16), nullable=True),
        sa.Column("credential", sa.String(length=80), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", monitor.store.models.UTCDateTime(), nullable=False),
        sa.Column("expires_at", monitor.store.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id_hash"),
    )
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_web_sessions_user_id"), ["user_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_web_sessions_token_id"), ["token_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_web_sessions_expires_at"), ["expires_at"], unique=False)
    op.create_table(
        "settings",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "rate_limit_hits",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rate_limit_hits", schema=None) as batch_op:
        batch_op.create_index("ix_rate_limit_hits_key_at", ["key", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_rate_limit_hits_expires_at"), ["expires_at"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(NOTIFY_FUNCTION)
        op.execute(NOTIFY_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS alert_actions_notify ON alert_actions")
        op.execute("DROP FUNCTION IF EXISTS smartmon_notify_alert_actions()")
    op.drop_table("rate_limit_hits")
    op.drop_table("settings")
    op.drop_table("web_sessions")
