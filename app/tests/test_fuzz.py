"""Never a 500 on bad input: seeded random requests against every operation of both published OpenAPI specs."""

import copy
import random
import re
from urllib.parse import quote

import pytest

pytestmark = pytest.mark.anyio
NASTY = [
    None,
    True,
    -1,
    0,
    2**63,
    10**30,
    1.5,
    "",
    " ",
    "\x00",
    "\u202e",
    "😀" * 50,
    "a" * 5000,
    "../../etc/passwd",
    "' OR 1=1 --",
    "%",
    "_",
    "SO-00000000",
    "MUG-A",
    [],
    {},
    [1, 2],
    {"a": None},
]
VALID = {
    "CheckoutIn": {
        "cart_id": "00000000-0000-0000-0000-000000000000",
        "email": "a@example.com",
        "shipping_address": {"name": "A", "line1": "B", "line2": "", "city": "C", "postal_code": "1", "country": "US"},
        "payment": {"card_number": "4242424242424242", "exp_month": 1, "exp_year": 2099, "cvc": "123"},
    },
    "QuantityIn": {"quantity": 1},
    "ProductIn": {"name": "N", "category": "c", "price": {"amount": 1, "currency": "USD"}},
    "StockIn": {"stock": 1},
    "StatusIn": {"status": "fulfilled"},
    "CountryRuleIn": {"name": "N", "shipping": {"amount": 1, "currency": "USD"}, "tax_rate_bp": 1},
}


def _mutate(value, rng):
    if isinstance(value, dict) and value and rng.random() < 0.8:
        key = rng.choice(list(value))
        action = rng.random()
        if action < 0.2:
            value.pop(key)
        elif action < 0.3:
            value["unexpected"] = rng.choice(NASTY)
        else:
            value[key] = _mutate(value[key], rng)
        return value
    return copy.deepcopy(rng.choice(NASTY))


def _requests(spec, rng, count):
    operations = [(path, method, op) for path, item in spec["paths"].items() for method, op in item.items()]
    for _ in range(count):
        path, method, op = rng.choice(operations)
        url = re.sub(r"\{[^}]+\}", lambda _: quote(str(rng.choice([*NASTY[4:], "MUG-A", "US"])), safe=""), path)
        params = {p["name"]: str(rng.choice(NASTY)) for p in op.get("parameters", []) if p["in"] == "query"}
        ref = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {}).get("$ref", "")
        body = _mutate(copy.deepcopy(VALID.get(ref.rsplit("/", 1)[-1], {})), rng) if ref else None
        yield method.upper(), url, params, body


async def test_no_500_on_random_input(shop):
    await shop.product("MUG-A", stock=5)
    rng = random.Random(20261126)
    for client, headers in ((shop.public, {"Idempotency-Key": "fuzz"}), (shop.internal, shop.admin)):
        spec = (await client.get("/openapi.json")).json()
        for method, url, params, body in _requests(spec, rng, 250):
            response = await client.request(method, url, params=params, json=body, headers=headers)
            assert response.status_code < 500, (method, url, params, body, response.text)
            if response.status_code != 204:  # a deletion answers with no body
                assert response.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize("raw", [b"", b"[]", b"null", b"\xff\xfe", b'{"cart_id": "x"' * 1000, b"1e999999"])
async def test_no_500_on_malformed_bodies(sqlite_shop, raw):
    cart = await sqlite_shop.cart_with()
    for url in ("/api/v1/orders", f"/api/v1/carts/{cart}/items/MUG-A"):
        method = "POST" if url.endswith("orders") else "PUT"
        response = await sqlite_shop.public.request(
            method, url, content=raw, headers={"content-type": "application/json", "Idempotency-Key": "k"}
        )
        assert 400 <= response.status_code < 500
