"""Alembic environment: runs on the connection handed over by `shop.db.migrate` (sync or async engines)."""

from alembic import context
from shop.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("run migrations with `python -m shop migrate`")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
