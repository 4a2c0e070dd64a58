"""report indexes: sales, the stock ledger's flow, deliveries, after-sales and shows by time

Revision ID: 3c1d7e2a9b40
Revises: 9f860cf06667
Create Date: 2026-12-07 05:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '3c1d7e2a9b40'
down_revision = '9f860cf06667'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_sales', ['paid_at', 'status', 'live_room_id', 'total', 'refunded_total'], unique=False)
    with op.batch_alter_table('platform_orders', schema=None) as batch_op:
        batch_op.create_index('ix_platform_orders_sales', ['paid_at', 'status', 'platform', 'seller_id', 'total'], unique=False)
    with op.batch_alter_table('stock_movements', schema=None) as batch_op:
        batch_op.drop_index('ix_stock_movements_created_at')
        batch_op.create_index('ix_stock_movements_flow', ['created_at', 'kind', 'on_hand_delta'], unique=False)
    with op.batch_alter_table('parcels', schema=None) as batch_op:
        batch_op.create_index('ix_parcels_delivered', ['delivered_at', 'carrier'], unique=False)
    with op.batch_alter_table('after_sales', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_after_sales_created_at'), ['created_at'], unique=False)
    with op.batch_alter_table('live_rooms', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_live_rooms_starts_at'), ['starts_at'], unique=False)


def downgrade():
    with op.batch_alter_table('live_rooms', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_live_rooms_starts_at'))
    with op.batch_alter_table('after_sales', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_after_sales_created_at'))
    with op.batch_alter_table('parcels', schema=None) as batch_op:
        batch_op.drop_index('ix_parcels_delivered')
    with op.batch_alter_table('stock_movements', schema=None) as batch_op:
        batch_op.drop_index('ix_stock_movements_flow')
        batch_op.create_index('ix_stock_movements_created_at', ['created_at'], unique=False)
    with op.batch_alter_table('platform_orders', schema=None) as batch_op:
        batch_op.drop_index('ix_platform_orders_sales')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_sales')
