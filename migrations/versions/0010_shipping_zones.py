"""shipping zones: where live products go and what shipping costs per province

Revision ID: ccd02f21436d
Revises: 4f1d8a6c2e90
Create Date: 2026-12-07 10:00:00

"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'ccd02f21436d'
down_revision = '4f1d8a6c2e90'
branch_labels = None
depends_on = None

# A fresh install's table (fen): the default for every province without its own row, and the
# regions live shellfish cannot reach alive. Staff edit it on /console/shipping.
ZONES = [
    # province, ships live, first kg, each further kg, cold-chain surcharge, days
    ('*', True, 1800, 600, 1500, '2-3天'),
    ('新疆维吾尔自治区', False, 2800, 1200, 2500, '4-6天'),
    ('西藏自治区', False, 2800, 1200, 2500, '4-6天'),
    ('青海省', False, 2800, 1200, 2500, '4-6天'),
    ('香港特别行政区', False, 4500, 1500, 3000, '3-5天'),
    ('澳门特别行政区', False, 4500, 1500, 3000, '3-5天'),
    ('台湾省', False, 6000, 2000, 3000, '5-7天'),
]


def upgrade():
    zones = op.create_table('shipping_zones',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('province', sa.String(length=20), nullable=False),
    sa.Column('ships_live', sa.Boolean(), nullable=False),
    sa.Column('first_weight_fee', sa.Integer(), nullable=False),
    sa.Column('extra_kg_fee', sa.Integer(), nullable=False),
    sa.Column('cold_chain_fee', sa.Integer(), nullable=False),
    sa.Column('days', sa.String(length=20), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shipping_zones')),
    sa.UniqueConstraint('province', name=op.f('uq_shipping_zones_province'))
    )
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    op.bulk_insert(zones, [
        {'province': province, 'ships_live': live, 'first_weight_fee': first,
         'extra_kg_fee': extra, 'cold_chain_fee': cold, 'days': days, 'updated_at': now}
        for province, live, first, extra, cold, days in ZONES
    ])


def downgrade():
    op.drop_table('shipping_zones')
