"""Every cart store against its real endpoint: PostgreSQL, Redis, and DynamoDB (moto's server on loopback).

Concurrent edits of one cart must all survive: a barrier holds every request after it has read the cart and
before it writes, which is the interleaving that lost all but one line when the database store rewrote the cart.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.anyio
STORES = ["database", "redis", "dynamodb"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def dynamodb_endpoint() -> Iterator[str]:
    """moto in server mode: a real HTTP endpoint on loopback that boto3 reaches as it would reach AWS."""
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def dynamodb_table(dynamodb_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A carts table shaped like the platform's (components/carts.py): key cart_id, TTL on expires_at."""
    import uuid

    import boto3

    for name, value in {
        "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    name = f"carts-{uuid.uuid4().hex[:8]}"
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "cart_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "cart_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


@pytest.fixture(params=STORES)
def store_settings(request: pytest.FixtureRequest, pg_settings: Any) -> Any:
    """The shop on PostgreSQL (and Redis) with carts in the store under test."""
    store = request.param
    overrides: dict[str, Any] = {"cart_store": store}
    if store == "dynamodb":
        overrides |= {"cart_table": request.getfixturevalue("dynamodb_table"), "aws_region": "us-east-1"}
    if store == "database":
        overrides["redis_url"] = None
    return pg_settings.model_copy(update=overrides)


@pytest.fixture
async def store_shop(store_settings: Any, make_shop: Any) -> Any:
    return await make_shop(store_settings)


def hold_after_read(shop: Any, parties: int) -> list[str]:
    """Every cart read waits until `parties` requests have read: all of them then write from the same state.

    Returns the ids of the carts read, as they are read."""
    barrier = asyncio.Barrier(parties)
    read = shop.rt.carts.get
    seen: list[str] = []

    async def get(cart_id: str) -> Any:
        seen.append(cart_id)
        cart = await read(cart_id)
        await asyncio.wait_for(barrier.wait(), timeout=10)
        return cart

    shop.rt.carts.get = get
    return seen


async def test_twelve_parallel_puts_of_different_skus_keep_twelve_lines(store_shop):
    skus = [f"SKU-{n:02d}" for n in range(12)]
    for sku in skus:
        await store_shop.product(sku, stock=5)
    cart_id = await store_shop.cart_with()
    hold_after_read(store_shop, len(skus))
    responses = await asyncio.gather(
        *(store_shop.public.put(f"/api/v1/carts/{cart_id}/items/{sku}", json={"quantity": 2}) for sku in skus)
    )
    assert [r.status_code for r in responses] == [200] * 12
    del store_shop.rt.carts.get
    body = (await store_shop.public.get(f"/api/v1/carts/{cart_id}")).json()
    assert [(line["sku"], line["quantity"]) for line in body["items"]] == [(sku, 2) for sku in skus]


async def _tab(shop: Any) -> str:
    """A product page open in the browser: its CSRF token (both tabs share the session cookie)."""
    page = (await shop.public.get("/products/MUG-A")).text
    return re.search(r'name="csrf_token" value="([^"]*)"', page).group(1)  # pyright: ignore[reportOptionalMemberAccess]


async def test_add_one_more_from_two_tabs_adds_two(store_shop):
    await store_shop.product("MUG-A", stock=5)
    token = await _tab(store_shop)
    first = await store_shop.public.post("/cart/items", data={"csrf_token": token, "sku": "MUG-A", "quantity": "1"})
    assert first.status_code == 303
    seen = hold_after_read(store_shop, 2)
    tabs = await asyncio.gather(
        *(
            store_shop.public.post("/cart/items", data={"csrf_token": token, "sku": "MUG-A", "quantity": "1"})
            for _ in range(2)
        )
    )
    assert [r.status_code for r in tabs] == [303, 303]
    del store_shop.rt.carts.get
    assert (await store_shop.rt.carts.get(seen[0])).items == {"MUG-A": 3}


async def test_adding_past_the_stock_from_two_tabs_keeps_the_stock(store_shop):
    await store_shop.product("MUG-A", stock=3)
    token = await _tab(store_shop)
    await store_shop.public.post("/cart/items", data={"csrf_token": token, "sku": "MUG-A", "quantity": "1"})
    seen = hold_after_read(store_shop, 2)
    tabs = await asyncio.gather(
        *(
            store_shop.public.post("/cart/items", data={"csrf_token": token, "sku": "MUG-A", "quantity": "2"})
            for _ in range(2)
        )
    )
    assert sorted(r.status_code for r in tabs) == [303, 409]
    del store_shop.rt.carts.get
    assert (await store_shop.rt.carts.get(seen[0])).items == {"MUG-A": 3}


async def test_lifecycle_set_remove_delete(store_shop):
    await store_shop.product("MUG-A", stock=5)
    await store_shop.product("TEE-A", stock=5)
    cart_id = await store_shop.cart_with(**{"MUG-A": 2, "TEE-A": 1})
    await store_shop.public.put(f"/api/v1/carts/{cart_id}/items/MUG-A", json={"quantity": 4})
    await store_shop.public.put(f"/api/v1/carts/{cart_id}/items/TEE-A", json={"quantity": 0})
    cart = await store_shop.rt.carts.get(cart_id)
    assert cart.items == {"MUG-A": 4}
    placed = await store_shop.checkout(cart_id)
    assert placed.status_code == 201, placed.text
    assert await store_shop.rt.carts.get(cart_id) is None  # an order consumes its cart


def test_dynamodb_store_needs_its_table():
    from shop.settings import ConfigError, load_settings

    with pytest.raises(ConfigError, match="SHOP_CART_TABLE: required when SHOP_CART_STORE=dynamodb"):
        load_settings(
            env="dev",
            database_url="sqlite+aiosqlite://",
            admin_token="x" * 16,
            session_secret="y" * 32,
            cart_store="dynamodb",
        )


def test_dynamodb_cart_past_its_ttl_reads_as_absent(dynamodb_table):
    """DynamoDB's TTL deletes expired items only eventually (within days): reads must not resurrect them."""
    import uuid

    from shop.cart_table import DynamoCartTable

    now = [1_000_000.0]
    table = DynamoCartTable(dynamodb_table, "us-east-1", ttl_seconds=60, clock=lambda: now[0])
    cart_id = str(uuid.uuid4())
    table.create(cart_id)
    assert table.add(cart_id, "MUG-A", 1, limit=5) == 1
    now[0] += 59
    assert table.get(cart_id) == {"MUG-A": 1}
    assert table.set(cart_id, "TEE-A", 2)  # a write keeps the cart another TTL
    now[0] += 59
    assert table.get(cart_id) == {"MUG-A": 1, "TEE-A": 2}
    now[0] += 1
    assert table.get(cart_id) is None
    table.delete(cart_id)
    assert not table.set(cart_id, "MUG-A", 1), "a deleted cart is not recreated by a line write"
    assert table.add(cart_id, "MUG-A", 1, limit=5) is None
