"""Idempotency-Key semantics (Stripe's): replay, conflicting body, concurrent retry, retention, takeover."""

import asyncio
from datetime import timedelta

import pytest
from shop import orders
from shop.models import utcnow
from shop.payments import PaymentResult, TestPaymentProvider
from sqlalchemy import text

pytestmark = pytest.mark.anyio


async def _order_count(shop) -> int:
    return (await shop.internal.get("/api/v1/admin/orders", headers=shop.admin)).json()["total"]


async def test_same_key_and_body_returns_the_same_order(shop):
    await shop.product("MUG-A", stock=5)
    cart_id = await shop.cart_with(**{"MUG-A": 1})
    first = await shop.checkout(cart_id, key="key-1")
    second = await shop.checkout(cart_id, key="key-1")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert await _order_count(shop) == 1 and await shop.stock("MUG-A") == 4


async def test_formatting_differences_are_the_same_body(shop):
    await shop.product("MUG-A", stock=5)
    cart_id = await shop.cart_with(**{"MUG-A": 1})
    first = await shop.checkout(cart_id, key="key-1")
    spaced = shop.VALID_CARD | {"card_number": "4242-4242-4242-4242"}
    assert (await shop.checkout(cart_id, key="key-1", payment=spaced)).json()["id"] == first.json()["id"]


async def test_declines_are_replayed_too(shop):
    await shop.product("MUG-A", stock=5)
    cart_id = await shop.cart_with(**{"MUG-A": 1})
    declined = shop.VALID_CARD | {"card_number": "4000000000000002"}
    first = await shop.checkout(cart_id, key="key-1", payment=declined)
    second = await shop.checkout(cart_id, key="key-1", payment=declined)
    assert first.status_code == second.status_code == 402 and first.json() == second.json()
    assert await _order_count(shop) == 1


async def test_same_key_different_body_is_422(shop):
    await shop.product("MUG-A", stock=5)
    cart_id = await shop.cart_with(**{"MUG-A": 1})
    assert (await shop.checkout(cart_id, key="key-1")).status_code == 201
    other = await shop.checkout(cart_id, key="key-1", email="eve@example.com")
    assert other.status_code == 422 and other.json()["error"] == "idempotency_key_reused"
    assert await _order_count(shop) == 1


class _SlowProvider(TestPaymentProvider):
    """Holds every charge until released, so a retry arrives while the first request is in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def charge(self, card, amount, currency, idempotency_key) -> PaymentResult:
        self.entered.set()
        await self.release.wait()
        return await super().charge(card, amount, currency, idempotency_key)


async def test_concurrent_retry_is_409(settings, make_shop):
    provider = _SlowProvider()
    shop = await make_shop(settings, payments=provider)
    await shop.product("MUG-A", stock=5)
    cart_id = await shop.cart_with(**{"MUG-A": 1})
    first = asyncio.create_task(shop.checkout(cart_id, key="key-1"))
    await asyncio.wait_for(provider.entered.wait(), 5)
    retry = await shop.checkout(cart_id, key="key-1")
    assert retry.status_code == 409 and retry.json()["error"] == "idempotency_key_in_use"
    provider.release.set()
    assert (await first).status_code == 201
    assert (await shop.checkout(cart_id, key="key-1")).json()["id"] == (await first).json()["id"]
    assert await _order_count(shop) == 1


async def test_keys_are_kept_24_hours_then_purged(shop):
    await shop.product("MUG-A", stock=5)
    cart_id = await shop.cart_with(**{"MUG-A": 1})
    first = (await shop.checkout(cart_id, key="key-1")).json()
    await _age_key(shop, "api:key-1", timedelta(hours=23, minutes=59))
    assert await shop.rt.orders.purge_expired_keys() == 0
    assert (await shop.checkout(cart_id, key="key-1")).json()["id"] == first["id"]
    await _age_key(shop, "api:key-1", timedelta(hours=24, minutes=1))
    assert await shop.rt.orders.purge_expired_keys() == 1


async def _age_key(shop, key, age):
    async with shop.rt.sessions.begin() as session:
        await session.execute(
            text("UPDATE idempotency_keys SET created_at = :t WHERE key = :k"), {"t": utcnow() - age, "k": key}
        )


class _CrashingProvider(TestPaymentProvider):
    def __init__(self) -> None:
        super().__init__()
        self.crash = True

    async def charge(self, card, amount, currency, idempotency_key) -> PaymentResult:
        if self.crash:
            raise ConnectionError("provider unreachable")
        return await super().charge(card, amount, currency, idempotency_key)


async def test_a_stale_in_flight_key_is_taken_over_and_resumes_the_same_order(settings, make_shop, monkeypatch):
    provider = _CrashingProvider()
    shop = await make_shop(settings, payments=provider)
    await shop.product("MUG-A", stock=5)
    cart_id = await shop.cart_with(**{"MUG-A": 1})
    crashed = await shop.checkout(cart_id, key="key-1")
    assert crashed.status_code == 500 and "Traceback" not in crashed.text
    assert (await shop.checkout(cart_id, key="key-1")).status_code == 409  # still locked
    provider.crash = False
    monkeypatch.setattr(orders, "IDEMPOTENCY_LOCK_TIMEOUT", timedelta(seconds=0))
    resumed = await shop.checkout(cart_id, key="key-1")
    assert resumed.status_code == 201 and resumed.json()["status"] == "paid"
    assert await _order_count(shop) == 1 and await shop.stock("MUG-A") == 4


async def test_a_failure_before_any_write_frees_the_key(settings, make_shop, monkeypatch):
    shop = await make_shop(settings)
    await shop.product("MUG-A", stock=5)
    cart_id = await shop.cart_with(**{"MUG-A": 1})

    async def broken(*args, **kwargs):
        raise ConnectionError("database went away")

    monkeypatch.setattr(shop.rt.carts, "price", broken)
    assert (await shop.checkout(cart_id, key="key-1")).status_code == 500
    monkeypatch.undo()
    assert (await shop.checkout(cart_id, key="key-1")).status_code == 201
