"""farm keys: a processing-API key may belong to a farm's system, which posts only its own units' growth updates

Revision ID: 5b2e9c4f7a61
Revises: 8d7591db3400
Create Date: 2026-12-07 16:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5b2e9c4f7a61'
down_revision = '8d7591db3400'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('plants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('farm_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_plants_farm_id'), ['farm_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_plants_farm_id_farms'), 'farms', ['farm_id'], ['id'])


def downgrade():
    with op.batch_alter_table('plants', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_plants_farm_id_farms'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_plants_farm_id'))
        batch_op.drop_column('farm_id')
