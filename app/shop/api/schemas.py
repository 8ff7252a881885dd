"""Request and response models; they define the published OpenAPI contract."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    RootModel,
    StringConstraints,
    WithJsonSchema,
)

from shop.models import OrderStatus

SKU_PATTERN = r"^[A-Z0-9][A-Z0-9-]{0,63}$"
SKU_RE = re.compile(SKU_PATTERN)
ORDER_NUMBER_RE = re.compile(r"^SO-[0-9A-Z]{8}$", re.IGNORECASE)
COUNTRY_RE = re.compile(r"^[A-Z]{2}$")  # ISO 3166-1 alpha-2, as checkout addresses carry it
CATEGORY_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
# Printable text only: PostgreSQL rejects NUL, and control characters have no business in a shop.
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
MULTILINE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
# Explicit character classes (no \s): the same in Python, pydantic's Rust engine and a client's JSON Schema.
EMAIL_PATTERN = r"^[^@\x00-\x20\x7f]{1,64}@[^@\x00-\x20\x7f]+\.[^@\x00-\x20\x7f]{2,}$"


def _no_bool(value: object) -> object:
    # JSON true is not a quantity: pydantic's lax mode would read it as 1.
    if isinstance(value, bool):
        raise ValueError("must be an integer, not a boolean")
    return value


def _upper(value: object) -> object:
    # Normalise before validating: " us " is the country US (a pattern checked first would refuse it).
    return value.strip().upper() if isinstance(value, str) else value


#: An integer field that refuses booleans.
Int = Annotated[int, BeforeValidator(_no_bool)]
#: The largest amount of money anywhere in the API, in minor units (10 million units of the currency). With at
#: most MAX_CART_LINES lines of at most MAX_QUANTITY each, every total stays far below 2^53, so JSON numbers are
#: exact in every client (JavaScript included) and fit PostgreSQL's bigint.
MAX_AMOUNT = 10**9
MAX_QUANTITY = 10_000
MAX_CART_LINES = 100
#: Idempotency-Key: stored as "api:" + key in a varchar(255) column.
MAX_IDEMPOTENCY_KEY = 200


def _digits(value: object) -> object:
    return re.sub(r"[ -]", "", value) if isinstance(value, str) else value


def Text(max_length: int, min_length: int = 1, pattern: str = PRINTABLE) -> type[str]:
    """Printable text, surrounding whitespace removed. Its published pattern also says that a required text has a
    character other than whitespace (the validation strips, then counts)."""
    allowed = pattern.removeprefix("^").removesuffix("*$")  # every pattern here is ^[class]*$
    published = pattern if min_length == 0 else f"^{allowed}*[^\\x00-\\x20\\x7f\\s]{allowed}*$"
    return Annotated[  # type: ignore[return-value]
        str,
        StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length, pattern=pattern),
        WithJsonSchema(
            {"type": "string", "minLength": min_length, "maxLength": max_length, "pattern": published},
            mode="validation",
        ),
    ]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Money(Strict):
    amount: Int = Field(ge=0, le=MAX_AMOUNT, description="integer minor units, e.g. cents")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")


class MoneyIn(Money):
    """An amount the admin sends: in the shop's currency (the published document names it, see app.py)."""


class Product(BaseModel):
    sku: str
    name: str
    description: str
    category: str
    price: Money
    stock: int
    image_url: str | None


class ProductPage(BaseModel):
    items: list[Product]
    total: int


class Category(BaseModel):
    slug: str
    name: str
    count: int


class CategoryList(RootModel[list[Category]]):
    pass


class CartItem(BaseModel):
    sku: str
    name: str
    quantity: int
    unit_price: Money
    line_total: Money
    image_url: str | None


class CartOut(BaseModel):
    id: str
    items: list[CartItem]
    subtotal: Money


class QuantityIn(Strict):
    quantity: Int = Field(ge=0, le=MAX_QUANTITY, description="0 removes the item")


class AddressIn(Strict):
    name: Text(200)  # pyright: ignore[reportInvalidTypeForm]
    line1: Text(200)  # pyright: ignore[reportInvalidTypeForm]
    line2: Text(200, 0) = ""  # pyright: ignore[reportInvalidTypeForm]
    city: Text(100)  # pyright: ignore[reportInvalidTypeForm]
    postal_code: Text(20)  # pyright: ignore[reportInvalidTypeForm]
    country: Annotated[
        str, BeforeValidator(_upper), StringConstraints(pattern=r"^[A-Za-z]{2}$"), AfterValidator(str.upper)
    ] = Field(
        description="ISO 3166-1 alpha-2; any case, surrounding spaces ignored",
        json_schema_extra={"pattern": r"^\s*[A-Za-z]{2}\s*$"},
    )


class PaymentIn(Strict):
    card_number: Annotated[str, BeforeValidator(_digits), StringConstraints(pattern=r"^[0-9]{12,19}$")] = Field(
        description="12 to 19 digits; spaces and dashes between them are ignored",
        json_schema_extra={"pattern": r"^[ -]*([0-9][ -]*){12,19}$"},
    )
    exp_month: Int = Field(ge=1, le=12)
    exp_year: Int = Field(ge=2000, le=2100)
    cvc: str = Field(pattern=r"^[0-9]{3,4}$")


class CheckoutIn(Strict):
    cart_id: str = Field(pattern=r"^[0-9a-f-]{36}$")
    email: Annotated[str, StringConstraints(max_length=254, pattern=EMAIL_PATTERN)]
    shipping_address: AddressIn
    payment: PaymentIn


class OrderLineOut(BaseModel):
    sku: str
    name: str
    quantity: int
    unit_price: Money
    line_total: Money


class AddressOut(BaseModel):
    name: str
    line1: str
    line2: str
    city: str
    postal_code: str
    country: str


class OrderEventOut(BaseModel):
    status: str
    note: str
    at: str


class OrderOut(BaseModel):
    id: str
    number: str
    status: OrderStatus
    email: str
    items: list[OrderLineOut]
    subtotal: Money
    shipping: Money
    tax: Money
    total: Money
    shipping_address: AddressOut
    card_last4: str
    created_at: str
    history: list[OrderEventOut]


class OrderList(BaseModel):
    items: list[OrderOut]
    total: int


class FieldError(BaseModel):
    field: str
    message: str


#: What each error status means; every operation lists the ones it can answer (see responses()).
_ERROR_MEANINGS = {
    400: "a required header is missing",
    401: "no valid admin token",
    402: "the payment was declined",
    404: "no such resource",
    409: "conflicts with the current state (stock, the cart's open order, an idempotency key in use)",
    413: "the request body is larger than the limit",
    415: "not an image the shop accepts",
    422: "the request is invalid",
    429: "too many attempts; see Retry-After",
    503: "the database is not answering or the request missed its deadline; see Retry-After",
}


def responses(success: dict[int, type[BaseModel] | None], *errors: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI responses of one operation: its success bodies and exactly the errors it can answer (503 always:
    every operation may meet a database outage)."""
    documented: dict[int | str, dict[str, object]] = {
        status: {"model": model} if model is not None else {"description": "no content"}
        for status, model in success.items()
    }
    for status in sorted({*errors, 503}):
        documented[status] = {"model": ErrorOut, "description": _ERROR_MEANINGS[status]}
    return documented


class ErrorOut(BaseModel):
    error: str
    message: str
    fields: list[FieldError] | None = None
    skus: list[str] | None = None
    reason: str | None = None
    order_number: str | None = None
    available: int | None = None
    request_id: str | None = None


class ProductIn(Strict):
    name: Text(200)  # pyright: ignore[reportInvalidTypeForm]
    description: Text(5000, 0, MULTILINE) = ""  # pyright: ignore[reportInvalidTypeForm]
    category: str = Field(pattern=CATEGORY_PATTERN)
    price: MoneyIn
    # The published schema is spelled out: pydantic writes a nullable, validated integer's bounds as "ge"/"le".
    stock: (
        Annotated[Int, Field(ge=0, le=10**9), WithJsonSchema({"type": "integer", "minimum": 0, "maximum": 10**9})]
        | None
    ) = Field(None, description="only applied when given")
    active: bool = True


class StockIn(Strict):
    stock: Int = Field(ge=0, le=10**9)


class StatusIn(Strict):
    status: Literal["fulfilled", "cancelled"]


class CountryRuleIn(Strict):
    name: Text(100)  # pyright: ignore[reportInvalidTypeForm]
    shipping: MoneyIn = Field(description="flat shipping per order")
    free_shipping_over: MoneyIn | None = Field(None, description="subtotal from which shipping is free; null: never")
    tax_rate_bp: Int = Field(ge=0, le=10_000, description="basis points: 825 = 8.25 %")
    tax_includes_shipping: bool = Field(False, description="whether the tax applies to shipping too")


class CountryRuleOut(BaseModel):
    country: str
    name: str
    shipping: Money
    free_shipping_over: Money | None
    tax_rate_bp: int
    tax_includes_shipping: bool


class CountryRuleList(BaseModel):
    items: list[CountryRuleOut]
