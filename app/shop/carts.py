"""Carts: Redis hashes with a TTL, falling back to the database when Redis is absent or down."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.cache import RedisStore, RedisUnavailable
from shop.catalog import Catalog
from shop.models import Cart as CartRow
from shop.models import CartItem, utcnow
from shop.money import money

# Field that marks an existing (possibly empty) cart hash; SKUs never start with "~".
_MARKER = "~"


@dataclass
class Cart:
    id: str
    items: dict[str, int] = field(default_factory=dict)
    stored_in: Literal["redis", "db"] = "redis"


@dataclass(frozen=True)
class CartLine:
    sku: str
    name: str
    quantity: int
    unit_price: int
    currency: str
    stock: int
    image_url: str | None

    @property
    def line_total(self) -> int:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class PricedCart:
    id: str
    lines: list[CartLine]
    currency: str
    #: SKUs in the cart that are not on sale any more (deactivated, deleted, priced in another currency).
    unavailable: list[str] = field(default_factory=list)

    @property
    def subtotal(self) -> int:
        return sum(line.line_total for line in self.lines)

    @property
    def count(self) -> int:
        return sum(line.quantity for line in self.lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "items": [
                {
                    "sku": line.sku,
                    "name": line.name,
                    "quantity": line.quantity,
                    "unit_price": money(line.unit_price, line.currency),
                    "line_total": money(line.line_total, line.currency),
                    "image_url": line.image_url,
                }
                for line in self.lines
            ],
            "subtotal": money(self.subtotal, self.currency),
        }


def valid_cart_id(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


class CartStore:
    def __init__(
        self,
        redis: RedisStore | None,
        sessions: async_sessionmaker[AsyncSession],
        reads: async_sessionmaker[AsyncSession],
        catalog: Catalog,
        ttl_seconds: int,
        currency: str,
    ) -> None:
        self.redis = redis
        self.sessions = sessions
        self.reads = reads
        self.catalog = catalog
        self.ttl = ttl_seconds
        self.currency = currency

    async def create(self) -> Cart:
        cart = Cart(id=str(uuid.uuid4()))
        if self.redis is not None:
            key = self.redis.key("cart", cart.id)
            try:
                await self.redis.run(lambda r: r.hset(key, _MARKER, "1"))  # pyright: ignore[reportGeneralTypeIssues]
                await self.redis.run(lambda r: r.expire(key, self.ttl))
                return cart
            except RedisUnavailable:
                pass
        cart.stored_in = "db"
        await self._save_db(cart)
        return cart

    async def get(self, cart_id: str) -> Cart | None:
        if not valid_cart_id(cart_id):
            return None
        if self.redis is not None:
            key = self.redis.key("cart", cart_id)
            try:
                raw: dict[Any, Any] = await self.redis.run(lambda r: r.hgetall(key))  # pyright: ignore[reportGeneralTypeIssues]
            except RedisUnavailable:
                raw = {}
            if raw:
                items = {k.decode(): int(v) for k, v in raw.items() if k != _MARKER.encode()}
                return Cart(id=cart_id, items=items, stored_in="redis")
        async with self.reads() as session:
            row = await session.get(CartRow, cart_id)
            if row is None or row.expires_at <= utcnow():
                return None
            rows = await session.execute(select(CartItem.sku, CartItem.quantity).where(CartItem.cart_id == cart_id))
            items = {sku: quantity for sku, quantity in rows}
        return Cart(id=cart_id, items=items, stored_in="db")

    async def set_quantity(self, cart: Cart, sku: str, quantity: int) -> None:
        if quantity > 0:
            cart.items[sku] = quantity
        else:
            cart.items.pop(sku, None)
        if cart.stored_in == "redis" and self.redis is not None:
            key = self.redis.key("cart", cart.id)

            async def write(r: Any) -> Any:
                pipe = r.pipeline(transaction=True)
                if quantity > 0:
                    pipe.hset(key, sku, quantity)
                else:
                    pipe.hdel(key, sku)
                pipe.hset(key, _MARKER, "1")
                pipe.expire(key, self.ttl)
                return await pipe.execute()

            try:
                await self.redis.run(write)
                return
            except RedisUnavailable:
                cart.stored_in = "db"  # keep the shopper's cart: move it to the database
        await self._save_db(cart)

    async def delete(self, cart: Cart) -> None:
        if cart.stored_in == "redis" and self.redis is not None:
            key = self.redis.key("cart", cart.id)
            try:
                await self.redis.run(lambda r: r.delete(key))
                return
            except RedisUnavailable:
                pass
        async with self.sessions.begin() as session:
            await session.execute(delete(CartRow).where(CartRow.id == cart.id))

    async def price(self, session: AsyncSession, cart: Cart) -> PricedCart:
        """Current prices and stock; lines for products that no longer exist are dropped."""
        return self.priced(cart, await self.catalog.live_products(session, cart.items) if cart.items else {})

    def priced(self, cart: Cart, products: dict[str, Any]) -> PricedCart:
        """The cart priced with product rows the caller already loaded (see Catalog.live_products)."""
        lines = [
            CartLine(
                sku=sku,
                name=p.name,
                quantity=quantity,
                unit_price=p.price_amount,
                currency=p.currency,
                stock=p.stock,
                image_url=self.catalog.image_url(p.image_key),
            )
            for sku, quantity in sorted(cart.items.items())
            if (p := products.get(sku)) is not None
        ]
        unavailable = sorted(sku for sku in cart.items if sku not in products)
        return PricedCart(id=cart.id, lines=lines, currency=self.currency, unavailable=unavailable)

    async def _save_db(self, cart: Cart) -> None:
        expires = utcnow() + timedelta(seconds=self.ttl)
        async with self.sessions.begin() as session:
            await session.merge(CartRow(id=cart.id, expires_at=expires))
            await session.execute(delete(CartItem).where(CartItem.cart_id == cart.id))
            session.add_all(CartItem(cart_id=cart.id, sku=s, quantity=q) for s, q in cart.items.items())

    async def purge_expired(self) -> int:
        async with self.sessions.begin() as session:
            result = await session.execute(delete(CartRow).where(CartRow.expires_at <= utcnow()))
        return int(getattr(result, "rowcount", 0) or 0)
