"""Every input an anonymous client controls is bounded and validated before it reaches storage or memory: no 5xx,
bodies cut off at the limit, HEAD for every GET, strict and normalised fields, amounts below 2^53, bounded Redis
keys, rate limits on admin login and order lookup."""

import re

import pytest
import redis as redis_sync
from shop.app import create_apps

pytestmark = pytest.mark.anyio


@pytest.mark.services
async def test_a_255_character_idempotency_key_is_refused_not_a_500(pg_shop):
    await pg_shop.product("MUG-A")
    cart = await pg_shop.cart_with(**{"MUG-A": 1})
    for length in (201, 252, 255):
        response = await pg_shop.checkout(cart, key="k" * length)
        assert response.status_code == 422, (length, response.text)
    assert (await pg_shop.checkout(cart, key="k" * 200)).status_code == 201


async def test_a_path_below_an_existing_image_is_404(sqlite_shop, sqlite_settings):
    image = sqlite_settings.media_dir / "products" / "mug-a.png"
    image.parent.mkdir(parents=True)
    image.write_bytes(b"\x89PNG\r\n\x1a\n")
    assert (await sqlite_shop.public.get("/media/products/mug-a.png")).status_code == 200
    assert (await sqlite_shop.public.get("/media/products/mug-a.png/x")).status_code == 404


async def _post_streamed(app, path: str, content_type: bytes, total: int, chunk: int = 64 * 1024):
    """POST `total` bytes in chunks without a Content-Length; returns (status, bytes the app pulled)."""
    pulled = 0
    messages = []
    start = (
        b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'
        if content_type.startswith(b"multipart")
        else b"{"
    )

    async def receive():
        nonlocal pulled
        size = min(chunk, total - pulled)
        body = (start if pulled == 0 else b"") + b" " * size
        pulled += size
        return {"type": "http.request", "body": body[:size], "more_body": pulled < total}

    async def send(message):
        messages.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"shop.test"), (b"content-type", content_type), (b"idempotency-key", b"k")],
        "client": ("127.0.0.1", 1234),
        "server": ("shop.test", 443),
    }
    await app(scope, receive, send)
    return next(m["status"] for m in messages if m["type"] == "http.response.start"), pulled


@pytest.mark.parametrize(
    ("port", "path", "content_type"),
    [
        ("public", "/api/v1/orders", b"application/json"),
        ("public", "/cart/items", b"multipart/form-data; boundary=x"),
        ("internal", "/api/v1/admin/products/MUG-A/image", b"multipart/form-data; boundary=x"),
    ],
)
async def test_request_bodies_stop_at_the_limit_on_both_ports(sqlite_shop, port, path, content_type):
    public, internal = create_apps(sqlite_shop.rt)
    app = public if port == "public" else internal
    limit = sqlite_shop.rt.settings.max_body_bytes if port == "public" else 5 * 1024 * 1024 + 64 * 1024
    status, pulled = await _post_streamed(app, path, content_type, 200 * 1024 * 1024)
    assert status == 413
    assert pulled <= limit + 64 * 1024
    declared = await getattr(sqlite_shop, port).post(
        path, content=b"x" * (limit + 1), headers={"content-type": content_type.decode()}
    )
    assert declared.status_code == 413 and declared.json()["error"] == "payload_too_large"


async def test_every_get_answers_head(sqlite_shop):
    await sqlite_shop.product("MUG-A")
    for client, path in (
        (sqlite_shop.public, "/healthz"),
        (sqlite_shop.public, "/readyz"),
        (sqlite_shop.public, "/"),
        (sqlite_shop.public, "/api/v1/products"),
        (sqlite_shop.public, "/api/v1/products/MUG-A"),
        (sqlite_shop.public, "/openapi.json"),
        (sqlite_shop.internal, "/healthz"),
        (sqlite_shop.internal, "/metrics"),
    ):
        get = await client.get(path)
        head = await client.head(path)
        assert head.status_code == get.status_code == 200, path
        assert head.content == b"" and head.headers["content-type"] == get.headers["content-type"], path


async def test_a_lower_case_country_is_normalised_before_validation(sqlite_shop):
    await sqlite_shop.product("MUG-A")
    cart = await sqlite_shop.cart_with(**{"MUG-A": 1})
    address = sqlite_shop.ADDRESS | {"country": " us "}
    response = await sqlite_shop.checkout(cart, shipping_address=address)
    assert response.status_code == 201, response.text
    assert response.json()["shipping_address"]["country"] == "US"


async def test_a_boolean_is_not_a_quantity_nor_an_amount(sqlite_shop):
    await sqlite_shop.product("MUG-A")
    cart = await sqlite_shop.cart_with()
    response = await sqlite_shop.public.put(f"/api/v1/carts/{cart}/items/MUG-A", json={"quantity": True})
    assert response.status_code == 422
    stock = await sqlite_shop.internal.put(
        "/api/v1/admin/products/MUG-A/stock", json={"stock": True}, headers=sqlite_shop.admin
    )
    assert stock.status_code == 422


async def test_money_stays_below_2_to_the_53(sqlite_shop):
    too_dear = {"name": "N", "category": "c", "price": {"amount": 10**9 + 1, "currency": "USD"}}
    response = await sqlite_shop.internal.put("/api/v1/admin/products/DEAR", json=too_dear, headers=sqlite_shop.admin)
    assert response.status_code == 422
    await sqlite_shop.product("MUG-A", price=10**9, stock=10**6)
    cart = await sqlite_shop.cart_with()
    many = await sqlite_shop.public.put(f"/api/v1/carts/{cart}/items/MUG-A", json={"quantity": 10_001})
    assert many.status_code == 422
    for n in range(100):
        await sqlite_shop.product(f"P-{n}", stock=1)
        assert (
            await sqlite_shop.public.put(f"/api/v1/carts/{cart}/items/P-{n}", json={"quantity": 1})
        ).status_code == 200
    full = await sqlite_shop.public.put(f"/api/v1/carts/{cart}/items/MUG-A", json={"quantity": 1})
    assert full.status_code == 409 and full.json()["error"] == "cart_full"
    # 100 lines of 10 000 at the highest price: every total of the API stays an exact JSON number.
    assert 100 * 10_000 * 10**9 * 2 < 2**53


async def test_a_malformed_sku_on_image_upload_is_404_not_415(sqlite_shop):
    response = await sqlite_shop.internal.post(
        "/api/v1/admin/products/not%20a%20sku/image",
        files={"file": ("m.png", b"\x89PNG\r\n\x1a\n" + b"0" * 100, "image/png")},
        headers=sqlite_shop.admin,
    )
    assert response.status_code == 404


@pytest.mark.services
async def test_searches_and_unknown_skus_never_become_redis_keys(pg_shop):
    await pg_shop.product("MUG-A")
    client = redis_sync.Redis.from_url(pg_shop.rt.settings.redis_url or "")
    prefix = pg_shop.rt.settings.redis_key_prefix
    await pg_shop.public.get("/api/v1/products")
    await pg_shop.public.get("/")
    before = len(list(client.scan_iter(match=prefix + "*")))
    for n in range(30):
        assert (await pg_shop.public.get("/api/v1/products", params={"q": f"search {n}"})).status_code == 200
        assert (await pg_shop.public.get("/", params={"q": f"search {n}"})).status_code == 200
        assert (await pg_shop.public.get("/api/v1/products", params={"category": f"c{n}"})).status_code == 200
        assert (await pg_shop.public.get(f"/api/v1/products/NO-SUCH-{n}")).status_code == 404
    assert len(list(client.scan_iter(match=prefix + "*"))) == before
    client.close()


async def test_order_lookup_is_rate_limited(shop):
    statuses = [
        (await shop.public.get("/api/v1/orders/SO-00000000", params={"email": "a@example.com"})).status_code
        for _ in range(31)
    ]
    assert statuses[:30] == [404] * 30 and statuses[30] == 429
    limited = await shop.public.get("/api/v1/orders/SO-00000000", params={"email": "a@example.com"})
    assert int(limited.headers["retry-after"]) >= 1


async def test_admin_login_is_rate_limited(shop):
    page = await shop.internal.get("/admin/login")
    token = re.search(r'name="csrf_token" value="([^"]*)"', page.text).group(1)  # pyright: ignore[reportOptionalMemberAccess]
    statuses = [
        (await shop.internal.post("/admin/login", data={"csrf_token": token, "token": "wrong-token-guess"})).status_code
        for _ in range(11)
    ]
    assert statuses[:10] == [401] * 10 and statuses[10] == 429


async def test_admin_api_bearer_tokens_are_rate_limited_like_admin_login(shop, settings, make_shop):
    """Wrong tokens count (in Redis: for every pod); right ones do not; past the limit even the right token is
    refused, so a guess that hits learns nothing until the window ends."""
    rules = "/api/v1/admin/country-rules"
    for _ in range(12):
        assert (await shop.internal.get(rules, headers=shop.admin)).status_code == 200
    assert (await shop.internal.get(rules)).status_code == 401  # no token: not an attempt
    wrong = {"Authorization": "Bearer wrong-token-guess"}
    statuses = [(await shop.internal.get(rules, headers=wrong)).status_code for _ in range(11)]
    assert statuses[:10] == [401] * 10 and statuses[10] == 429
    limited = await shop.internal.get(rules, headers=shop.admin)
    assert limited.status_code == 429 and limited.json()["error"] == "rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    other_pod = await make_shop(settings)
    assert (await other_pod.internal.get(rules, headers=wrong)).status_code == (429 if settings.redis_url else 401)


async def test_the_order_lookup_page_is_rate_limited(sqlite_shop):
    page = await sqlite_shop.public.get("/orders/lookup")
    token = re.search(r'name="csrf_token" value="([^"]*)"', page.text).group(1)  # pyright: ignore[reportOptionalMemberAccess]
    form = {"csrf_token": token, "number": "SO-00000000", "email": "a@example.com"}
    statuses = [(await sqlite_shop.public.post("/orders/lookup", data=form)).status_code for _ in range(30)]
    assert statuses == [404] * 30
    limited = await sqlite_shop.public.post("/orders/lookup", data=form)
    assert limited.status_code == 429 and limited.headers["retry-after"] == "60"
