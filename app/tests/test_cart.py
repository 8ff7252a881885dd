"""Cart API: create, read, set quantities, removal, stock limits."""

import uuid

import pytest

pytestmark = pytest.mark.anyio


async def test_cart_lifecycle(shop):
    await shop.product("MUG-A", price=1250, stock=5)
    await shop.product("TEE-A", price=2000, stock=5)
    created = await shop.public.post("/api/v1/carts")
    assert created.status_code == 201
    cart = created.json()
    assert cart["items"] == [] and cart["subtotal"] == {"amount": 0, "currency": "USD"}
    url = f"/api/v1/carts/{cart['id']}"

    response = await shop.public.put(f"{url}/items/MUG-A", json={"quantity": 2})
    assert response.status_code == 200
    await shop.public.put(f"{url}/items/TEE-A", json={"quantity": 1})
    body = (await shop.public.get(url)).json()
    assert [(i["sku"], i["quantity"]) for i in body["items"]] == [("MUG-A", 2), ("TEE-A", 1)]
    assert body["items"][0]["unit_price"] == {"amount": 1250, "currency": "USD"}
    assert body["items"][0]["line_total"] == {"amount": 2500, "currency": "USD"}
    assert body["subtotal"] == {"amount": 4500, "currency": "USD"}

    await shop.public.put(f"{url}/items/MUG-A", json={"quantity": 3})  # sets, not adds
    await shop.public.put(f"{url}/items/TEE-A", json={"quantity": 0})  # 0 removes
    body = (await shop.public.get(url)).json()
    assert [(i["sku"], i["quantity"]) for i in body["items"]] == [("MUG-A", 3)]


async def test_more_than_stock_is_409(shop):
    await shop.product("MUG-A", stock=2)
    cart_id = await shop.cart_with(**{"MUG-A": 2})
    response = await shop.public.put(f"/api/v1/carts/{cart_id}/items/MUG-A", json={"quantity": 3})
    assert response.status_code == 409
    assert response.json()["error"] == "insufficient_stock" and response.json()["skus"] == ["MUG-A"]
    assert (await shop.public.get(f"/api/v1/carts/{cart_id}")).json()["items"][0]["quantity"] == 2


async def test_unknown_cart_and_product(shop):
    await shop.product("MUG-A")
    assert (await shop.public.get(f"/api/v1/carts/{uuid.uuid4()}")).status_code == 404
    assert (await shop.public.get("/api/v1/carts/not-a-uuid")).status_code == 404
    cart_id = await shop.cart_with()
    missing = await shop.public.put(f"/api/v1/carts/{cart_id}/items/NOPE", json={"quantity": 1})
    assert missing.status_code == 404


@pytest.mark.parametrize(
    "body", [{}, {"quantity": -1}, {"quantity": "many"}, {"quantity": 10**7}, {"quantity": 1, "x": 1}]
)
async def test_invalid_quantity_is_422(sqlite_shop, body):
    await sqlite_shop.product("MUG-A")
    cart_id = await sqlite_shop.cart_with()
    response = await sqlite_shop.public.put(f"/api/v1/carts/{cart_id}/items/MUG-A", json=body)
    assert response.status_code == 422 and response.json()["fields"]


async def test_carts_live_in_redis_with_ttl(pg_shop):
    import redis as redis_sync

    cart_id = await pg_shop.cart_with()
    client = redis_sync.Redis.from_url(pg_shop.rt.settings.redis_url)
    ttl = client.ttl(pg_shop.rt.settings.redis_key_prefix + f"cart:{cart_id}")
    client.close()
    assert 0 < ttl <= pg_shop.rt.settings.cart_ttl_seconds
