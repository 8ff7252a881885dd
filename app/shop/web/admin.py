"""Admin pages (internal port only): products, stock, images and orders, behind a token login."""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.responses import Response

from shop.api.admin import store_image
from shop.api.schemas import ORDER_NUMBER_RE, SKU_RE, ProductIn
from shop.catalog import ProductInput
from shop.http import runtime
from shop.media import MAX_IMAGE_BYTES
from shop.models import ORDER_STATUSES
from shop.money import decimal_amount, parse_amount
from shop.orders import TRANSITIONS, Outcome
from shop.security import ADMIN_COOKIE, ADMIN_SESSION_SECONDS, admin_session_valid
from shop.web import WebSession, form_text, load_session, not_found, parse_int, read_form, redirect, render

router = APIRouter(prefix="/admin", include_in_schema=False)


class LoginRequired(Exception):
    """Raised by admin pages without a valid admin session; answered with a redirect to the login page."""


async def admin_session(request: Request) -> WebSession:
    session = await load_session(request)
    if not admin_session_valid(await runtime(request).signer.loads("admin", request.cookies.get(ADMIN_COOKIE))):
        raise LoginRequired
    return session


async def login_redirect(request: Request, exc: Exception) -> Response:
    return redirect(request, "/admin/login")


@router.get("/login")
async def login_page(request: Request) -> Response:
    return render(request, "admin/login.html", await load_session(request), admin=False)


@router.post("/login")
async def login(request: Request) -> Response:
    rt = runtime(request)
    session = await load_session(request)
    form = await read_form(request, session)
    if not await rt.admin.check(form_text(form, "token", 512)):
        return render(request, "admin/login.html", session, status=401, admin=False, error="That token is not valid.")
    response = redirect(request, "/admin/products", session)
    value = rt.signer.dumps("admin", {"admin": True, "exp": time.time() + ADMIN_SESSION_SECONDS})
    response.set_cookie(
        ADMIN_COOKIE,
        value,
        max_age=ADMIN_SESSION_SECONDS,
        path="/admin",
        httponly=True,
        secure=rt.settings.cookie_secure,
        samesite="strict",
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    session = await load_session(request)
    await read_form(request, session)
    response = redirect(request, "/admin/login", session)
    response.delete_cookie(ADMIN_COOKIE, path="/admin")
    return response


@router.get("")
@router.get("/products")
async def products_page(request: Request) -> Response:
    session = await admin_session(request)
    rt = runtime(request)
    async with rt.reads() as db:
        products = await rt.catalog.admin_list(db)
    return render(request, "admin/products.html", session, admin=True, products=products)


@router.get("/products/new")
@router.get("/products/{sku}")
async def product_form(request: Request, sku: str | None = None) -> Response:
    session = await admin_session(request)
    values: dict[str, Any] = {"active": True}
    if sku is not None:
        product = json.loads(await runtime(request).catalog.product_json(sku)) if SKU_RE.match(sku) else None
        if product is None:
            return not_found(request, session)
        values = _form_values(product)
    return render(request, "admin/product.html", session, admin=True, values=values, errors={}, existing=sku)


def _form_values(product: dict[str, Any]) -> dict[str, Any]:
    amount, currency = product["price"]["amount"], product["price"]["currency"]
    return {
        "sku": product["sku"],
        "name": product["name"],
        "description": product["description"],
        "category": product["category"],
        "price": decimal_amount(amount, currency),
        "stock": product["stock"],
        "active": True,
        "image_url": product["image_url"],
    }


@router.post("/products")
async def save_product(request: Request) -> Response:
    rt = runtime(request)
    session = await admin_session(request)
    form = await read_form(request, session)
    fields = ("sku", "name", "category", "price", "stock")
    values: dict[str, Any] = {name: form_text(form, name) for name in fields}
    values["description"] = form_text(form, "description", 5000)
    values["active"] = form.get("active") == "on"
    errors: dict[str, str] = {}
    sku = values["sku"].upper()
    if not SKU_RE.match(sku):
        errors["sku"] = "Use capital letters, digits and dashes."
    try:
        amount = parse_amount(values["price"], rt.settings.currency)
    except ValueError as exc:
        errors["price"], amount = str(exc), 0
    payload = None
    try:
        payload = ProductIn.model_validate(
            {
                "name": values["name"],
                "description": values["description"],
                "category": values["category"],
                "price": {"amount": amount, "currency": rt.settings.currency},
                "stock": parse_int(values["stock"], 9),
                "active": values["active"],
            }
        )
    except ValidationError as exc:
        errors |= {str(e["loc"][0]): e["msg"] for e in exc.errors()}
    if errors or payload is None:
        return render(
            request,
            "admin/product.html",
            session,
            status=422,
            admin=True,
            values=values,
            errors=errors,
            existing=form_text(form, "existing", 64) or None,
        )
    await rt.catalog.upsert(
        sku,
        ProductInput(
            name=payload.name,
            description=payload.description,
            category=payload.category,
            price_amount=payload.price.amount,
            currency=payload.price.currency,
            active=payload.active,
            stock=payload.stock,
        ),
    )
    return redirect(request, "/admin/products", session)


@router.post("/products/{sku}/stock")
async def save_stock(request: Request, sku: str) -> Response:
    session = await admin_session(request)
    form = await read_form(request, session)
    stock = parse_int(form_text(form, "stock", 10), 9)
    if stock is None or not SKU_RE.match(sku):
        return render(
            request, "error.html", session, status=422, title="Invalid stock", message="Enter a whole number."
        )
    if await runtime(request).catalog.set_stock(sku, stock) is None:
        return not_found(request, session)
    return redirect(request, "/admin/products", session)


@router.post("/products/{sku}/image")
async def save_image(request: Request, sku: str) -> Response:
    session = await admin_session(request)
    form = await read_form(request, session)
    upload = form.get("image")
    data = await upload.read(MAX_IMAGE_BYTES + 1) if isinstance(upload, UploadFile) else b""
    result = await store_image(runtime(request), sku, data)
    if result.status_code != 200:
        message = json.loads(bytes(result.body))["message"]
        return render(request, "error.html", session, status=result.status_code, title="Upload failed", message=message)
    return redirect(request, f"/admin/products/{sku}", session)


@router.get("/orders")
async def orders_page(request: Request) -> Response:
    session = await admin_session(request)
    status = request.query_params.get("status")
    status = status if status in ORDER_STATUSES else None
    orders, total = await runtime(request).orders.admin_list(status, 100, 0)
    return render(
        request,
        "admin/orders.html",
        session,
        admin=True,
        orders=orders,
        total=total,
        current=status,
        statuses=ORDER_STATUSES,
    )


@router.get("/orders/{number}")
async def order_page(request: Request, number: str) -> Response:
    session = await admin_session(request)
    order = await runtime(request).orders.admin_get(number) if ORDER_NUMBER_RE.match(number) else None
    if order is None:
        return not_found(request, session)
    moves = TRANSITIONS.get(order["status"], set())
    return render(request, "admin/order.html", session, admin=True, order=order, moves=moves)


@router.post("/orders/{number}/status")
async def order_status(request: Request, number: str) -> Response:
    session = await admin_session(request)
    form = await read_form(request, session)
    target = form_text(form, "status", 16)
    if target not in ("fulfilled", "cancelled") or not ORDER_NUMBER_RE.match(number):
        return not_found(request, session)
    result = await runtime(request).orders.transition(number, target)
    if isinstance(result, Outcome):
        body = result.json()
        return render(
            request, "error.html", session, status=result.status, title="Not changed", message=body["message"]
        )
    return redirect(request, f"/admin/orders/{number}", session)
