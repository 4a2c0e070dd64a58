"""audit records: who changed what, before and after

Revision ID: 9f860cf06667
Revises: 5477cebdb2e1
Create Date: 2026-12-07 05:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9f860cf06667'
down_revision = '5477cebdb2e1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('audit_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('staff_name', sa.String(length=40), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('target_type', sa.String(length=30), nullable=False),
    sa.Column('target_id', sa.String(length=40), nullable=False),
    sa.Column('summary', sa.String(length=200), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_audit_records_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_records'))
    )
    with op.batch_alter_table('audit_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_records_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_records_staff_id'), ['staff_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_records_action'), ['action'], unique=False)


def downgrade():
    with op.batch_alter_table('audit_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_records_action'))
        batch_op.drop_index(batch_op.f('ix_audit_records_staff_id'))
        batch_op.drop_index(batch_op.f('ix_audit_records_at'))
    op.drop_table('audit_records')
