"""One currency: products priced in another currency than SHOP_CURRENCY are not sold (left out of the catalog,
carts and checkout, and reported at start-up); no total ever mixes two currencies."""

import pytest

pytestmark = [pytest.mark.anyio]


async def test_products_in_another_currency_are_not_sold(settings, make_shop):
    usd = await make_shop(settings)
    await usd.product("MUG-A", price=1400, stock=5)
    cart = await usd.cart_with(**{"MUG-A": 1})
    eur = await make_shop(settings.model_copy(update={"currency": "EUR"}))
    assert (await eur.public.get("/api/v1/products")).json() == {"items": [], "total": 0}
    assert (await eur.public.get("/api/v1/products/MUG-A")).status_code == 404
    assert (await eur.public.get("/api/v1/categories")).json() == []
    priced = (await eur.public.get(f"/api/v1/carts/{cart}")).json()
    assert priced["items"] == [] and priced["subtotal"] == {"amount": 0, "currency": "EUR"}
    added = await eur.public.put(f"/api/v1/carts/{cart}/items/MUG-A", json={"quantity": 2})
    assert added.status_code == 404
    refused = await eur.checkout(cart)
    assert refused.status_code == 409 and refused.json()["skus"] == ["MUG-A"], refused.text
    assert await eur.rt.catalog.foreign_priced() == ["MUG-A"]
    assert await usd.rt.catalog.foreign_priced() == []


@pytest.mark.services
async def test_a_shop_restarted_in_another_currency_never_serves_the_old_currencys_cached_catalog(
    pg_settings, make_shop
):
    """On the same Redis (same key prefix, same catalog version): the old shop's cached catalog is keyed by its
    currency, so the new one reads its own."""
    usd = await make_shop(pg_settings)
    await usd.product("MUG-A", price=1400, stock=5)
    for path in ("/api/v1/products", "/api/v1/products/MUG-A", "/api/v1/categories", "/"):
        assert (await usd.public.get(path)).status_code == 200
    assert "MUG-A" in (await usd.public.get("/")).text  # the cached page lists it
    redis = usd.rt.redis
    assert redis is not None
    cached = await redis.run(lambda r: r.keys(redis.key("catalog", "*", "*")))
    assert len(cached) >= 4  # the shared entries exist: the EUR shop could read them

    eur = await make_shop(pg_settings.model_copy(update={"currency": "EUR"}))
    assert (await eur.public.get("/api/v1/products")).json() == {"items": [], "total": 0}
    assert (await eur.public.get("/api/v1/products/MUG-A")).status_code == 404
    assert (await eur.public.get("/api/v1/categories")).json() == []
    assert "MUG-A" not in (await eur.public.get("/")).text
