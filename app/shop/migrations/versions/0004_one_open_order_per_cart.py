"""One open order per cart: orders remember their cart, and a partial unique index lets a cart have at most one
order that is not cancelled (a declined card cancels its order, so the shopper can try another).

Expand-only: the previous image leaves the column NULL, which the index ignores.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("cart_id", sa.String(36), nullable=True))
    open_order = sa.text("status <> 'cancelled'")
    op.create_index(
        "uq_orders_open_cart",
        "orders",
        ["cart_id"],
        unique=True,
        postgresql_where=open_order,
        sqlite_where=open_order,
    )


def downgrade() -> None:
    op.drop_index("uq_orders_open_cart", table_name="orders")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("cart_id")
