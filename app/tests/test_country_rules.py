"""Shipping and tax rules: the defaults every migrated database has (prod is never seeded), their administration
through the admin API and pages, and currency consistency at checkout."""

import re

import pytest
from sqlalchemy import text

pytestmark = pytest.mark.anyio
DEFAULT_COUNTRIES = {"AU", "CA", "DE", "FR", "GB", "JP", "NL", "US"}
RULE = {
    "name": "Ireland",
    "shipping": {"amount": 1800, "currency": "USD"},
    "free_shipping_over": {"amount": 20000, "currency": "USD"},
    "tax_rate_bp": 2300,
    "tax_includes_shipping": True,
}


async def test_a_migrated_database_ships_and_taxes_without_any_seed(shop):
    """What prod has after `migrate`: every default country is offered at checkout and takes an order."""
    listing = (await shop.internal.get("/api/v1/admin/country-rules", headers=shop.admin)).json()["items"]
    assert {rule["country"] for rule in listing} == DEFAULT_COUNTRIES
    assert all(r["shipping"]["currency"] == "USD" and r["shipping"]["amount"] > 0 for r in listing)
    await shop.product("MUG-A", price=1000, stock=len(DEFAULT_COUNTRIES))
    for country in sorted(DEFAULT_COUNTRIES):
        order = await shop.checkout(
            await shop.cart_with(**{"MUG-A": 1}), shipping_address=shop.ADDRESS | {"country": country}
        )
        assert order.status_code == 201, (country, order.text)
    checkout = await _checkout_page(shop)
    assert all(f'value="{country}"' in checkout for country in DEFAULT_COUNTRIES)


async def _checkout_page(shop) -> str:
    """The storefront's checkout page for a browser with one item in its cart."""
    await shop.product("TEE-A")
    token = re.search(r'name="csrf_token" value="([^"]*)"', (await shop.public.get("/")).text).group(1)
    await shop.public.post("/cart/items", data={"csrf_token": token, "sku": "TEE-A", "quantity": "1"})
    return (await shop.public.get("/checkout")).text


async def test_admin_api_creates_updates_and_deletes_a_rule_that_checkout_applies_at_once(shop):
    await shop.product("MUG-A", price=10000, stock=10)
    created = await shop.internal.put("/api/v1/admin/country-rules/IE", json=RULE, headers=shop.admin)
    assert created.status_code == 201 and created.json() == {"country": "IE", **RULE}
    order = (
        await shop.checkout(await shop.cart_with(**{"MUG-A": 1}), shipping_address=shop.ADDRESS | {"country": "IE"})
    ).json()
    # 18.00 shipping (free only from 200.00), 23 % on goods and shipping
    assert (order["shipping"]["amount"], order["tax"]["amount"], order["total"]["amount"]) == (1800, 2714, 14514)

    cheaper = RULE | {
        "free_shipping_over": None,
        "tax_includes_shipping": False,
        "shipping": {"amount": 0, "currency": "USD"},
    }
    updated = await shop.internal.put("/api/v1/admin/country-rules/IE", json=cheaper, headers=shop.admin)
    assert updated.status_code == 200 and updated.json()["free_shipping_over"] is None
    order = (
        await shop.checkout(await shop.cart_with(**{"MUG-A": 1}), shipping_address=shop.ADDRESS | {"country": "IE"})
    ).json()
    assert (order["shipping"]["amount"], order["tax"]["amount"]) == (0, 2300)
    assert (await shop.internal.get("/api/v1/admin/country-rules/IE", headers=shop.admin)).json()["shipping"][
        "amount"
    ] == 0

    assert (await shop.internal.delete("/api/v1/admin/country-rules/IE", headers=shop.admin)).status_code == 204
    refused = await shop.checkout(
        await shop.cart_with(**{"MUG-A": 1}), shipping_address=shop.ADDRESS | {"country": "IE"}
    )
    assert refused.status_code == 422 and refused.json()["fields"][0]["field"] == "shipping_address.country"
    for method in ("GET", "DELETE"):
        assert (
            await shop.internal.request(method, "/api/v1/admin/country-rules/IE", headers=shop.admin)
        ).status_code == 404


@pytest.mark.parametrize(
    ("country", "body", "field"),
    [
        ("ie", RULE, "country"),
        ("IRL", RULE, "country"),
        ("IE", RULE | {"shipping": {"amount": 1800, "currency": "EUR"}}, "shipping.currency"),
        ("IE", RULE | {"free_shipping_over": {"amount": 1, "currency": "EUR"}}, "free_shipping_over.currency"),
        ("IE", RULE | {"tax_rate_bp": 10001}, "tax_rate_bp"),
        ("IE", RULE | {"shipping": {"amount": -1, "currency": "USD"}}, "shipping.amount"),
        ("IE", RULE | {"name": ""}, "name"),
    ],
)
async def test_invalid_rules_are_422_naming_the_field(sqlite_shop, country, body, field):
    response = await sqlite_shop.internal.put(
        f"/api/v1/admin/country-rules/{country}", json=body, headers=sqlite_shop.admin
    )
    assert response.status_code == 422 and field in [f["field"] for f in response.json()["fields"]]
    assert (
        await sqlite_shop.internal.get("/api/v1/admin/country-rules/IE", headers=sqlite_shop.admin)
    ).status_code == 404


async def test_a_rule_priced_in_another_currency_is_never_applied(shop):
    """A USD shop with a EUR rule (e.g. the defaults in a shop that changed currency): checkout refuses it with a
    clear 422, the country is not offered, and the admin page says why."""
    async with shop.rt.sessions.begin() as session:
        await session.execute(text("UPDATE country_rules SET currency = 'EUR' WHERE country = 'DE'"))
    await shop.product("MUG-A", stock=5)
    refused = await shop.checkout(
        await shop.cart_with(**{"MUG-A": 1}), shipping_address=shop.ADDRESS | {"country": "DE"}
    )
    assert refused.status_code == 422
    assert refused.json()["fields"] == [
        {"field": "shipping_address.country", "message": "shipping to this country is not priced in USD"}
    ]
    checkout = await _checkout_page(shop)
    assert 'value="DE"' not in checkout and 'value="FR"' in checkout
    await shop.admin_login()
    assert "priced in EUR: not offered" in (await shop.internal.get("/admin/country-rules")).text
    # saving the rule in the admin re-prices it in the shop's currency
    body = RULE | {"name": "Germany"}
    assert (await shop.internal.put("/api/v1/admin/country-rules/DE", json=body, headers=shop.admin)).status_code == 200
    order = await shop.checkout(await shop.cart_with(**{"MUG-A": 1}), shipping_address=shop.ADDRESS | {"country": "DE"})
    assert order.status_code == 201


async def test_admin_pages_manage_rules_with_csrf(sqlite_shop):
    client = sqlite_shop.internal
    assert (await client.get("/admin/country-rules")).headers["location"] == "/admin/login"
    token = await sqlite_shop.admin_login()
    page = await client.get("/admin/country-rules")
    assert page.status_code == 200 and "United Kingdom" in page.text and "20.00 %" in page.text
    form = {"country": "ie", "name": "Ireland", "shipping": "18.00", "free_shipping_over": "", "tax_rate": "23"}
    assert (await client.post("/admin/country-rules", data=form)).status_code == 403  # no CSRF token
    assert (await client.post("/admin/country-rules", data=form | {"csrf_token": "0" * 64})).status_code == 403
    saved = await client.post("/admin/country-rules", data=form | {"csrf_token": token, "tax_includes_shipping": "on"})
    assert saved.status_code == 303 and saved.headers["location"] == "/admin/country-rules"
    rule = (await client.get("/api/v1/admin/country-rules/IE", headers=sqlite_shop.admin)).json()
    assert rule == {
        "country": "IE",
        "name": "Ireland",
        "shipping": {"amount": 1800, "currency": "USD"},
        "free_shipping_over": None,
        "tax_rate_bp": 2300,
        "tax_includes_shipping": True,
    }
    edit = (await client.get("/admin/country-rules/IE")).text
    assert 'name="shipping" type="text" value="18.00"' in edit and 'value="23.00"' in edit

    invalid = await client.post(
        "/admin/country-rules",
        data={"csrf_token": token, "country": "Ireland", "name": "", "shipping": "1.234", "tax_rate": "101"},
    )
    assert invalid.status_code == 422
    for name in ("country", "name", "shipping", "tax_rate"):
        assert f'aria-describedby="{name}-error"' in invalid.text, name

    assert (await client.post("/admin/country-rules/IE/delete", data={"csrf_token": "0" * 64})).status_code == 403
    deleted = await client.post("/admin/country-rules/IE/delete", data={"csrf_token": token})
    assert deleted.status_code == 303
    assert (await client.get("/api/v1/admin/country-rules/IE", headers=sqlite_shop.admin)).status_code == 404
    assert (await client.post("/admin/country-rules/IE/delete", data={"csrf_token": token})).status_code == 404
    assert (await client.get("/admin/country-rules/XX")).status_code == 404
