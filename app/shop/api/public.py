"""Public JSON API: catalog, carts, checkout and order lookup."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from starlette.responses import Response

from shop.api.schemas import (
    MAX_CART_LINES,
    MAX_IDEMPOTENCY_KEY,
    ORDER_NUMBER_RE,
    PRINTABLE,
    SKU_RE,
    CartOut,
    CategoryList,
    CheckoutIn,
    OrderOut,
    ProductPage,
    QuantityIn,
    responses,
)
from shop.api.schemas import Product as ProductOut
from shop.http import (
    QueryParams,
    RuntimeDep,
    error_response,
    json_response,
    outcome_response,
    rate_limited,
    runtime,
)
from shop.orders import Address, CheckoutRequest
from shop.payments import Card
from shop.ratelimit import ORDER_LOOKUP
from shop.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["public"])


def _not_found(what: str) -> Response:
    return error_response(404, "not_found", f"no such {what}")


# The two catalog reads are the hottest routes: they parse their few query parameters by hand, because
# FastAPI's per-parameter validation costs more than the cached answer itself. OpenAPI still documents them.
_LIST_PARAMS = [
    {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 100, "pattern": PRINTABLE, "default": ""}},
    {
        "name": "category",
        "in": "query",
        "schema": {"type": "string", "maxLength": 64, "pattern": PRINTABLE, "default": ""},
    },
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 100000, "default": 0}},
]


@router.get(
    "/products",
    responses=responses({200: ProductPage}, 422),
    openapi_extra={"parameters": _LIST_PARAMS},
)
async def list_products(request: Request) -> Response:
    """Products matching an optional search text and category, ordered by category and name."""
    params = QueryParams(request.query_params)
    q = params.text("q", 100)
    category = params.text("category", 64)
    limit = params.integer("limit", 20, 1, 100)
    offset = params.integer("offset", 0, 0, 100_000)
    if params.errors:
        return error_response(422, "validation_failed", "the request is invalid", fields=params.errors)
    return json_response(await runtime(request).catalog.list_json(q.strip(), category, limit, offset))


@router.get(
    "/products/{sku}",
    responses=responses({200: ProductOut}, 404),
    openapi_extra={"parameters": [{"name": "sku", "in": "path", "required": True, "schema": {"type": "string"}}]},
)
async def get_product(request: Request) -> Response:
    sku = request.path_params["sku"]
    body = await runtime(request).catalog.product_json(sku) if SKU_RE.match(sku) else b"null"
    return json_response(body) if body != b"null" else _not_found("product")


@router.get("/categories", responses=responses({200: CategoryList}))
async def list_categories(rt: RuntimeDep) -> Response:
    return json_response(await rt.catalog.categories_json())


async def _cart_body(rt: Runtime, cart_id: str) -> dict | None:
    cart = await rt.carts.get(cart_id)
    if cart is None:
        return None
    async with rt.reads() as session:
        return (await rt.carts.price(session, cart)).as_dict()


# OpenAPI links: what a client (and a stateful fuzzer) can do with a new cart's id.
_CART_LINKS = {
    "GetCart": {"operationId": "get_cart", "parameters": {"cart_id": "$response.body#/id"}},
    "SetCartItem": {"operationId": "set_cart_item", "parameters": {"cart_id": "$response.body#/id"}},
    "PlaceOrder": {"operationId": "place_order", "requestBody": {"cart_id": "$response.body#/id"}},
}


@router.post(
    "/carts",
    status_code=201,
    responses=responses({201: CartOut}) | {201: {"model": CartOut, "links": _CART_LINKS}},
)
async def create_cart(rt: RuntimeDep) -> Response:
    cart = await rt.carts.create()
    return json_response({"id": cart.id, "items": [], "subtotal": {"amount": 0, "currency": rt.settings.currency}}, 201)


@router.get("/carts/{cart_id}", operation_id="get_cart", responses=responses({200: CartOut}, 404))
async def get_cart(rt: RuntimeDep, cart_id: str) -> Response:
    body = await _cart_body(rt, cart_id)
    return json_response(body) if body is not None else _not_found("cart")


@router.put(
    "/carts/{cart_id}/items/{sku}",
    operation_id="set_cart_item",
    responses=responses({200: CartOut}, 404, 409, 413, 422),
)
async def set_cart_item(rt: RuntimeDep, cart_id: str, sku: str, payload: QuantityIn) -> Response:
    """Set the quantity of one product in the cart; 0 removes it, more than the stock is a 409."""
    cart = await rt.carts.get(cart_id)
    if cart is None:
        return _not_found("cart")
    # One read of every product involved: the stock check and the priced answer both use it.
    async with rt.reads() as session:
        products = await rt.catalog.live_products(session, {*cart.items, sku}) if SKU_RE.match(sku) else {}
    product = products.get(sku)
    if product is None and payload.quantity > 0:
        return _not_found("product")
    if payload.quantity > 0 and sku not in cart.items and len(cart.items) >= MAX_CART_LINES:
        return error_response(409, "cart_full", f"a cart holds at most {MAX_CART_LINES} different products")
    if product is not None and payload.quantity > product.stock:
        return error_response(
            409, "insufficient_stock", f"only {product.stock} of {sku} in stock", skus=[sku], available=product.stock
        )
    await rt.carts.set_quantity(cart, sku, payload.quantity)
    return json_response(rt.carts.priced(cart, products).as_dict())


_ORDER_LINKS = {
    "GetOrder": {
        "operationId": "get_order",
        "parameters": {"number": "$response.body#/number", "email": "$request.body#/email"},
    }
}


@router.post(
    "/orders",
    operation_id="place_order",
    status_code=201,
    responses=responses({201: OrderOut}, 400, 402, 404, 409, 413, 422)
    | {201: {"model": OrderOut, "links": _ORDER_LINKS}},
)
async def place_order(
    rt: RuntimeDep,
    payload: CheckoutIn,
    idempotency_key: Annotated[str | None, Header(max_length=MAX_IDEMPOTENCY_KEY, pattern=r"^[\x21-\x7e]+$")] = None,
) -> Response:
    """Place an order for a cart. Retry with the same `Idempotency-Key` to get the same answer."""
    if idempotency_key is None:
        return error_response(400, "idempotency_key_required", "send an Idempotency-Key header")
    outcome = await rt.orders.checkout(
        "api:" + idempotency_key, rt.orders.request_hash(canonical(payload)), checkout_request(payload)
    )
    return outcome_response(outcome)


def canonical(payload: CheckoutIn) -> bytes:
    """The body as compared for idempotency: validated and normalised, so formatting differences do not count."""
    return json.dumps(payload.model_dump(mode="json"), sort_keys=True, separators=(",", ":")).encode()


def checkout_request(payload: CheckoutIn) -> CheckoutRequest:
    address, card = payload.shipping_address, payload.payment
    return CheckoutRequest(
        cart_id=payload.cart_id,
        email=payload.email,
        address=Address(address.name, address.line1, address.line2, address.city, address.postal_code, address.country),
        card=Card(card.card_number, card.exp_month, card.exp_year, card.cvc),
    )


@router.get("/orders/{number}", operation_id="get_order", responses=responses({200: OrderOut}, 404, 422, 429))
async def get_order(
    request: Request, rt: RuntimeDep, number: str, email: Annotated[str, Query(max_length=254)] = ""
) -> Response:
    """The order, only for the email it was placed with (404 otherwise, so numbers cannot be probed)."""
    if (limited := await rate_limited(request, ORDER_LOOKUP)) is not None:
        return limited
    order = await rt.orders.lookup(number, email) if ORDER_NUMBER_RE.match(number) and email else None
    return json_response(order) if order is not None else _not_found("order")
