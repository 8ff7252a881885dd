"""Admin pages (internal port only): products, stock, images, orders and country rules, behind a token login."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.responses import Response

from shop.api.admin import product_input, rule_input, store_image
from shop.api.schemas import COUNTRY_RE, ORDER_NUMBER_RE, SKU_RE, CountryRuleIn, ProductIn
from shop.http import client_address, refusal_status, runtime
from shop.media import MAX_IMAGE_BYTES
from shop.models import ORDER_STATUSES
from shop.money import decimal_amount, parse_amount, parse_percent, percent_text
from shop.orders import TRANSITIONS, OrderRefused
from shop.ratelimit import ADMIN_LOGIN
from shop.security import ADMIN_COOKIE, ADMIN_SESSION_SECONDS, admin_session_valid
from shop.shipping import rule_dict
from shop.web import WebSession, form_text, load_session, not_found, parse_int, read_form, redirect, render

router = APIRouter(prefix="/admin", include_in_schema=False)
Payload = TypeVar("Payload", bound=BaseModel)


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
    if await rt.limiter.retry_after(ADMIN_LOGIN, client_address(request)) is not None:
        error = "Too many sign-in attempts. Wait a minute and try again."
        return render(request, "admin/login.html", session, status=429, admin=False, error=error)
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
    sku, currency = values["sku"].upper(), rt.settings.currency
    errors = {} if SKU_RE.match(sku) else {"sku": "Use capital letters, digits and dashes."}
    amount = _parsed(errors, "price", lambda: parse_amount(values["price"], currency))
    payload = _validated(
        ProductIn,
        {
            "name": values["name"],
            "description": values["description"],
            "category": values["category"],
            "price": {"amount": amount, "currency": currency},
            "stock": parse_int(values["stock"], 9),
            "active": values["active"],
        },
        errors,
    )
    if payload is None:
        return _invalid_form(request, session, form, "admin/product.html", values, errors)
    await rt.catalog.upsert(sku, product_input(payload))
    return redirect(request, "/admin/products", session)


def _parsed(errors: dict[str, str], name: str, parse: Callable[[], int]) -> int:
    try:
        return parse()
    except ValueError as exc:
        errors[name] = str(exc)
        return 0


def _validated(model: type[Payload], data: dict[str, Any], errors: dict[str, str]) -> Payload | None:
    """The form's payload, or None with every problem added to `errors` (by form field)."""
    try:
        payload = model.model_validate(data)
    except ValidationError as exc:
        errors |= {str(e["loc"][0]): e["msg"] for e in exc.errors()}
        return None
    return None if errors else payload


def _invalid_form(
    request: Request, session: WebSession, form: FormData, template: str, values: dict[str, Any], errors: dict[str, str]
) -> Response:
    existing = form_text(form, "existing", 64) or None
    return render(request, template, session, status=422, admin=True, values=values, errors=errors, existing=existing)


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
    try:
        await runtime(request).orders.transition(number, target)
    except OrderRefused as refused:
        status = refusal_status(refused)
        return render(request, "error.html", session, status=status, title="Not changed", message=str(refused))
    return redirect(request, f"/admin/orders/{number}", session)


@router.get("/country-rules")
async def country_rules_page(request: Request) -> Response:
    session = await admin_session(request)
    rules = [rule_dict(rule) for rule in await runtime(request).rules.all()]
    return render(request, "admin/country_rules.html", session, admin=True, rules=rules)


@router.get("/country-rules/new")
@router.get("/country-rules/{country}")
async def country_rule_form(request: Request, country: str | None = None) -> Response:
    session = await admin_session(request)
    values: dict[str, Any] = {}
    if country is not None:
        rule = await runtime(request).rules.get(country) if COUNTRY_RE.match(country) else None
        if rule is None:
            return not_found(request, session)
        free_over = rule.free_shipping_over
        values = {
            "name": rule.name,
            "shipping": decimal_amount(rule.shipping_amount, rule.currency),
            "free_shipping_over": decimal_amount(free_over, rule.currency) if free_over is not None else "",
            "tax_rate": percent_text(rule.tax_rate_bp),
            "tax_includes_shipping": rule.tax_includes_shipping,
        }
    return render(request, "admin/country_rule.html", session, admin=True, values=values, errors={}, existing=country)


@router.post("/country-rules")
async def save_country_rule(request: Request) -> Response:
    rt = runtime(request)
    session = await admin_session(request)
    form = await read_form(request, session)
    values: dict[str, Any] = {
        name: form_text(form, name) for name in ("country", "name", "shipping", "free_shipping_over", "tax_rate")
    }
    values["tax_includes_shipping"] = form.get("tax_includes_shipping") == "on"
    country = values["country"].upper()
    errors = {} if COUNTRY_RE.match(country) else {"country": "Use the two-letter ISO code, e.g. DE."}

    def money_field(name: str) -> dict[str, Any]:
        text, currency = values[name], rt.settings.currency
        return {"amount": _parsed(errors, name, lambda: parse_amount(text, currency)), "currency": currency}

    payload = _validated(
        CountryRuleIn,
        {
            "name": values["name"],
            "shipping": money_field("shipping"),
            "free_shipping_over": money_field("free_shipping_over") if values["free_shipping_over"] else None,
            "tax_rate_bp": _parsed(errors, "tax_rate", lambda: parse_percent(values["tax_rate"])),
            "tax_includes_shipping": values["tax_includes_shipping"],
        },
        errors,
    )
    if payload is None:
        return _invalid_form(request, session, form, "admin/country_rule.html", values, errors)
    await rt.rules.upsert(country, rule_input(payload))
    return redirect(request, "/admin/country-rules", session)


@router.post("/country-rules/{country}/delete")
async def delete_country_rule(request: Request, country: str) -> Response:
    session = await admin_session(request)
    await read_form(request, session)
    if not (COUNTRY_RE.match(country) and await runtime(request).rules.delete(country)):
        return not_found(request, session)
    return redirect(request, "/admin/country-rules", session)
