"""Checkouts a failure leaves pending between their two transactions: the housekeeping sweep settles them (paid if
the provider charged, otherwise cancelled with the stock returned), once, even with several pods sweeping."""

import asyncio
from datetime import timedelta

import pytest
from shop import orders
from shop.models import utcnow
from shop.payments import PaymentResult, TestPaymentProvider
from sqlalchemy import text

pytestmark = pytest.mark.anyio
STALE = orders.IDEMPOTENCY_LOCK_TIMEOUT + orders.STALLED_MARGIN + timedelta(seconds=1)


class _FailingProvider(TestPaymentProvider):
    """Fails every charge while `failing` is set: before charging, or after charging with the answer lost."""

    def __init__(self, charges_before_failing: bool = False) -> None:
        super().__init__()
        self.charges_before_failing = charges_before_failing
        self.failing = True
        self.release = asyncio.Event()
        self.release.set()
        self.entered = asyncio.Event()
        self.refunds: list[str] = []

    async def charge(self, card, amount, currency, idempotency_key) -> PaymentResult:
        self.entered.set()
        await self.release.wait()
        if self.failing and not self.charges_before_failing:
            raise ConnectionError("provider unreachable")
        result = await super().charge(card, amount, currency, idempotency_key)
        if self.failing:
            raise ConnectionError("connection reset before the answer arrived")
        return result

    async def refund(self, reference: str, amount: int, currency: str) -> None:
        self.refunds.append(reference)


async def _stall(shop, key: str) -> str:
    """A checkout of 2 MUG-A that fails between its transactions; returns its cart."""
    cart_id = await shop.cart_with(**{"MUG-A": 2})
    assert (await shop.checkout(cart_id, key=key)).status_code == 500  # the order stays pending, its stock taken
    return cart_id


async def _age(shop, age: timedelta = STALE, *, keys: bool = True) -> None:
    """Move every pending order (and, with keys, its idempotency key's lock) `age` into the past."""
    async with shop.rt.sessions.begin() as session:
        await session.execute(text("UPDATE orders SET created_at = :t WHERE status = 'pending'"), {"t": utcnow() - age})
        if keys:
            await session.execute(text("UPDATE idempotency_keys SET locked_at = :t"), {"t": utcnow() - age})


async def _history(shop) -> list[tuple[str, list[str]]]:
    listing = (await shop.internal.get("/api/v1/admin/orders", headers=shop.admin)).json()["items"]
    return [(o["status"], [h["status"] for h in o["history"]]) for o in listing]


async def test_a_checkout_that_never_charged_is_cancelled_and_restocked_once(settings, make_shop):
    shop = await make_shop(settings, payments=_FailingProvider())
    await shop.product("MUG-A", stock=5)
    cart_id = await _stall(shop, "key-1")
    assert await shop.stock("MUG-A") == 3
    assert await shop.rt.orders.release_stalled() == 0  # still within the takeover window
    await _age(shop)

    assert await shop.rt.orders.release_stalled() == 1
    assert await shop.stock("MUG-A") == 5 and await _history(shop) == [("cancelled", ["pending", "cancelled"])]
    retry = await shop.checkout(cart_id, key="key-1")  # the answer was recorded for the key
    assert retry.status_code == 409 and retry.json()["error"] == "checkout_expired" and retry.json()["order_number"]
    assert await shop.rt.orders.release_stalled() == 0 and await shop.stock("MUG-A") == 5
    assert shop.rt.metrics.checkout_failures.labels("checkout_expired")._value.get() == 1


async def test_a_checkout_the_provider_charged_is_paid(settings, make_shop):
    provider = _FailingProvider(charges_before_failing=True)
    shop = await make_shop(settings, payments=provider)
    await shop.product("MUG-A", stock=5)
    cart_id = await _stall(shop, "key-1")
    await _age(shop)

    assert await shop.rt.orders.release_stalled() == 1
    assert await shop.stock("MUG-A") == 3 and await _history(shop) == [("paid", ["pending", "paid"])]
    replay = await shop.checkout(cart_id, key="key-1")
    assert replay.status_code == 201 and replay.json()["status"] == "paid" and not provider.refunds


async def test_a_checkout_being_retried_or_still_young_is_left_to_its_request(settings, make_shop):
    shop = await make_shop(settings, payments=_FailingProvider())
    await shop.product("MUG-A", stock=5)
    await _stall(shop, "key-1")
    await _age(shop, keys=False)  # an old order whose key a retry has just taken over
    assert await shop.rt.orders.release_stalled() == 0 and await shop.stock("MUG-A") == 3


async def test_a_provider_that_cannot_say_leaves_the_order_for_the_next_sweep(sqlite_settings, make_shop, monkeypatch):
    provider = _FailingProvider(charges_before_failing=True)
    shop = await make_shop(sqlite_settings, payments=provider)
    await shop.product("MUG-A", stock=5)
    await _stall(shop, "key-1")
    await _age(shop)
    lookup = provider.lookup

    async def unreachable(idempotency_key):
        raise ConnectionError("provider unreachable")

    monkeypatch.setattr(provider, "lookup", unreachable)
    assert await shop.rt.orders.release_stalled() == 0 and await _history(shop) == [("pending", ["pending"])]
    monkeypatch.setattr(provider, "lookup", lookup)
    assert await shop.rt.orders.release_stalled() == 1 and await _history(shop) == [("paid", ["pending", "paid"])]


async def test_keys_of_pending_orders_are_never_purged(settings, make_shop):
    shop = await make_shop(settings, payments=_FailingProvider())
    await shop.product("MUG-A", stock=5)
    await _stall(shop, "key-1")
    async with shop.rt.sessions.begin() as session:
        await session.execute(text("UPDATE idempotency_keys SET created_at = :t"), {"t": utcnow() - timedelta(days=2)})
    assert await shop.rt.orders.purge_expired_keys() == 0  # a retry could still resume the order
    await _age(shop)
    await shop.rt.housekeep()  # settles first, then purges the key
    async with shop.rt.sessions() as session:
        assert (await session.execute(text("SELECT count(*) FROM idempotency_keys"))).scalar_one() == 0
    assert await shop.stock("MUG-A") == 5


async def test_a_charge_that_returns_after_the_sweep_cancelled_is_refunded(settings, make_shop):
    """The provider call outlived the sweep's patience: the order stays cancelled and the late charge is refunded."""
    provider = _FailingProvider()
    provider.failing, provider.release = False, asyncio.Event()
    shop = await make_shop(settings, payments=provider)
    await shop.product("MUG-A", stock=5)
    request = asyncio.create_task(shop.checkout(await shop.cart_with(**{"MUG-A": 2}), key="key-1"))
    await asyncio.wait_for(provider.entered.wait(), 5)
    await _age(shop)
    assert await shop.rt.orders.release_stalled() == 1  # the provider has no charge for it yet
    provider.release.set()
    late = await request
    assert late.status_code == 409 and late.json()["error"] == "checkout_expired"
    assert len(provider.refunds) == 1 and await shop.stock("MUG-A") == 5
    assert await _history(shop) == [("cancelled", ["pending", "cancelled"])]


async def test_pods_sweeping_at_once_settle_each_checkout_once(pg_settings, make_shop):
    first = await make_shop(pg_settings, payments=_FailingProvider())
    second = await make_shop(pg_settings, payments=_FailingProvider())
    await first.product("MUG-A", stock=20)
    for n in range(6):
        await _stall(first, f"key-{n}")
    await _age(first)
    settled = await asyncio.gather(*(s.rt.orders.release_stalled() for s in (first, second, first, second)))
    assert sum(settled) == 6 and await first.stock("MUG-A") == 20
    assert await _history(first) == [("cancelled", ["pending", "cancelled"])] * 6
