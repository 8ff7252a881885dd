"""The storefront and admin pages as a browser without JavaScript sees them: forms, CSRF, cookies."""

import hashlib
import re

import pytest
from shop.static_files import STATIC_DIR

pytestmark = pytest.mark.anyio
CHECKOUT_FORM = {
    "email": "ada@example.com",
    "name": "Ada Lovelace",
    "line1": "1 Main St",
    "line2": "",
    "city": "Springfield",
    "postal_code": "12345",
    "country": "US",
    "card_number": "4242 4242 4242 4242",
    "exp_month": "12",
    "exp_year": "2099",
    "cvc": "123",
}


def field(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no {name} field"
    return match.group(1)


async def test_whole_journey_without_javascript(shop):
    await shop.product("MUG-A", name="Blue mug", price=1250, stock=3, category="mugs")
    await shop.product("TEE-A", name="Red shirt", stock=3, category="shirts")
    client = shop.public

    home = await client.get("/")
    assert home.status_code == 200 and "Blue mug" in home.text and "Red shirt" in home.text
    assert (await client.get("/?q=blue")).text.count('class="card"') == 1
    assert "Red shirt" in (await client.get("/?category=shirts")).text
    product = await client.get("/products/MUG-A")
    assert "$12.50" in product.text and "Only 3 left" in product.text
    token = field(product.text, "csrf_token")

    added = await client.post("/cart/items", data={"csrf_token": token, "sku": "MUG-A", "quantity": "2"})
    assert added.status_code == 303 and added.headers["location"] == "/cart"
    cart = await client.get("/cart")
    assert "Blue mug" in cart.text and "$25.00" in cart.text
    too_many = await client.post("/cart/items", data={"csrf_token": token, "sku": "MUG-A", "quantity": "2"})
    assert too_many.status_code == 409 and "only 3 left" in too_many.text.lower()

    checkout = await client.get("/checkout")
    assert checkout.status_code == 200 and 'for="card_number"' in checkout.text
    form = CHECKOUT_FORM | {"csrf_token": token, "form_key": field(checkout.text, "form_key")}
    declined = await client.post("/checkout", data=form | {"card_number": "4000 0000 0000 0002"})
    assert declined.status_code == 402 and "Your card was declined" in declined.text
    assert 'name="card_number" type="text" value=""' in declined.text  # card data is never echoed back
    placed = await client.post("/checkout", data=form | {"form_key": field(declined.text, "form_key")})
    assert placed.status_code == 303 and placed.headers["location"] == "/checkout/complete"
    confirmation = await client.get("/checkout/complete")
    number = re.search(r'class="order-number">(SO-[0-9A-Z]{8})<', confirmation.text).group(1)
    assert "Paid" in confirmation.text and "$30.00" in confirmation.text  # 25.00 + 5.00 US shipping
    assert "0</span>" in (await client.get("/cart")).text  # cart emptied

    lookup = await client.post(
        "/orders/lookup", data={"csrf_token": token, "number": number, "email": "ada@example.com"}
    )
    assert lookup.status_code == 200 and number in lookup.text and "payment captured" in lookup.text
    wrong = await client.post("/orders/lookup", data={"csrf_token": token, "number": number, "email": "x@example.com"})
    assert wrong.status_code == 404 and "No order matches" in wrong.text


async def test_double_submitted_checkout_form_places_one_order(shop):
    await shop.product("MUG-A", stock=5)
    client = shop.public
    token = field((await client.get("/")).text, "csrf_token")
    await client.post("/cart/items", data={"csrf_token": token, "sku": "MUG-A", "quantity": "1"})
    form = CHECKOUT_FORM | {"csrf_token": token, "form_key": field((await client.get("/checkout")).text, "form_key")}
    session_cart = shop.public.cookies.get("shop_session")
    first = await client.post("/checkout", data=form)
    client.cookies.set("shop_session", session_cart)  # the second click still carries the old cookie
    second = await client.post("/checkout", data=form)
    assert first.status_code == second.status_code == 303
    assert (await shop.internal.get("/api/v1/admin/orders", headers=shop.admin)).json()["total"] == 1
    assert await shop.stock("MUG-A") == 4


@pytest.mark.parametrize("path", ["/cart/items", "/cart/items/MUG-A", "/checkout", "/orders/lookup"])
async def test_form_posts_without_a_valid_csrf_token_are_403(sqlite_shop, path):
    await sqlite_shop.product("MUG-A")
    await sqlite_shop.public.get("/")  # obtain a session cookie
    assert (await sqlite_shop.public.post(path, data={"sku": "MUG-A", "quantity": "1"})).status_code == 403
    assert (await sqlite_shop.public.post(path, data={"csrf_token": "0" * 64, "sku": "MUG-A"})).status_code == 403


async def test_csrf_token_from_another_session_is_rejected(shop):
    await shop.product("MUG-A")
    token = field((await shop.public.get("/")).text, "csrf_token")
    shop.public.cookies.clear()
    await shop.public.get("/")  # a new session
    response = await shop.public.post("/cart/items", data={"csrf_token": token, "sku": "MUG-A", "quantity": "1"})
    assert response.status_code == 403


async def test_session_cookie_flags(settings, make_shop):
    shop = await make_shop(settings.model_copy(update={"env": "staging"}))
    cookie = (await shop.public.get("/")).headers["set-cookie"].lower()
    assert "httponly" in cookie and "secure" in cookie and "samesite=lax" in cookie


async def test_pages_for_unknown_things_are_404_html(sqlite_shop):
    for path in ("/products/NOPE", "/products/bad%20sku", "/nowhere"):
        response = await sqlite_shop.public.get(path, headers={"accept": "text/html"})
        assert response.status_code == 404 and "text/html" in response.headers["content-type"]


async def test_static_files_are_addressed_by_content_and_cached_forever(sqlite_shop):
    home = (await sqlite_shop.public.get("/")).text
    href = re.search(r'href="(/static/([0-9a-f]{12})/shop\.css)"', home)
    body = (STATIC_DIR / "shop.css").read_bytes()
    assert href.group(2) == hashlib.sha256(body).hexdigest()[:12]
    versioned = await sqlite_shop.public.get(href.group(1))
    assert versioned.status_code == 200 and versioned.content == body
    assert versioned.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert versioned.headers["content-type"] == "text/css; charset=utf-8"


async def test_another_version_of_a_static_file_is_redirected_uncached_never_served(sqlite_shop):
    """A page from an older (or newer) image links another version: it gets this image's file, and nothing under
    the other version's URL gets cached."""
    current = re.search(r'href="(/static/[0-9a-f]{12}/shop\.css)"', (await sqlite_shop.public.get("/")).text).group(1)
    for other in ("/static/000000000000/shop.css", "/static/shop.css/shop.css"):
        response = await sqlite_shop.public.get(other)
        assert response.status_code == 307 and response.headers["location"] == current, other
        assert response.headers["cache-control"] == "no-store", other
    for missing in ("/static/shop.css", "/static/000000000000/nope.css", "/static/", "/static/../settings.py"):
        assert (await sqlite_shop.public.get(missing)).status_code == 404, missing


async def test_static_urls_start_with_the_cdn_base_url(sqlite_settings, make_shop):
    shop = await make_shop(sqlite_settings.model_copy(update={"cdn_base_url": "https://cdn.example.com"}))
    assert re.search(
        r'href="https://cdn\.example\.com/static/[0-9a-f]{12}/shop\.css"', (await shop.public.get("/")).text
    )


async def test_admin_pages_need_login_and_csrf(shop):
    await shop.product("MUG-A", stock=2)
    client = shop.internal
    assert (await client.get("/admin/products")).headers["location"] == "/admin/login"
    login = await client.get("/admin/login")
    token = field(login.text, "csrf_token")
    bad = await client.post("/admin/login", data={"csrf_token": token, "token": "wrong"})
    assert bad.status_code == 401
    assert (await client.post("/admin/login", data={"token": shop.ADMIN_TOKEN})).status_code == 403
    ok = await client.post("/admin/login", data={"csrf_token": token, "token": shop.ADMIN_TOKEN})
    assert ok.status_code == 303
    admin_cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in admin_cookie and "samesite=strict" in admin_cookie and "path=/admin" in admin_cookie

    products = await client.get("/admin/products")
    assert products.status_code == 200 and "MUG-A" in products.text
    assert (await client.post("/admin/products/MUG-A/stock", data={"stock": "9"})).status_code == 403
    saved = await client.post("/admin/products/MUG-A/stock", data={"csrf_token": token, "stock": "9"})
    assert saved.status_code == 303 and await shop.stock("MUG-A") == 9

    created = await client.post(
        "/admin/products",
        data={
            "csrf_token": token,
            "sku": "NEW-1",
            "name": "New thing",
            "category": "things",
            "price": "19.99",
            "stock": "4",
            "active": "on",
            "description": "",
        },
    )
    assert created.status_code == 303
    assert (await shop.public.get("/api/v1/products/NEW-1")).json()["price"]["amount"] == 1999
    invalid = await client.post(
        "/admin/products", data={"csrf_token": token, "sku": "bad sku", "name": "", "category": "x", "price": "1.999"}
    )
    assert invalid.status_code == 422 and "aria-invalid" in invalid.text

    await shop.checkout(await shop.cart_with(**{"MUG-A": 1}))
    orders = await client.get("/admin/orders?status=paid")
    number = re.search(r"(SO-[0-9A-Z]{8})", orders.text).group(1)
    done = await client.post(f"/admin/orders/{number}/status", data={"csrf_token": token, "status": "fulfilled"})
    assert done.status_code == 303 and "Fulfilled" in (await client.get(f"/admin/orders/{number}")).text
    await client.post("/admin/logout", data={"csrf_token": token})
    assert (await client.get("/admin/products")).status_code == 303


async def test_cached_catalog_page_is_personal(sqlite_shop, make_shop):
    """The catalog page is cached, but each browser gets its own CSRF token and cart count."""
    await sqlite_shop.product("MUG-A", stock=5)
    first = sqlite_shop.public
    token = field((await first.get("/")).text, "csrf_token")
    await first.post("/cart/items", data={"csrf_token": token, "sku": "MUG-A", "quantity": "2"})
    mine = (await first.get("/")).text
    first.cookies.clear()
    theirs = (await first.get("/")).text
    assert field(mine, "csrf_token") == token != field(theirs, "csrf_token")
    assert 'aria-label="2 items">2<' in mine and 'aria-label="0 items">0<' in theirs
    assert "\x00" not in mine + theirs


async def test_a_refused_order_move_in_the_admin_shows_why(shop):
    await shop.product("MUG-A", stock=1)
    number = (await shop.checkout(await shop.cart_with(**{"MUG-A": 1}))).json()["number"]
    client = shop.internal
    token = field((await client.get("/admin/login")).text, "csrf_token")
    await client.post("/admin/login", data={"csrf_token": token, "token": shop.ADMIN_TOKEN})
    move = {"csrf_token": token, "status": "fulfilled"}
    assert (await client.post(f"/admin/orders/{number}/status", data=move)).status_code == 303
    again = await client.post(f"/admin/orders/{number}/status", data=move)
    assert again.status_code == 409 and "cannot move an order from fulfilled to fulfilled" in again.text


async def test_unavailable_cart_lines_are_shown_and_removable(sqlite_shop):
    await sqlite_shop.product("MUG-A")
    await sqlite_shop.product("MUG-B")
    client = sqlite_shop.public
    token = field((await client.get("/products/MUG-A")).text, "csrf_token")
    for sku in ("MUG-A", "MUG-B"):
        assert (await client.post("/cart/items", data={"csrf_token": token, "sku": sku, "quantity": "1"})).is_redirect
    deactivate = {"name": "Mug B", "category": "things", "price": {"amount": 1000, "currency": "USD"}, "active": False}
    await sqlite_shop.internal.put("/api/v1/admin/products/MUG-B", json=deactivate, headers=sqlite_shop.admin)
    cart = await client.get("/cart")
    assert "No longer available" in cart.text and 'action="/cart/items/MUG-B"' in cart.text
    assert 'href="/checkout"' not in cart.text
    removed = await client.post("/cart/items/MUG-B", data={"csrf_token": token, "quantity": "0"})
    assert removed.is_redirect
    cart = await client.get("/cart")
    assert "No longer available" not in cart.text and 'href="/checkout"' in cart.text
