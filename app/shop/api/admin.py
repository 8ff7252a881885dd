"""Admin JSON API (internal port only): products, stock, images, orders and country rules. Bearer-token protected."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, HTTPException, Path, Query, Request, UploadFile
from starlette.responses import Response

from shop.api.schemas import (
    COUNTRY_RE,
    ORDER_NUMBER_RE,
    SKU_PATTERN,
    SKU_RE,
    CountryRuleIn,
    CountryRuleList,
    CountryRuleOut,
    Money,
    OrderList,
    OrderOut,
    ProductIn,
    StatusIn,
    StockIn,
    responses,
)
from shop.api.schemas import Product as ProductOut
from shop.catalog import ProductInput
from shop.http import RuntimeDep, client_address, error_response, json_response, runtime
from shop.media import MAX_IMAGE_BYTES, content_type_for, image_key
from shop.models import OrderStatus
from shop.ratelimit import ADMIN_LOGIN
from shop.runtime import Runtime
from shop.shipping import RuleInput, rule_dict


async def require_admin(request: Request) -> None:
    """The bearer token. Wrong tokens count against the admin login's limit (per client, every pod through Redis);
    a client past it is refused before its token is even compared, so guessing here is as slow as on the login
    form. Right tokens are not counted: automation may call the API as often as it needs."""
    rt = runtime(request)
    client = client_address(request)
    if (retry := await rt.limiter.retry_after(ADMIN_LOGIN, client, count=False)) is not None:
        raise HTTPException(429, "too many attempts; retry later", headers={"Retry-After": str(retry)})
    authorization = request.headers.get("authorization")
    if not await rt.admin.bearer_ok(authorization):
        if authorization:  # an attempt; a request without a token guesses nothing
            await rt.limiter.retry_after(ADMIN_LOGIN, client)
        raise HTTPException(401, "admin token required", headers={"WWW-Authenticate": "Bearer"})


router = APIRouter(prefix="/api/v1/admin", tags=["admin"], dependencies=[Depends(require_admin)])


def _missing_product() -> Response:
    return error_response(404, "not_found", "no such product")


def _invalid(fields: list[dict[str, str]]) -> Response:
    return error_response(422, "validation_failed", "the request is invalid", fields=fields)


def currency_errors(rt: Runtime, amounts: dict[str, Money | None]) -> list[dict[str, str]]:
    """Every amount the admin sends is in the shop's currency: nothing mixes currencies in one total."""
    return [
        {"field": f"{name}.currency", "message": f"the shop sells in {rt.settings.currency}"}
        for name, amount in amounts.items()
        if amount is not None and amount.currency != rt.settings.currency
    ]


@router.put(
    "/products/{sku}",
    responses=responses({200: ProductOut, 201: ProductOut}, 401, 429, 413, 422),
)
async def upsert_product(
    rt: RuntimeDep, sku: Annotated[str, Path(pattern=SKU_PATTERN)], payload: ProductIn
) -> Response:
    """Create (201) or update (200) a product. `stock` is only changed when given."""
    fields = [] if SKU_RE.match(sku) else [{"field": "sku", "message": f"must match {SKU_PATTERN}"}]
    fields += currency_errors(rt, {"price": payload.price})
    if fields:
        return _invalid(fields)
    created, product = await rt.catalog.upsert(sku, product_input(payload))
    return json_response(product, 201 if created else 200)


def product_input(payload: ProductIn) -> ProductInput:
    return ProductInput(
        name=payload.name,
        description=payload.description,
        category=payload.category,
        price_amount=payload.price.amount,
        currency=payload.price.currency,
        active=payload.active,
        stock=payload.stock,
    )


@router.put("/products/{sku}/stock", responses=responses({200: ProductOut}, 401, 429, 404, 413, 422))
async def set_stock(rt: RuntimeDep, sku: str, payload: StockIn) -> Response:
    product = await rt.catalog.set_stock(sku, payload.stock) if SKU_RE.match(sku) else None
    return json_response(product) if product is not None else _missing_product()


@router.post("/products/{sku}/image", responses=responses({200: ProductOut}, 401, 429, 404, 413, 415, 422))
async def upload_image(
    rt: RuntimeDep, sku: str, file: Annotated[UploadFile, File(description="PNG, JPEG, GIF or WebP")]
) -> Response:
    return await store_image(rt, sku, await file.read(MAX_IMAGE_BYTES + 1))


async def store_image(rt: Runtime, sku: str, data: bytes) -> Response:
    """Shared by the API and the admin pages: validate, store under a content-addressed key, point the product at it."""
    if not SKU_RE.match(sku):
        return _missing_product()  # no product can have this SKU: not a question of the file
    if len(data) > MAX_IMAGE_BYTES:
        return error_response(413, "too_large", f"images are limited to {MAX_IMAGE_BYTES // (1024 * 1024)} MB")
    key = image_key(sku, data)
    if key is None:
        return error_response(415, "unsupported_media_type", "upload a PNG, JPEG, GIF or WebP image")
    if not await rt.catalog.exists(sku):
        return _missing_product()
    await rt.media.put(key, data, content_type_for(key))
    product = await rt.catalog.set_image(sku, key)
    return json_response(product) if product is not None else _missing_product()


@router.get("/orders", responses=responses({200: OrderList}, 401, 429, 422))
async def list_orders(
    rt: RuntimeDep,
    status: OrderStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    items, total = await rt.orders.admin_list(status, limit, offset)
    return json_response({"items": items, "total": total})


@router.get("/orders/{number}", responses=responses({200: OrderOut}, 401, 429, 404))
async def get_order(rt: RuntimeDep, number: str) -> Response:
    order = await rt.orders.admin_get(number) if ORDER_NUMBER_RE.match(number) else None
    return json_response(order) if order is not None else error_response(404, "not_found", "no such order")


@router.post("/orders/{number}/status", responses=responses({200: OrderOut}, 401, 429, 404, 409, 413, 422))
async def set_order_status(rt: RuntimeDep, number: str, payload: StatusIn) -> Response:
    """Fulfil a paid order, or cancel a pending/paid one (its stock is returned)."""
    if not ORDER_NUMBER_RE.match(number):
        return error_response(404, "not_found", "no such order")
    return json_response(await rt.orders.transition(number, payload.status))


def _missing_rule() -> Response:
    return error_response(404, "not_found", "no rule for this country")


@router.get("/country-rules", responses=responses({200: CountryRuleList}, 401, 429))
async def list_country_rules(rt: RuntimeDep) -> Response:
    """Shipping and tax per destination country. Checkout offers the countries whose rule is in the shop's currency."""
    return json_response({"items": [rule_dict(rule) for rule in await rt.rules.all()]})


@router.get("/country-rules/{country}", responses=responses({200: CountryRuleOut}, 401, 429, 404))
async def get_country_rule(rt: RuntimeDep, country: str) -> Response:
    rule = await rt.rules.get(country) if COUNTRY_RE.match(country) else None
    return json_response(rule_dict(rule)) if rule is not None else _missing_rule()


@router.put(
    "/country-rules/{country}",
    responses=responses({200: CountryRuleOut, 201: CountryRuleOut}, 401, 429, 413, 422),
)
async def put_country_rule(
    rt: RuntimeDep, country: Annotated[str, Path(pattern=COUNTRY_RE.pattern)], payload: CountryRuleIn
) -> Response:
    """Create (201) or replace (200) the rule for a country (ISO 3166-1 alpha-2, capitals); amounts in the shop's
    currency. Other pods apply the change within a minute."""
    fields = [] if COUNTRY_RE.match(country) else [{"field": "country", "message": "must be two capital letters"}]
    fields += currency_errors(rt, {"shipping": payload.shipping, "free_shipping_over": payload.free_shipping_over})
    if fields:
        return _invalid(fields)
    created, rule = await rt.rules.upsert(country, rule_input(payload))
    return json_response(rule_dict(rule), 201 if created else 200)


def rule_input(payload: CountryRuleIn) -> RuleInput:
    return RuleInput(
        name=payload.name,
        shipping_amount=payload.shipping.amount,
        free_shipping_over=payload.free_shipping_over.amount if payload.free_shipping_over else None,
        tax_rate_bp=payload.tax_rate_bp,
        tax_includes_shipping=payload.tax_includes_shipping,
    )


@router.delete("/country-rules/{country}", status_code=204, responses=responses({204: None}, 401, 429, 404))
async def delete_country_rule(rt: RuntimeDep, country: str) -> Response:
    """Stop shipping to a country. Placed orders keep their totals."""
    deleted = bool(COUNTRY_RE.match(country)) and await rt.rules.delete(country)
    return Response(status_code=204) if deleted else _missing_rule()
