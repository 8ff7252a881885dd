"""Checkout: totals from country rules, captured prices, out-of-stock, declines releasing stock, validation."""

import json
import logging

import pytest
from shop.orders import InvalidTransition, OrderNotFound

pytestmark = pytest.mark.anyio


async def test_checkout_creates_paid_order_with_server_side_totals(shop):
    await shop.product("MUG-A", price=1250, stock=5)
    await shop.product("TEE-A", price=2000, stock=5)
    cart_id = await shop.cart_with(**{"MUG-A": 2, "TEE-A": 1})
    response = await shop.checkout(cart_id, shipping_address=shop.ADDRESS | {"country": "CA"})
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["status"] == "paid" and order["email"] == "ada@example.com"
    assert order["number"].startswith("SO-") and order["id"]
    # CA: 12.00 shipping, 5 % tax on goods + shipping (rules are data in country_rules)
    assert order["subtotal"] == {"amount": 4500, "currency": "USD"}
    assert order["shipping"] == {"amount": 1200, "currency": "USD"}
    assert order["tax"] == {"amount": 285, "currency": "USD"}
    assert order["total"] == {"amount": 5985, "currency": "USD"}
    assert [(i["sku"], i["quantity"], i["unit_price"]["amount"]) for i in order["items"]] == [
        ("MUG-A", 2, 1250),
        ("TEE-A", 1, 2000),
    ]
    assert [h["status"] for h in order["history"]] == ["pending", "paid"]
    assert await shop.stock("MUG-A") == 3 and await shop.stock("TEE-A") == 4
    assert (await shop.public.get(f"/api/v1/carts/{cart_id}")).status_code == 404  # the cart is used up


async def test_free_shipping_threshold_and_zero_tax(shop):
    await shop.product("BIG", price=8000, stock=5)
    order = (await shop.checkout(await shop.cart_with(BIG=1))).json()  # US: free over 75.00, no tax
    assert (order["shipping"]["amount"], order["tax"]["amount"], order["total"]["amount"]) == (0, 0, 8000)


async def test_prices_are_captured_on_order_lines(shop):
    await shop.product("MUG-A", price=1000)
    order = (await shop.checkout(await shop.cart_with(**{"MUG-A": 1}))).json()
    await shop.product("MUG-A", price=5000, name="Renamed")
    looked_up = (await shop.public.get(f"/api/v1/orders/{order['number']}?email=ada@example.com")).json()
    assert looked_up["items"][0]["unit_price"]["amount"] == 1000 and looked_up["items"][0]["name"] == "Mug-A"
    assert looked_up["total"] == order["total"]


async def test_out_of_stock_is_409_naming_skus_and_changes_nothing(shop):
    await shop.product("MUG-A", stock=5)
    await shop.product("TEE-A", stock=5)
    await shop.product("CAP-A", stock=5)
    cart_id = await shop.cart_with(**{"MUG-A": 2, "TEE-A": 3, "CAP-A": 1})
    await shop.rt.catalog.set_stock("MUG-A", 1)
    await shop.rt.catalog.set_stock("TEE-A", 0)
    response = await shop.checkout(cart_id)
    assert response.status_code == 409
    assert response.json()["error"] == "out_of_stock" and response.json()["skus"] == ["MUG-A", "TEE-A"]
    assert (await shop.stock("CAP-A"), await shop.stock("MUG-A")) == (5, 1)  # rolled back as one transaction
    orders = (await shop.internal.get("/api/v1/admin/orders", headers=shop.admin)).json()
    assert orders["total"] == 0
    await shop.rt.catalog.set_stock("MUG-A", 5)
    await shop.rt.catalog.set_stock("TEE-A", 5)
    assert (await shop.checkout(cart_id)).status_code == 201  # state cached by the failed attempt is sound


@pytest.mark.parametrize(
    ("card", "reason"),
    [("4000000000000002", "card_declined"), ("4000000000009995", "insufficient_funds")],
)
async def test_declined_payment_is_402_and_releases_stock(shop, card, reason, caplog):
    await shop.product("MUG-A", stock=1)
    cart_id = await shop.cart_with(**{"MUG-A": 1})
    with caplog.at_level(logging.WARNING, logger="shop.orders"):
        response = await shop.checkout(cart_id, payment=shop.VALID_CARD | {"card_number": card})
    assert response.status_code == 402
    body = response.json()
    assert body["error"] == "payment_declined" and body["reason"] == reason
    assert await shop.stock("MUG-A") == 1  # released
    order = (await shop.internal.get(f"/api/v1/admin/orders/{body['order_number']}", headers=shop.admin)).json()
    assert order["status"] == "cancelled" and [h["status"] for h in order["history"]] == ["pending", "cancelled"]
    failure = next(r for r in caplog.records if getattr(r, "event", None) == "checkout_failed")
    assert failure.reason == reason  # type: ignore[attr-defined]
    assert shop.rt.metrics.checkout_failures.labels(reason)._value.get() == 1
    # the cart survives a decline, so the shopper can retry with another card
    assert (await shop.checkout(cart_id)).status_code == 201


@pytest.mark.parametrize(
    ("payment", "reason"),
    [
        ({"card_number": "4242424242424241"}, "incorrect_number"),
        ({"exp_year": 2001}, "expired_card"),
    ],
)
async def test_invalid_card_is_402_before_reserving(sqlite_shop, payment, reason):
    await sqlite_shop.product("MUG-A", stock=1)
    response = await sqlite_shop.checkout(
        await sqlite_shop.cart_with(**{"MUG-A": 1}), payment=sqlite_shop.VALID_CARD | payment
    )
    assert response.status_code == 402 and response.json()["reason"] == reason
    assert response.json()["order_number"] is None and await sqlite_shop.stock("MUG-A") == 1


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"shipping_address": {"name": "A"}}, "shipping_address.line1"),
        (
            {"shipping_address": {**{"name": "A", "line1": "x", "city": "c", "postal_code": "1"}, "country": "USA"}},
            "shipping_address.country",
        ),
        ({"payment": {"card_number": "abc", "exp_month": 1, "exp_year": 2030, "cvc": "123"}}, "payment.card_number"),
        (
            {"payment": {"card_number": "4242424242424242", "exp_month": 13, "exp_year": 2030, "cvc": "1"}},
            "payment.exp_month",
        ),
        ({"cart_id": 5}, "cart_id"),
        (
            {"shipping_address": {"name": "A\x00", "line1": "x", "city": "c", "postal_code": "1", "country": "US"}},
            "shipping_address.name",
        ),
    ],
)
async def test_invalid_body_is_422_with_field_errors(sqlite_shop, override, field):
    response = await sqlite_shop.checkout("00000000-0000-0000-0000-000000000000", **override)
    assert response.status_code == 422
    assert field in [f["field"] for f in response.json()["fields"]]


async def test_malformed_json_and_unsupported_country(shop):
    raw = await shop.public.post(
        "/api/v1/orders", content=b"{not json", headers={"Idempotency-Key": "k1", "content-type": "application/json"}
    )
    assert raw.status_code == 422
    await shop.product("MUG-A")
    response = await shop.checkout(
        await shop.cart_with(**{"MUG-A": 1}), shipping_address=shop.ADDRESS | {"country": "ZZ"}
    )
    assert response.status_code == 422 and response.json()["fields"][0]["field"] == "shipping_address.country"


async def test_missing_idempotency_key_is_400(sqlite_shop):
    response = await sqlite_shop.public.post(
        "/api/v1/orders", json=sqlite_shop.order_body("00000000-0000-0000-0000-000000000000")
    )
    assert response.status_code == 400 and response.json()["error"] == "idempotency_key_required"


async def test_empty_or_unknown_cart(shop):
    assert (await shop.checkout(await shop.cart_with())).status_code == 422
    assert (await shop.checkout("00000000-0000-0000-0000-000000000000")).status_code == 404


async def test_order_lookup_needs_the_matching_email(shop):
    await shop.product("MUG-A")
    number = (await shop.checkout(await shop.cart_with(**{"MUG-A": 1}))).json()["number"]
    ok = await shop.public.get(f"/api/v1/orders/{number}", params={"email": "ADA@example.com"})
    assert ok.status_code == 200 and ok.json()["number"] == number and ok.json()["status"] == "paid"
    assert (await shop.public.get(f"/api/v1/orders/{number}", params={"email": "eve@example.com"})).status_code == 404
    assert (await shop.public.get(f"/api/v1/orders/{number}")).status_code == 404
    assert (await shop.public.get("/api/v1/orders/SO-00000000?email=ada@example.com")).status_code == 404


async def test_orders_placed_metric_and_admin_transitions(shop):
    await shop.product("MUG-A", stock=2)
    number = (await shop.checkout(await shop.cart_with(**{"MUG-A": 2}))).json()["number"]
    assert shop.rt.metrics.orders_placed._value.get() == 1
    url = f"/api/v1/admin/orders/{number}/status"
    fulfilled = await shop.internal.post(url, json={"status": "fulfilled"}, headers=shop.admin)
    assert fulfilled.status_code == 200 and fulfilled.json()["status"] == "fulfilled"
    again = await shop.internal.post(url, json={"status": "cancelled"}, headers=shop.admin)
    assert again.status_code == 409 and again.json()["error"] == "invalid_transition"
    assert (await shop.internal.post(url, json={"status": "paid"}, headers=shop.admin)).status_code == 422


async def test_cancel_paid_order_restocks(shop):
    await shop.product("MUG-A", stock=1)
    number = (await shop.checkout(await shop.cart_with(**{"MUG-A": 1}))).json()["number"]
    assert await shop.stock("MUG-A") == 0
    response = await shop.internal.post(
        f"/api/v1/admin/orders/{number}/status", json={"status": "cancelled"}, headers=shop.admin
    )
    assert response.json()["status"] == "cancelled" and await shop.stock("MUG-A") == 1
    assert (await shop.public.get("/api/v1/products/MUG-A")).json()["stock"] == 1  # cache invalidated


async def test_sold_out_invalidates_catalog_cache(shop):
    await shop.product("MUG-A", stock=1)
    assert (await shop.public.get("/api/v1/products/MUG-A")).json()["stock"] == 1
    await shop.checkout(await shop.cart_with(**{"MUG-A": 1}))
    assert (await shop.public.get("/api/v1/products/MUG-A")).json()["stock"] == 0
    assert json.loads((await shop.public.get("/api/v1/products")).content)["items"][0]["stock"] == 0


async def test_refused_admin_moves_are_answered_by_kind(shop):
    """Orders.transition raises OrderNotFound or InvalidTransition; the API answers 404 and 409 with their text."""
    await shop.product("MUG-A", stock=1)
    number = (await shop.checkout(await shop.cart_with(**{"MUG-A": 1}))).json()["number"]
    with pytest.raises(OrderNotFound):
        await shop.rt.orders.transition("SO-00000000", "fulfilled")
    with pytest.raises(InvalidTransition, match="cannot move an order from paid to pending"):
        await shop.rt.orders.transition(number, "pending")
    missing = await shop.internal.post(
        "/api/v1/admin/orders/SO-00000000/status", json={"status": "fulfilled"}, headers=shop.admin
    )
    assert missing.status_code == 404
    assert missing.json() == {"error": "not_found", "message": "no such order"}
