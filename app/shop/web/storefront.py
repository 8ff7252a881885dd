"""The storefront: catalog, product, cart, checkout, confirmation and order lookup. Works without JavaScript."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from fastapi import APIRouter, Request
from jinja2 import Environment
from pydantic import ValidationError
from starlette.responses import Response

from shop.api.public import canonical, checkout_request
from shop.api.schemas import MAX_CART_LINES, MAX_QUANTITY, ORDER_NUMBER_RE, SKU_RE, CheckoutIn
from shop.carts import Cart
from shop.catalog import cache_key
from shop.http import client_address, runtime
from shop.money import format_money
from shop.ratelimit import ORDER_LOOKUP
from shop.runtime import Runtime
from shop.shipping import Rates, quote
from shop.web import (
    WebSession,
    form_text,
    html_response,
    load_session,
    not_found,
    parse_int,
    read_form,
    redirect,
    render,
)

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 12
MAX_PAGE = 1000
# Control characters never survive input validation, so these slots cannot collide with content.
_CSRF_SLOT = "\x00csrf\x00"
_COUNT_SLOT = "\x00count\x00"


class _SlotSession:
    cart_count = _COUNT_SLOT


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _clean(value: str | None, max_length: int) -> str:
    return _CONTROL.sub("", value or "").strip()[:max_length]


def _page_number(value: str | None) -> int:
    number = parse_int(value or "", 4)
    return min(max(number, 1), MAX_PAGE) if number is not None else 1


@router.get("/")
async def catalog_page(request: Request) -> Response:
    """The page is rendered once per catalog version and query and cached like the data; per request only the
    session's CSRF token and cart count are filled in, which keeps it nearly as cheap as the JSON API."""
    rt = runtime(request)
    session = await load_session(request)
    q = _clean(request.query_params.get("q"), 100)
    category = _clean(request.query_params.get("category"), 64)
    page = _page_number(request.query_params.get("page"))

    async def render_page() -> bytes:
        result = json.loads(await rt.catalog.list_json(q, category, PAGE_SIZE, (page - 1) * PAGE_SIZE))
        env: Environment = request.app.state.templates
        return (
            env.get_template("catalog.html")
            .render(
                session=_SlotSession,
                csrf_token=_CSRF_SLOT,
                products=result["items"],
                total=result["total"],
                q=q,
                category=category,
                page=page,
                pages=max(1, -(-result["total"] // PAGE_SIZE)),
                categories=json.loads(await rt.catalog.categories_json()),
            )
            .encode()
        )

    cached = (
        await rt.catalog.cache.get(cache_key("page", q, category, str(page)), render_page, shared=not (q or category))
    ).decode()
    html = cached.replace(_CSRF_SLOT, rt.signer.csrf_token(session.id)).replace(_COUNT_SLOT, str(session.cart_count))
    return html_response(request, session, html)


@router.get("/products/{sku}")
async def product_page(request: Request, sku: str) -> Response:
    session = await load_session(request)
    product = await _product(runtime(request), sku)
    if product is None:
        return not_found(request, session)
    return render(request, "product.html", session, product=product)


async def _product(rt: Runtime, sku: str) -> dict[str, Any] | None:
    return json.loads(await rt.catalog.product_json(sku)) if SKU_RE.match(sku) else None


async def _session_cart(rt: Runtime, session: WebSession, create: bool) -> Cart | None:
    cart = await rt.carts.get(session.cart_id) if session.cart_id else None
    if cart is None and create:
        cart = await rt.carts.create()
        session.update(cart_id=cart.id, cart_count=0)
    return cart


@router.post("/cart/items")
async def add_to_cart(request: Request) -> Response:
    rt = runtime(request)
    session = await load_session(request)
    form = await read_form(request, session)
    sku = form_text(form, "sku", 64)
    quantity = parse_int(form_text(form, "quantity", 6) or "1")
    product = await _product(rt, sku)
    if product is None or quantity is None or quantity < 1:
        return (
            not_found(request, session)
            if product is None
            else render(
                request, "product.html", session, status=422, product=product, error="Choose a quantity of at least 1."
            )
        )
    cart = await _session_cart(rt, session, create=True)
    assert cart is not None
    async with rt.reads() as db:
        live = (await rt.catalog.live_products(db, [sku])).get(sku)
    if sku not in cart.items and len(cart.items) >= MAX_CART_LINES:
        message = f"A cart holds at most {MAX_CART_LINES} different products."
        return render(request, "product.html", session, status=409, product=product, error=message)
    limit = min(live.stock, MAX_QUANTITY) if live else 0
    if live is None or not await rt.carts.add(cart, sku, quantity, limit=limit):
        available = live.stock if live else 0
        message = f"Sorry, only {available} left in stock." if available else "Sorry, this product is sold out."
        return render(request, "product.html", session, status=409, product=product, error=message)
    session.update(cart_count=sum(cart.items.values()))
    return redirect(request, "/cart", session)


@router.get("/cart")
async def cart_page(request: Request) -> Response:
    return await _render_cart(request, await load_session(request))


async def _render_cart(request: Request, session: WebSession, status: int = 200, error: str | None = None) -> Response:
    rt = runtime(request)
    cart = await _session_cart(rt, session, create=False)
    priced = None
    if cart is not None:
        async with rt.reads() as db:
            priced = await rt.carts.price(db, cart)
        if priced.count != session.cart_count:
            session.update(cart_count=priced.count)
    elif session.cart_id:
        session.update(cart_id=None, cart_count=0)  # expired
    return render(request, "cart.html", session, status=status, cart=priced, error=error)


@router.post("/cart/items/{sku}")
async def update_cart_item(request: Request, sku: str) -> Response:
    rt = runtime(request)
    session = await load_session(request)
    form = await read_form(request, session)
    quantity = parse_int(form_text(form, "quantity", 6))
    cart = await _session_cart(rt, session, create=False)
    if cart is None or quantity is None or sku not in cart.items:
        return await _render_cart(request, session, 422, "That cart line could not be updated.")
    if quantity > 0:
        async with rt.reads() as db:
            live = (await rt.catalog.live_products(db, [sku])).get(sku)
        if live is None or quantity > min(live.stock, MAX_QUANTITY):
            return await _render_cart(request, session, 409, f"Only {live.stock if live else 0} of that item left.")
    await rt.carts.set_quantity(cart, sku, quantity)
    session.update(cart_count=sum(cart.items.values()))
    return redirect(request, "/cart", session)


async def _countries(rt: Runtime, subtotal: int) -> list[dict[str, Any]]:
    options = []
    for rule in await rt.rules.destinations():
        shipping = quote(Rates.of(rule), subtotal).shipping
        label = f"{rule.name} — shipping {format_money(shipping, rule.currency) if shipping else 'free'}"
        options.append({"code": rule.country, "label": label})
    return options


async def _render_checkout(
    request: Request,
    session: WebSession,
    status: int = 200,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    error: str | None = None,
) -> Response:
    rt = runtime(request)
    cart = await _session_cart(rt, session, create=False)
    if cart is None or not cart.items:
        return redirect(request, "/cart", session)
    async with rt.reads() as db:
        priced = await rt.carts.price(db, cart)
    return render(
        request,
        "checkout.html",
        session,
        status=status,
        cart=priced,
        countries=await _countries(rt, priced.subtotal),
        values=values or {"country": "US"},
        errors=errors or {},
        error=error,
        form_key=str(uuid.uuid4()),
    )


@router.get("/checkout")
async def checkout_page(request: Request) -> Response:
    return await _render_checkout(request, await load_session(request))


_ADDRESS_FIELDS = ("name", "line1", "line2", "city", "postal_code", "country")
_PAYMENT_FIELDS = ("card_number", "exp_month", "exp_year", "cvc")


@router.post("/checkout")
async def place_order(request: Request) -> Response:
    rt = runtime(request)
    session = await load_session(request)
    form = await read_form(request, session)
    values = {name: form_text(form, name) for name in ("email", *_ADDRESS_FIELDS, *_PAYMENT_FIELDS, "form_key")}
    kept = {k: v for k, v in values.items() if k not in ("card_number", "cvc")}  # never echo card data back
    if session.cart_id is None:
        return redirect(request, "/cart", session)
    try:
        payload = CheckoutIn.model_validate(
            {
                "cart_id": session.cart_id,
                "email": values["email"],
                "shipping_address": {name: values[name] for name in _ADDRESS_FIELDS},
                "payment": {name: values[name] for name in _PAYMENT_FIELDS},
            }
        )
    except ValidationError as exc:
        errors = {str(e["loc"][-1]): e["msg"] for e in exc.errors()}
        return await _render_checkout(request, session, 422, kept, errors, "Please correct the highlighted fields.")
    # One key per rendered form: a double-submitted form places one order.
    key = f"web:{session.id}:{_clean(values['form_key'], 64) or uuid.uuid4()}"
    outcome = await rt.orders.checkout(key, rt.orders.request_hash(canonical(payload)), checkout_request(payload))
    body = outcome.json()
    if outcome.status == 201:
        session.update(cart_id=None, cart_count=0, last_order=body["number"])
        return redirect(request, "/checkout/complete", session)
    message = {
        402: f"Your card was declined ({str(body.get('reason', '')).replace('_', ' ')}). Try another card.",
        409: "Some items are no longer available in that quantity: "
        + ", ".join(body.get("skus", []))
        + ". Remove them or lower the quantity in your cart, then check out again.",
    }.get(outcome.status, body.get("message", "Checkout failed."))
    if body.get("error") not in (None, "out_of_stock", "payment_declined"):
        message = body.get("message", "Checkout failed.")
    errors = {f["field"].rsplit(".", 1)[-1]: f["message"] for f in body.get("fields", [])}
    return await _render_checkout(request, session, outcome.status, kept, errors, message)


@router.get("/checkout/complete")
async def order_confirmation(request: Request) -> Response:
    session = await load_session(request)
    order = await runtime(request).orders.admin_get(session.last_order) if session.last_order else None
    if order is None:
        return redirect(request, "/", session)
    return render(request, "order.html", session, order=order, confirmation=True)


@router.get("/orders/lookup")
async def lookup_page(request: Request) -> Response:
    return render(request, "lookup.html", await load_session(request), values={})


@router.post("/orders/lookup")
async def lookup_order(request: Request) -> Response:
    session = await load_session(request)
    form = await read_form(request, session)
    if await runtime(request).limiter.retry_after(ORDER_LOOKUP, client_address(request)) is not None:
        values = {"number": form_text(form, "number", 32), "email": form_text(form, "email", 254)}
        error = "Too many lookups from your address. Wait a minute and try again."
        limited = render(request, "lookup.html", session, status=429, values=values, error=error)
        limited.headers["retry-after"] = str(ORDER_LOOKUP.window_seconds)
        return limited
    number, email = form_text(form, "number", 32).upper(), form_text(form, "email", 254)
    order = await runtime(request).orders.lookup(number, email) if ORDER_NUMBER_RE.match(number) and email else None
    if order is None:
        return render(
            request,
            "lookup.html",
            session,
            status=404,
            values={"number": number, "email": email},
            error="No order matches that number and email address.",
        )
    return render(request, "order.html", session, order=order, confirmation=False)
