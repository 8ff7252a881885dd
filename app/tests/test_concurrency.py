"""Inventory cannot oversell: racing checkouts on PostgreSQL, and the database constraint behind it."""

import asyncio
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

pytestmark = [pytest.mark.anyio, pytest.mark.services]


async def test_50_parallel_checkouts_for_the_last_10_units(pg_shop):
    await pg_shop.product("LAST", stock=10)
    carts = [await pg_shop.cart_with(LAST=1) for _ in range(50)]
    responses = await asyncio.gather(*(pg_shop.checkout(cart, key=uuid.uuid4().hex) for cart in carts))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 10 and statuses.count(409) == 40, statuses
    assert await pg_shop.stock("LAST") == 0
    async with pg_shop.rt.sessions() as session:
        sold = (
            await session.execute(
                text(
                    "SELECT coalesce(sum(quantity), 0) FROM order_lines l JOIN orders o ON o.id = l.order_id "
                    "WHERE o.status = 'paid' AND l.sku = 'LAST'"
                )
            )
        ).scalar_one()
    assert sold == 10


async def test_stock_check_constraint_rejects_negative_stock(shop):
    await shop.product("MUG-A", stock=1)
    with pytest.raises(IntegrityError):
        async with shop.rt.sessions.begin() as session:
            await session.execute(text("UPDATE products SET stock = stock - 2 WHERE sku = 'MUG-A'"))
    assert await shop.stock("MUG-A") == 1
