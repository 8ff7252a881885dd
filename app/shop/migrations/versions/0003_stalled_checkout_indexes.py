"""Indexes for the housekeeping sweep of stalled checkouts: pending orders by age (partial: the pending ones are
few), and idempotency keys by order.

Expand-only: the previous image works with them.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pending = sa.text("status = 'pending'")
    op.create_index(
        "ix_orders_pending_created_at", "orders", ["created_at"], postgresql_where=pending, sqlite_where=pending
    )
    op.create_index(op.f("ix_idempotency_keys_order_id"), "idempotency_keys", ["order_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_idempotency_keys_order_id"), table_name="idempotency_keys")
    op.drop_index("ix_orders_pending_created_at", table_name="orders")
