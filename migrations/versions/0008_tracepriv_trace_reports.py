"""trace reports: buyers report a fake to the alliance

Revision ID: 7c41e2a9b5d3
Revises: 5b7e2c9a41d3
Create Date: 2026-11-27 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7c41e2a9b5d3'
down_revision = '5b7e2c9a41d3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('trace_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code_id', sa.Integer(), nullable=True),
    sa.Column('raw_code', sa.String(length=64), nullable=False),
    sa.Column('place', sa.String(length=60), nullable=False),
    sa.Column('note', sa.String(length=300), nullable=False),
    sa.Column('ip_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['code_id'], ['trace_codes.id'], name=op.f('fk_trace_reports_code_id_trace_codes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trace_reports'))
    )
    with op.batch_alter_table('trace_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trace_reports_code_id'), ['code_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_trace_reports_created_at'), ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('trace_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trace_reports_created_at'))
        batch_op.drop_index(batch_op.f('ix_trace_reports_code_id'))

    op.drop_table('trace_reports')
