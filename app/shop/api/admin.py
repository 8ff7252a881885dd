"""Admin JSON API (internal port only): products, stock, images and orders. Bearer-token protected."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, HTTPException, Query, Request, UploadFile
from starlette.responses import Response

from shop.api.schemas import (
    ORDER_NUMBER_RE,
    SKU_PATTERN,
    SKU_RE,
    ErrorOut,
    OrderList,
    OrderOut,
    ProductIn,
    StatusIn,
    StockIn,
)
from shop.api.schemas import Product as ProductOut
from shop.catalog import ProductInput
from shop.http import error_response, json_response, outcome_response, runtime, runtime_dependency
from shop.media import MAX_IMAGE_BYTES, content_type_for, image_key
from shop.models import OrderStatus
from shop.orders import Outcome
from shop.runtime import Runtime


async def require_admin(request: Request) -> None:
    if not await runtime(request).admin.bearer_ok(request.headers.get("authorization")):
        raise HTTPException(401, "admin token required", headers={"WWW-Authenticate": "Bearer"})


router = APIRouter(prefix="/api/v1/admin", tags=["admin"], dependencies=[Depends(require_admin)])
Rt = Annotated[Runtime, Depends(runtime_dependency)]
ERRORS = {status: {"model": ErrorOut} for status in (401, 404, 409, 413, 415, 422)}


def _missing_product() -> Response:
    return error_response(404, "not_found", "no such product")


@router.put("/products/{sku}", responses={200: {"model": ProductOut}, 201: {"model": ProductOut}, **ERRORS})
async def upsert_product(rt: Rt, sku: str, payload: ProductIn) -> Response:
    """Create (201) or update (200) a product. `stock` is only changed when given."""
    if not SKU_RE.match(sku):
        return error_response(
            422, "validation_failed", "invalid SKU", fields=[{"field": "sku", "message": f"must match {SKU_PATTERN}"}]
        )
    if payload.price.currency != rt.settings.currency:
        return error_response(
            422,
            "validation_failed",
            "wrong currency",
            fields=[{"field": "price.currency", "message": f"the shop sells in {rt.settings.currency}"}],
        )
    data = ProductInput(
        name=payload.name,
        description=payload.description,
        category=payload.category,
        price_amount=payload.price.amount,
        currency=payload.price.currency,
        active=payload.active,
        stock=payload.stock,
    )
    created, product = await rt.catalog.upsert(sku, data)
    return json_response(product, 201 if created else 200)


@router.put("/products/{sku}/stock", responses={200: {"model": ProductOut}, **ERRORS})
async def set_stock(rt: Rt, sku: str, payload: StockIn) -> Response:
    product = await rt.catalog.set_stock(sku, payload.stock) if SKU_RE.match(sku) else None
    return json_response(product) if product is not None else _missing_product()


@router.post("/products/{sku}/image", responses={200: {"model": ProductOut}, **ERRORS})
async def upload_image(
    rt: Rt, sku: str, file: Annotated[UploadFile, File(description="PNG, JPEG, GIF or WebP")]
) -> Response:
    return await store_image(rt, sku, await file.read(MAX_IMAGE_BYTES + 1))


async def store_image(rt: Runtime, sku: str, data: bytes) -> Response:
    """Shared by the API and the admin pages: validate, store under a content-addressed key, point the product at it."""
    if len(data) > MAX_IMAGE_BYTES:
        return error_response(413, "too_large", f"images are limited to {MAX_IMAGE_BYTES // (1024 * 1024)} MB")
    key = image_key(sku, data) if SKU_RE.match(sku) else None
    if key is None:
        return error_response(415, "unsupported_media_type", "upload a PNG, JPEG, GIF or WebP image")
    if not await rt.catalog.exists(sku):
        return _missing_product()
    await rt.media.put(key, data, content_type_for(key))
    product = await rt.catalog.set_image(sku, key)
    return json_response(product) if product is not None else _missing_product()


@router.get("/orders", responses={200: {"model": OrderList}, **ERRORS})
async def list_orders(
    rt: Rt,
    status: OrderStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    items, total = await rt.orders.admin_list(status, limit, offset)
    return json_response({"items": items, "total": total})


@router.get("/orders/{number}", responses={200: {"model": OrderOut}, **ERRORS})
async def get_order(rt: Rt, number: str) -> Response:
    order = await rt.orders.admin_get(number) if ORDER_NUMBER_RE.match(number) else None
    return json_response(order) if order is not None else error_response(404, "not_found", "no such order")


@router.post("/orders/{number}/status", responses={200: {"model": OrderOut}, **ERRORS})
async def set_order_status(rt: Rt, number: str, payload: StatusIn) -> Response:
    """Fulfil a paid order, or cancel a pending/paid one (its stock is returned)."""
    if not ORDER_NUMBER_RE.match(number):
        return error_response(404, "not_found", "no such order")
    result = await rt.orders.transition(number, payload.status)
    return outcome_response(result) if isinstance(result, Outcome) else json_response(result)
