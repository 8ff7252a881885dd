"""One order per cart, whatever the Idempotency-Keys: the cart is claimed at reservation (races on PostgreSQL,
started together at a barrier)."""

import asyncio
import uuid

import pytest

pytestmark = [pytest.mark.anyio]


async def _race(shop, cart: str, count: int) -> list:
    """`count` checkouts of one cart with different keys, all past their cart read before any reserves."""
    barrier = asyncio.Barrier(count)
    get = shop.rt.carts.get

    async def get_together(cart_id: str):
        found = await get(cart_id)
        await barrier.wait()
        return found

    shop.rt.carts.get = get_together
    try:
        return await asyncio.gather(*(shop.checkout(cart, key=uuid.uuid4().hex) for _ in range(count)))
    finally:
        shop.rt.carts.get = get


@pytest.mark.services
async def test_ten_parallel_checkouts_of_one_cart_place_one_order(pg_shop):
    await pg_shop.product("MUG-A", stock=100)
    cart = await pg_shop.cart_with(**{"MUG-A": 2})
    responses = await _race(pg_shop, cart, 10)
    placed = [r for r in responses if r.status_code == 201]
    assert len(placed) == 1, [r.status_code for r in responses]
    number = placed[0].json()["number"]
    for refused in (r for r in responses if r.status_code != 201):
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"] == "cart_already_ordered"
        assert refused.json()["order_number"] == number
    assert await pg_shop.stock("MUG-A") == 98


async def test_a_second_checkout_of_a_cart_gets_409_naming_the_order(shop):
    await shop.product("MUG-A", stock=10)
    cart = await shop.cart_with(**{"MUG-A": 1})
    declined = await shop.checkout(cart, payment=shop.VALID_CARD | {"card_number": "4000 0000 0000 0002"})
    assert declined.status_code == 402  # a declined card cancels its order: the shopper may try another card
    first = await shop.checkout(cart)
    assert first.status_code == 201, first.text
    # The cart is gone after a paid checkout; a second one still in the store (a tab racing the first) is refused.
    shop.rt.carts.get = _kept(shop.rt.carts.get, cart)
    second = await shop.checkout(cart)
    assert second.status_code == 409, second.text
    assert second.json()["order_number"] == first.json()["number"]
    assert await shop.stock("MUG-A") == 9


def _kept(get, cart_id: str):
    from shop.carts import Cart

    async def still_there(requested: str):
        return await get(requested) or Cart(id=cart_id, items={"MUG-A": 1})

    return still_there
