"""Admin API and pages: authentication, products, stock, images (local and S3 via moto), orders."""

import re
import struct
import zlib

import boto3
import pytest
from moto import mock_aws
from shop.media import S3MediaStore
from shop.models import ORDER_STATUSES
from sqlalchemy import text

pytestmark = pytest.mark.anyio
PRODUCT = {
    "name": "Mug",
    "description": "Line one\nline two",
    "category": "mugs",
    "price": {"amount": 1250, "currency": "USD"},
    "stock": 7,
}


def png() -> bytes:
    raw = b"\x00\xff\x00\x00"
    chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))  # noqa: E731
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/api/v1/admin/products/MUG-A"),
        ("PUT", "/api/v1/admin/products/MUG-A/stock"),
        ("POST", "/api/v1/admin/products/MUG-A/image"),
        ("GET", "/api/v1/admin/orders"),
        ("GET", "/api/v1/admin/country-rules"),
        ("PUT", "/api/v1/admin/country-rules/US"),
        ("DELETE", "/api/v1/admin/country-rules/US"),
    ],
)
@pytest.mark.parametrize("auth", [None, "Bearer wrong-token", "Basic dGVzdA==", "Bearer "])
async def test_admin_api_requires_the_token(sqlite_shop, method, path, auth):
    headers = {"Authorization": auth} if auth else {}
    response = await sqlite_shop.internal.request(method, path, headers=headers, json={})
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "path",
    [
        "/metrics",
        "/admin",
        "/admin/login",
        "/admin/products",
        "/admin/country-rules",
        "/api/v1/admin/orders",
        "/api/v1/admin/products/MUG-A",
        "/api/v1/admin/country-rules/US",
    ],
)
async def test_public_port_does_not_serve_admin_or_metrics(sqlite_shop, path):
    for method in ("GET", "PUT", "POST"):
        response = await sqlite_shop.public.request(method, path, headers=sqlite_shop.admin)
        assert response.status_code in (404, 405), (method, path)
    assert (await sqlite_shop.public.get(path, headers=sqlite_shop.admin)).status_code == 404


async def test_internal_port_serves_metrics_and_health(shop):
    await shop.public.get("/api/v1/products")
    metrics = (await shop.internal.get("/metrics")).text
    for name in (
        "shop_http_requests_total",
        "shop_http_request_duration_seconds_bucket",
        "shop_orders_placed_total",
        "shop_cache_requests_total",
        "shop_checkout_failures_total",
    ):
        assert name in metrics
    assert (await shop.internal.get("/healthz")).status_code == 200


async def test_create_update_product_and_stock(shop):
    created = await shop.internal.put("/api/v1/admin/products/MUG-A", json=PRODUCT, headers=shop.admin)
    assert created.status_code == 201 and created.json()["stock"] == 7
    updated = await shop.internal.put(
        "/api/v1/admin/products/MUG-A", json=PRODUCT | {"name": "Big mug", "stock": None}, headers=shop.admin
    )
    assert updated.status_code == 200 and updated.json()["name"] == "Big mug" and updated.json()["stock"] == 7
    stock = await shop.internal.put("/api/v1/admin/products/MUG-A/stock", json={"stock": 3}, headers=shop.admin)
    assert stock.json()["stock"] == 3 and await shop.stock("MUG-A") == 3
    missing = await shop.internal.put("/api/v1/admin/products/NOPE/stock", json={"stock": 3}, headers=shop.admin)
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("sku", "body", "field"),
    [
        ("bad sku", PRODUCT, "sku"),
        ("MUG-A", PRODUCT | {"price": {"amount": 1, "currency": "EUR"}}, "price.currency"),
        ("MUG-A", PRODUCT | {"price": {"amount": 1.5, "currency": "USD"}}, "price.amount"),
        ("MUG-A", PRODUCT | {"category": "Bad Category"}, "category"),
        ("MUG-A", PRODUCT | {"stock": -1}, "stock"),
    ],
)
async def test_product_validation(sqlite_shop, sku, body, field):
    response = await sqlite_shop.internal.put(f"/api/v1/admin/products/{sku}", json=body, headers=sqlite_shop.admin)
    assert response.status_code == 422 and field in [f["field"] for f in response.json()["fields"]]


async def test_image_upload_to_local_media(shop):
    await shop.internal.put("/api/v1/admin/products/MUG-A", json=PRODUCT, headers=shop.admin)
    response = await shop.internal.post(
        "/api/v1/admin/products/MUG-A/image", files={"file": ("m.png", png(), "image/png")}, headers=shop.admin
    )
    assert response.status_code == 200
    url = response.json()["image_url"]
    assert re.fullmatch(r"/media/products/mug-a-[0-9a-f]{16}\.png", url)
    served = await shop.public.get(url)
    assert served.content == png() and served.headers["content-type"] == "image/png"
    assert "immutable" in served.headers["cache-control"]
    assert (await shop.public.get("/api/v1/products/MUG-A")).json()["image_url"] == url


@pytest.mark.parametrize(("data", "status"), [(b"<svg onload=alert(1)>", 415), (b"GIF89a" + b"0" * (5 * 2**20), 413)])
async def test_image_upload_rejects_non_images_and_large_files(sqlite_shop, data, status):
    await sqlite_shop.internal.put("/api/v1/admin/products/MUG-A", json=PRODUCT, headers=sqlite_shop.admin)
    response = await sqlite_shop.internal.post(
        "/api/v1/admin/products/MUG-A/image", files={"file": ("x", data, "image/png")}, headers=sqlite_shop.admin
    )
    assert response.status_code == status


async def test_media_paths_cannot_escape(sqlite_shop):
    for path in ("/media/../settings.py", "/media/%2e%2e/x", "/media/products/..%2f..%2fetc"):
        assert (await sqlite_shop.public.get(path)).status_code == 404


async def test_image_upload_to_s3_served_from_cdn(sqlite_settings, make_shop):
    settings = sqlite_settings.model_copy(update={"s3_bucket": "shop-media", "cdn_base_url": "https://cdn.example.com"})
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="shop-media")
        shop = await make_shop(settings, media=S3MediaStore("shop-media", "media/", "us-east-1", client=client))
        await shop.internal.put("/api/v1/admin/products/MUG-A", json=PRODUCT, headers=shop.admin)
        response = await shop.internal.post(
            "/api/v1/admin/products/MUG-A/image", files={"file": ("m.png", png(), "image/png")}, headers=shop.admin
        )
        url = response.json()["image_url"]
        assert url.startswith("https://cdn.example.com/media/products/mug-a-")
        key = "media/" + url.removeprefix("https://cdn.example.com/media/")
        stored = client.get_object(Bucket="shop-media", Key=key)
        assert stored["Body"].read() == png() and stored["ContentType"] == "image/png"
        assert "immutable" in stored["CacheControl"]
        assert (await shop.public.get(url.removeprefix("https://cdn.example.com"))).content == png()


async def test_admin_orders_listing(shop):
    await shop.product("MUG-A", stock=5)
    await shop.checkout(await shop.cart_with(**{"MUG-A": 1}))
    await shop.checkout(
        await shop.cart_with(**{"MUG-A": 1}), payment=shop.VALID_CARD | {"card_number": "4000000000000002"}
    )
    listing = (await shop.internal.get("/api/v1/admin/orders", headers=shop.admin)).json()
    assert listing["total"] == 2
    paid = (await shop.internal.get("/api/v1/admin/orders?status=paid", headers=shop.admin)).json()
    assert paid["total"] == 1 and paid["items"][0]["status"] == "paid"
    assert (await shop.internal.get("/api/v1/admin/orders?status=bogus", headers=shop.admin)).status_code == 422


async def test_order_statuses_have_one_definition(sqlite_shop):
    """The migrated CHECK constraint, the published API and the admin filter all name exactly models.ORDER_STATUSES."""
    statuses = list(ORDER_STATUSES)
    async with sqlite_shop.rt.sessions() as session:
        table = (await session.execute(text("SELECT sql FROM sqlite_master WHERE name = 'orders'"))).scalar_one()
    assert re.search(r"status IN \(([^)]*)\)", table).group(1) == ", ".join(f"'{s}'" for s in statuses)
    spec = (await sqlite_shop.internal.get("/openapi.json")).json()
    assert spec["components"]["schemas"]["OrderOut"]["properties"]["status"]["enum"] == statuses
    (query,) = [p for p in spec["paths"]["/api/v1/admin/orders"]["get"]["parameters"] if p["name"] == "status"]
    assert query["schema"]["anyOf"][0]["enum"] == statuses
    for status in statuses:
        listing = await sqlite_shop.internal.get(f"/api/v1/admin/orders?status={status}", headers=sqlite_shop.admin)
        assert listing.status_code == 200
