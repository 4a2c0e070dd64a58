"""licence renewal requests sellers make from their phone pages

Revision ID: 5e11e2b7a017
Revises: 483bf2ae8ebe
Create Date: 2026-12-07 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5e11e2b7a017'
down_revision = '483bf2ae8ebe'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('licence_renewal_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seller_id', sa.Integer(), nullable=False),
    sa.Column('licence_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['licence_id'], ['brand_licences.id'], name=op.f('fk_licence_renewal_requests_licence_id_brand_licences')),
    sa.ForeignKeyConstraint(['seller_id'], ['sellers.id'], name=op.f('fk_licence_renewal_requests_seller_id_sellers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_licence_renewal_requests'))
    )
    with op.batch_alter_table('licence_renewal_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_licence_renewal_requests_seller_id'), ['seller_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_licence_renewal_requests_status'), ['status'], unique=False)


def downgrade():
    with op.batch_alter_table('licence_renewal_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_licence_renewal_requests_status'))
        batch_op.drop_index(batch_op.f('ix_licence_renewal_requests_seller_id'))
    op.drop_table('licence_renewal_requests')
