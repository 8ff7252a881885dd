"""Catalog API: listing, search, categories, pagination, product reads and cache invalidation."""

import pytest
from shop import cache
from sqlalchemy import text

pytestmark = pytest.mark.anyio


async def test_list_search_category_and_pagination(shop):
    await shop.product("MUG-A", name="Blue mug", category="mugs", price=1250)
    await shop.product("MUG-B", name="Red mug", category="mugs")
    await shop.product("TEE-A", name="Blue shirt", category="shirts", description="Soft cotton")

    page = (await shop.public.get("/api/v1/products")).json()
    assert page["total"] == 3
    mug = next(p for p in page["items"] if p["sku"] == "MUG-A")
    assert mug == {
        "sku": "MUG-A",
        "name": "Blue mug",
        "description": "",
        "category": "mugs",
        "price": {"amount": 1250, "currency": "USD"},
        "stock": 10,
        "image_url": None,
    }
    assert {p["sku"] for p in (await shop.public.get("/api/v1/products?q=blue")).json()["items"]} == {"MUG-A", "TEE-A"}
    assert (await shop.public.get("/api/v1/products?q=COTTON")).json()["total"] == 1
    assert (await shop.public.get("/api/v1/products?q=100%25")).json()["total"] == 0  # LIKE wildcards are literal
    by_category = (await shop.public.get("/api/v1/products?category=mugs")).json()
    assert by_category["total"] == 2 and {p["category"] for p in by_category["items"]} == {"mugs"}
    first = (await shop.public.get("/api/v1/products?limit=2&offset=0")).json()
    second = (await shop.public.get("/api/v1/products?limit=2&offset=2")).json()
    assert len(first["items"]) == 2 and len(second["items"]) == 1 and first["total"] == second["total"] == 3
    categories = (await shop.public.get("/api/v1/categories")).json()
    assert categories == [
        {"slug": "mugs", "name": "Mugs", "count": 2},
        {"slug": "shirts", "name": "Shirts", "count": 1},
    ]


async def test_product_by_sku_and_not_found(shop):
    await shop.product("MUG-A", price=999, stock=3)
    response = await shop.public.get("/api/v1/products/MUG-A")
    assert response.status_code == 200
    assert response.json()["price"] == {"amount": 999, "currency": "USD"} and response.json()["stock"] == 3
    for sku in ("NOPE", "bad sku", "x" * 300):
        missing = await shop.public.get(f"/api/v1/products/{sku}")
        assert missing.status_code == 404 and missing.json()["error"] == "not_found"


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=101", "offset=-1", "limit=abc", "q=" + "x" * 101, "q=%00", "category=%01"]
)
async def test_invalid_query_is_422_with_field(sqlite_shop, query):
    response = await sqlite_shop.public.get(f"/api/v1/products?{query}")
    assert response.status_code == 422
    assert response.json()["error"] == "validation_failed" and response.json()["fields"][0]["field"]


async def test_admin_change_invalidates_cached_reads(shop):
    await shop.product("MUG-A", price=1000)
    assert (await shop.public.get("/api/v1/products/MUG-A")).json()["price"]["amount"] == 1000
    assert (await shop.public.get("/api/v1/products")).json()["items"][0]["price"]["amount"] == 1000
    body = {"name": "Mug", "category": "mugs", "price": {"amount": 1500, "currency": "USD"}}
    assert (await shop.internal.put("/api/v1/admin/products/MUG-A", json=body, headers=shop.admin)).status_code == 200
    assert (await shop.public.get("/api/v1/products/MUG-A")).json()["price"]["amount"] == 1500
    assert (await shop.public.get("/api/v1/products")).json()["items"][0]["price"]["amount"] == 1500
    await shop.internal.put("/api/v1/admin/products/MUG-A/stock", json={"stock": 0}, headers=shop.admin)
    assert (await shop.public.get("/api/v1/products/MUG-A")).json()["stock"] == 0


async def test_reads_are_cached(shop):
    await shop.product("MUG-A")
    await shop.public.get("/api/v1/products/MUG-A")
    async with shop.rt.sessions.begin() as session:  # behind the cache's back
        await session.execute(text("UPDATE products SET name = 'Changed' WHERE sku = 'MUG-A'"))
    assert (await shop.public.get("/api/v1/products/MUG-A")).json()["name"] == "Mug-A"
    hits = shop.rt.metrics.cache.labels("catalog_local", "hit")._value.get()
    assert hits >= 1


async def test_admin_change_reaches_other_instances(pg_settings, make_shop, monkeypatch):
    """Two pods sharing Redis: an edit on one retires the other's cached copies via the version key."""
    monkeypatch.setattr(cache, "VERSION_CHECK_SECONDS", 0.0)
    first, second = await make_shop(pg_settings), await make_shop(pg_settings)
    await first.product("MUG-A", price=1000)
    assert (await second.public.get("/api/v1/products/MUG-A")).json()["price"]["amount"] == 1000
    body = {"name": "Mug", "category": "mugs", "price": {"amount": 2000, "currency": "USD"}}
    await first.internal.put("/api/v1/admin/products/MUG-A", json=body, headers=first.admin)
    assert (await second.public.get("/api/v1/products/MUG-A")).json()["price"]["amount"] == 2000
    assert second.rt.metrics.cache.labels("catalog_redis", "hit")._value.get() >= 0
