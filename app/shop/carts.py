"""Carts, in the store SHOP_CART_STORE names: a DynamoDB table, Redis hashes with a TTL (falling back to the
database when Redis is absent or down), or the database.

Every store changes one line at a time, atomically where it is stored: a DynamoDB update expression, a Redis hash
field, an `INSERT … ON CONFLICT` row. Concurrent edits of different lines of one cart all survive, and `add`
increments on the server ("add one more" from two tabs adds two), refusing past the stock it is given.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.cache import RedisStore, RedisUnavailable
from shop.cart_table import DynamoCartTable
from shop.catalog import Catalog
from shop.models import Cart as CartRow
from shop.models import CartItem, utcnow
from shop.money import money

# Field that marks an existing (possibly empty) cart hash; SKUs never start with "~".
_MARKER = "~"
# Adds to one hash field unless the line would exceed the limit; -1 when refused. A script runs atomically.
_ADD_SCRIPT = """
local quantity = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0') + tonumber(ARGV[2])
if quantity > tonumber(ARGV[3]) then return -1 end
redis.call('HSET', KEYS[1], ARGV[1], quantity, ARGV[5], '1')
redis.call('EXPIRE', KEYS[1], ARGV[4])
return quantity
"""


@dataclass
class Cart:
    id: str
    items: dict[str, int] = field(default_factory=dict)
    stored_in: Literal["dynamodb", "redis", "db"] = "redis"


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
        table: DynamoCartTable | None = None,
    ) -> None:
        """Carts live in `table` when given, else in `redis` when given (falling back to the database)."""
        self.table = table
        self.redis = redis
        self.sessions = sessions
        self.reads = reads
        self.catalog = catalog
        self.ttl = ttl_seconds
        self.currency = currency

    async def create(self) -> Cart:
        cart = Cart(id=str(uuid.uuid4()))
        if self.table is not None:
            await asyncio.to_thread(self.table.create, cart.id)
            cart.stored_in = "dynamodb"
            return cart
        if self.redis is not None:
            key = self.redis.key("cart", cart.id)
            try:
                await self.redis.run(lambda r: r.hset(key, _MARKER, "1"))  # pyright: ignore[reportGeneralTypeIssues]
                await self.redis.run(lambda r: r.expire(key, self.ttl))
                return cart
            except RedisUnavailable:
                pass
        await self._move_to_db(cart)
        return cart

    async def get(self, cart_id: str) -> Cart | None:
        if not valid_cart_id(cart_id):
            return None
        if self.table is not None:
            lines = await asyncio.to_thread(self.table.get, cart_id)
            return None if lines is None else Cart(id=cart_id, items=lines, stored_in="dynamodb")
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
        if cart.stored_in == "dynamodb" and self.table is not None:
            await asyncio.to_thread(self.table.set, cart.id, sku, quantity)
            return
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
                await self._move_to_db(cart)  # keep the shopper's cart
                return
        await self._write_db_line(cart.id, sku, quantity)

    async def add(self, cart: Cart, sku: str, quantity: int, limit: int) -> bool:
        """Add `quantity` to one line on the server unless the line would exceed `limit` (the stock)."""
        added: int | None = None
        if cart.stored_in == "dynamodb" and self.table is not None:
            added = await asyncio.to_thread(self.table.add, cart.id, sku, quantity, limit)
        elif cart.stored_in == "redis" and self.redis is not None:
            key = self.redis.key("cart", cart.id)
            args = (sku, quantity, limit, self.ttl, _MARKER)
            try:
                answer = await self.redis.run(lambda r: r.eval(_ADD_SCRIPT, 1, key, *args))  # pyright: ignore[reportGeneralTypeIssues]
                added = int(answer) if int(answer) >= 0 else None
            except RedisUnavailable:
                await self._move_to_db(cart)
        if cart.stored_in == "db":
            added = await self._add_db_line(cart.id, sku, quantity, limit)
        if added is None:
            return False
        cart.items[sku] = added
        return True

    async def delete(self, cart: Cart) -> None:
        if cart.stored_in == "dynamodb" and self.table is not None:
            await asyncio.to_thread(self.table.delete, cart.id)
            return
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

    def _upsert(self, session: AsyncSession) -> Any:
        """The dialect's INSERT, which has ON CONFLICT (PostgreSQL and SQLite alike)."""
        return (postgresql if session.get_bind().dialect.name == "postgresql" else sqlite).insert

    async def _keep_cart_row(self, session: AsyncSession, cart_id: str) -> None:
        expires = utcnow() + timedelta(seconds=self.ttl)
        statement = self._upsert(session)(CartRow).values(id=cart_id, expires_at=expires)
        await session.execute(
            statement.on_conflict_do_update(index_elements=[CartRow.id], set_={"expires_at": expires})
        )

    async def _write_db_line(self, cart_id: str, sku: str, quantity: int) -> None:
        async with self.sessions.begin() as session:
            await self._keep_cart_row(session, cart_id)
            if quantity <= 0:
                await session.execute(delete(CartItem).where(CartItem.cart_id == cart_id, CartItem.sku == sku))
                return
            statement = self._upsert(session)(CartItem).values(cart_id=cart_id, sku=sku, quantity=quantity)
            await session.execute(
                statement.on_conflict_do_update(
                    index_elements=[CartItem.cart_id, CartItem.sku], set_={"quantity": statement.excluded.quantity}
                )
            )

    async def _add_db_line(self, cart_id: str, sku: str, quantity: int, limit: int) -> int | None:
        if quantity > limit:
            return None
        async with self.sessions.begin() as session:
            await self._keep_cart_row(session, cart_id)
            statement = self._upsert(session)(CartItem).values(cart_id=cart_id, sku=sku, quantity=quantity)
            increased = CartItem.quantity + statement.excluded.quantity
            upsert = statement.on_conflict_do_update(
                index_elements=[CartItem.cart_id, CartItem.sku], set_={"quantity": increased}, where=increased <= limit
            ).returning(CartItem.quantity)
            return (await session.execute(upsert)).scalar_one_or_none()

    async def _move_to_db(self, cart: Cart) -> None:
        """Keep the cart in the database from now on: its row, and one upsert per line it holds (a new cart without
        Redis, or one whose Redis write failed: the lines this request read move over)."""
        cart.stored_in = "db"
        if not cart.items:
            async with self.sessions.begin() as session:
                await self._keep_cart_row(session, cart.id)
        for sku, quantity in cart.items.items():
            await self._write_db_line(cart.id, sku, quantity)

    async def purge_expired(self) -> int:
        async with self.sessions.begin() as session:
            result = await session.execute(delete(CartRow).where(CartRow.expires_at <= utcnow()))
        return int(getattr(result, "rowcount", 0) or 0)
