"""seller tokens expire, carry a name and their last use

Revision ID: c2a23bfc1f49
Revises: 3d52ec834fcd
Create Date: 2026-12-07 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c2a23bfc1f49'
down_revision = '3d52ec834fcd'
branch_labels = None
depends_on = None

# Tokens issued before tokens expired get the default lifetime from now on.
EXISTING_TOKENS_DAYS = 90


def upgrade():
    with op.batch_alter_table('seller_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name', sa.String(length=40), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('last_used_at', sa.DateTime(), nullable=True))
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        op.execute(
            f"UPDATE seller_tokens SET expires_at = now() at time zone 'utc' "
            f"+ interval '{EXISTING_TOKENS_DAYS} days'"
        )
    else:
        op.execute(
            f"UPDATE seller_tokens SET expires_at = datetime('now', '+{EXISTING_TOKENS_DAYS} days')"
        )
    with op.batch_alter_table('seller_tokens', schema=None) as batch_op:
        batch_op.alter_column('expires_at', existing_type=sa.DateTime(), nullable=False)
        batch_op.alter_column('name', existing_type=sa.String(length=40), server_default=None)


def downgrade():
    with op.batch_alter_table('seller_tokens', schema=None) as batch_op:
        batch_op.drop_column('last_used_at')
        batch_op.drop_column('expires_at')
        batch_op.drop_column('name')
