"""Smoke test of a deployed shop: health, the catalog page, a cart and, where asked, a checkout through the JSON API.

    python -m ci.smoke URL [--mode cart|checkout]            # e.g. https://staging.shop.example.com
    python -m ci.smoke --stack STACK [--mode cart|checkout]  # the stack's shopUrl output

Waits (``--wait`` seconds) for ``/healthz`` to answer — a fresh load balancer or DNS name takes a while — then
checks, in order, stopping at the first failure: ``/healthz`` and ``/readyz`` (database reachable, schema at the
image's migration); the catalog page ``/`` and the stylesheet it links (through CloudFront, from the assets
bucket); the catalog API; a new cart with one product in stock, read back (the cache, or the database when the
cache is down). Then, by mode:

- ``cart`` (the default; prod): the cart is emptied again. Nothing is ordered, no stock is taken.
- ``checkout`` (staging): an order paid with the test card 4242 4242 4242 4242 under an ``Idempotency-Key``, and
  the same request again, which must return the same order. Each run places one real order (email
  ``smoke-test@example.com``) and takes one item of stock.

One line per check; the exit code is 1 if any check failed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from stacks.exit_codes import Exit

TEST_CARD = "4242 4242 4242 4242"
SMOKE_EMAIL = "smoke-test@example.com"
STYLESHEET_LINK = re.compile(r'<link rel="stylesheet" href="([^"]+)"')


class CheckFailed(Exception):
    """One smoke check did not get the answer it needs."""


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError as error:
            raise CheckFailed(f"expected JSON, got {self.content_type or 'no content type'}") from error


@dataclass
class Shop:
    base_url: str
    timeout: float = 15.0
    state: dict[str, Any] = field(default_factory=dict)

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Answer:
        # An empty POST still says Content-Length: 0; some proxies answer 411 to a POST without it.
        data = json.dumps(body).encode() if body is not None else (b"" if method in ("POST", "PUT") else None)
        request = urllib.request.Request(  # noqa: S310 - the URL is the shop's, http(s) only (checked in main)
            self.base_url.rstrip("/") + path,
            data=data,
            method=method,
            headers={
                "User-Agent": "shop-smoke-test/1",
                "Accept": "application/json" if path.startswith("/api/") else "text/html",
                **({"Content-Type": "application/json"} if body is not None else {}),
                **(headers or {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return Answer(response.status, response.headers.get("Content-Type", ""), response.read())
        except urllib.error.HTTPError as error:
            return Answer(error.code, error.headers.get("Content-Type", ""), error.read())
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            raise CheckFailed(f"{method} {path}: {getattr(error, 'reason', error)}") from error

    def expect(self, answer: Answer, status: int, what: str) -> Answer:
        if answer.status != status:
            raise CheckFailed(f"{what}: HTTP {answer.status}, expected {status}: {answer.body[:300]!r}")
        return answer


def check_health(shop: Shop) -> str:
    shop.expect(shop.call("GET", "/healthz"), 200, "/healthz")
    return "alive"


def check_ready(shop: Shop) -> str:
    shop.expect(shop.call("GET", "/readyz"), 200, "/readyz (database reachable, schema current)")
    return "ready"


def check_catalog_page(shop: Shop) -> str:
    answer = shop.expect(shop.call("GET", "/"), 200, "catalog page /")
    if not answer.content_type.startswith("text/html"):
        raise CheckFailed(f"catalog page /: content type {answer.content_type!r}, expected text/html")
    shop.state["page"] = answer.body.decode(errors="replace")
    return f"{len(answer.body)} bytes of HTML"


def check_stylesheet(shop: Shop) -> str:
    """The stylesheet where the page links it: a missing upload would leave the storefront unstyled."""
    link = STYLESHEET_LINK.search(shop.state["page"])
    if link is None:
        raise CheckFailed("the catalog page links no stylesheet")
    href = link.group(1)
    path = href.removeprefix(shop.base_url.rstrip("/"))
    if not path.startswith("/"):
        raise CheckFailed(f"the stylesheet {href} is not on {shop.base_url}")
    answer = shop.expect(shop.call("GET", path), 200, f"stylesheet {path}")
    if not answer.content_type.startswith("text/css"):
        raise CheckFailed(f"stylesheet {path}: content type {answer.content_type!r}, expected text/css")
    return f"{path}, {len(answer.body)} bytes"


def check_catalog_api(shop: Shop) -> str:
    page = shop.expect(shop.call("GET", "/api/v1/products?limit=100"), 200, "GET /api/v1/products").json()
    in_stock = [product for product in page["items"] if product["stock"] > 0]
    if not in_stock:
        raise CheckFailed(f"none of the {len(page['items'])} products listed is in stock")
    shop.state["sku"] = in_stock[0]["sku"]
    return f"{page['total']} products; buying {shop.state['sku']}"


def check_cart(shop: Shop) -> str:
    cart = shop.expect(shop.call("POST", "/api/v1/carts"), 201, "POST /api/v1/carts").json()
    sku = shop.state["sku"]
    path = f"/api/v1/carts/{cart['id']}/items/{sku}"
    filled = shop.expect(shop.call("PUT", path, {"quantity": 1}), 200, f"PUT {path}").json()
    if [item["sku"] for item in filled["items"]] != [sku]:
        raise CheckFailed(f"the cart holds {filled['items']!r}, expected one {sku}")
    again = shop.expect(shop.call("GET", f"/api/v1/carts/{cart['id']}"), 200, "GET the cart back").json()
    if [(item["sku"], item["quantity"]) for item in again["items"]] != [(sku, 1)]:
        raise CheckFailed(f"the cart read back holds {again['items']!r}, expected one {sku}")
    shop.state["cart_id"] = cart["id"]
    return f"cart {cart['id']} holds 1 x {sku}"


def check_cart_emptied(shop: Shop) -> str:
    path = f"/api/v1/carts/{shop.state['cart_id']}/items/{shop.state['sku']}"
    emptied = shop.expect(shop.call("PUT", path, {"quantity": 0}), 200, f"PUT {path} (quantity 0)").json()
    if emptied["items"]:
        raise CheckFailed(f"the cart still holds {emptied['items']!r}")
    return "nothing ordered"


def _order_request(cart_id: str) -> dict[str, Any]:
    return {
        "cart_id": cart_id,
        "email": SMOKE_EMAIL,
        "shipping_address": {
            "name": "Smoke Test",
            "line1": "1 Pipeline Road",
            "city": "Testville",
            "postal_code": "12345",
            "country": "US",
        },
        "payment": {"card_number": TEST_CARD, "exp_month": 12, "exp_year": datetime.now(UTC).year + 1, "cvc": "123"},
    }


def check_checkout(shop: Shop) -> str:
    shop.state["idempotency_key"] = f"smoke-{uuid.uuid4()}"
    headers = {"Idempotency-Key": shop.state["idempotency_key"]}
    answer = shop.call("POST", "/api/v1/orders", _order_request(shop.state["cart_id"]), headers)
    order = shop.expect(answer, 201, "POST /api/v1/orders").json()
    if order.get("status") != "paid":
        raise CheckFailed(f"order {order.get('number')} is {order.get('status')!r}, expected 'paid'")
    shop.state["order"] = order["number"]
    return f"order {order['number']} paid, total {order['total']['amount']} {order['total']['currency']}"


def check_idempotent_retry(shop: Shop) -> str:
    headers = {"Idempotency-Key": shop.state["idempotency_key"]}
    answer = shop.call("POST", "/api/v1/orders", _order_request(shop.state["cart_id"]), headers)
    again = shop.expect(answer, 201, "the same POST /api/v1/orders again").json()
    if again.get("number") != shop.state["order"]:
        raise CheckFailed(f"a retry with the same Idempotency-Key made order {again.get('number')}")
    return "the retry returned the same order"


Check = tuple[str, Callable[[Shop], str]]
#: Reads, and a cart: what every mode checks.
BROWSING: list[Check] = [
    ("health", check_health),
    ("readiness", check_ready),
    ("catalog page", check_catalog_page),
    ("stylesheet", check_stylesheet),
    ("catalog API", check_catalog_api),
    ("cart", check_cart),
]
CHECKS: dict[str, list[Check]] = {
    "cart": [*BROWSING, ("cart emptied again", check_cart_emptied)],
    "checkout": [
        *BROWSING,
        ("checkout with the test card", check_checkout),
        ("idempotent retry", check_idempotent_retry),
    ],
}


def wait_until_up(shop: Shop, wait_seconds: float, interval: float = 10.0) -> None:
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            if shop.call("GET", "/healthz").status == 200:
                return
        except CheckFailed as problem:
            print(f"  waiting for {shop.base_url}: {problem}", flush=True)
        if time.monotonic() >= deadline:
            return  # the health check then reports what is wrong
        time.sleep(interval)


def smoke(base_url: str, wait_seconds: float, mode: str = "cart") -> Exit:
    shop = Shop(base_url)
    print(f"Smoke test of {base_url} ({mode})")
    wait_until_up(shop, wait_seconds)
    for name, check in CHECKS[mode]:
        try:
            detail = check(shop)
        except (CheckFailed, KeyError, TypeError) as problem:
            print(f"  ✗ {name}: {problem}", flush=True)
            print("SMOKE TEST FAILED", flush=True)
            return Exit.FAILED
        print(f"  ✓ {name}: {detail}", flush=True)
    print("Smoke test passed")
    return Exit.OK


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ci.smoke", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("url", nargs="?", help="base URL of the shop")
    parser.add_argument("--stack", help="without URL: test this stack's shopUrl output")
    parser.add_argument("--wait", type=float, default=300, help="seconds to wait for /healthz first")
    parser.add_argument(
        "--mode", choices=sorted(CHECKS), default="cart", help="cart: no order (prod); checkout: a paid test order"
    )
    args = parser.parse_args(argv)
    url = args.url or ""
    if not url and args.stack:
        from ci.release import stack_outputs  # needs the Pulumi CLI, so only when asked

        url = str(stack_outputs(args.stack).get("shopUrl") or "")
    if not url.startswith(("https://", "http://")):
        parser.error(f"need an http(s) URL or a stack with a shopUrl output, got {url!r}")
    return smoke(url, args.wait, args.mode)


if __name__ == "__main__":
    sys.exit(main())
