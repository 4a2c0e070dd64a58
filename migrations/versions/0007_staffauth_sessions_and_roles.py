"""staff: a session generation that ends every console session at once; roles from the table

Revision ID: 5b7e2c9a41d3
Revises: c2a23bfc1f49
Create Date: 2026-12-02 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5b7e2c9a41d3'
down_revision = 'c2a23bfc1f49'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('session_generation', sa.Integer(), nullable=False, server_default='0')
        )
    # The old catch-all role "staff" could reach everything but staff management; it becomes
    # operations, the nearest role of backend/staff/permissions.py.
    op.execute("UPDATE staff SET role = 'operations' WHERE role = 'staff'")


def downgrade():
    op.execute("UPDATE staff SET role = 'staff' WHERE role = 'operations'")
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.drop_column('session_generation')
