"""flash claims written by a worker: a claim the worker refused has no order, and says why

Revision ID: 4f1d8a6c2e90
Revises: 7c41e2a9b5d3
Create Date: 2026-12-06 16:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '4f1d8a6c2e90'
down_revision = '7c41e2a9b5d3'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('flash_claims', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refusal', sa.JSON(), nullable=True))
        batch_op.alter_column('order_id', existing_type=sa.Integer(), nullable=True)


def downgrade():
    op.execute("DELETE FROM flash_claims WHERE order_id IS NULL")
    with op.batch_alter_table('flash_claims', schema=None) as batch_op:
        batch_op.alter_column('order_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('refusal')
