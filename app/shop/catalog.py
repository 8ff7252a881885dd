"""Catalog reads (cached, pre-serialized) and admin writes (which invalidate the cache)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.cache import CatalogCache
from shop.models import Product
from shop.money import money

PRODUCT_COLUMNS = (
    Product.sku,
    Product.name,
    Product.description,
    Product.category,
    Product.price_amount,
    Product.currency,
    Product.stock,
    Product.image_key,
)


_LIVE_PRODUCTS = select(*PRODUCT_COLUMNS).where(
    Product.sku.in_(bindparam("b_skus", expanding=True)), Product.active, Product.currency == bindparam("b_currency")
)


def cache_key(kind: str, *parts: str) -> str:
    """A short, fixed-length cache key for arbitrary (user-supplied) parts."""
    return f"{kind}:" + hashlib.blake2b("\0".join(parts).encode(), digest_size=12).hexdigest()


_Query = TypeVar("_Query", bound=Select[*tuple[Any, ...]])


def category_name(slug: str) -> str:
    return slug.replace("-", " ").capitalize()


@dataclass(frozen=True)
class ProductInput:
    name: str
    description: str
    category: str
    price_amount: int
    currency: str
    active: bool
    stock: int | None


class Catalog:
    def __init__(
        self,
        reads: async_sessionmaker[AsyncSession],
        sessions: async_sessionmaker[AsyncSession],
        cache: CatalogCache,
        cdn_base_url: str,
        currency: str,
    ) -> None:
        """Only products priced in `currency` (the shop's) are on sale: a product priced in another currency (a
        database priced before SHOP_CURRENCY changed) is left out of every read, carts and checkout included,
        and reported at start-up (see foreign_priced), so no total ever mixes two currencies."""
        self.currency = currency
        self.reads = reads
        self.sessions = sessions
        self.cache = cache
        self.cdn_base_url = cdn_base_url

    def image_url(self, key: str | None) -> str | None:
        return f"{self.cdn_base_url}/media/{key}" if key else None

    def product_dict(self, row: Any) -> dict[str, Any]:
        return {
            "sku": row.sku,
            "name": row.name,
            "description": row.description,
            "category": row.category,
            "price": money(row.price_amount, row.currency),
            "stock": row.stock,
            "image_url": self.image_url(row.image_key),
        }

    async def list_json(self, q: str, category: str, limit: int, offset: int) -> bytes:
        """`{"items": [...], "total": n}` as JSON bytes, straight from the cache on a hit."""
        key = cache_key("list", q, category, str(limit), str(offset))

        async def load() -> bytes:
            query = _filtered(select(*PRODUCT_COLUMNS), q, category, self.currency)
            count = _filtered(select(func.count()).select_from(Product), q, category, self.currency)
            async with self.reads() as session:
                rows = (
                    await session.execute(query.order_by(Product.category, Product.name).limit(limit).offset(offset))
                ).all()
                total = (await session.execute(count)).scalar_one()
            return _dumps({"items": [self.product_dict(r) for r in rows], "total": total})

        # Search text and category are free-form client input: their results stay in the bounded in-process cache
        # and never become Redis keys (Redis also holds the carts; an unbounded key space there evicts them).
        return await self.cache.get(key, load, shared=not (q or category))

    async def product_json(self, sku: str) -> bytes:
        """The product as JSON bytes, or b"null" (cached too, in-process, so unknown SKUs do not reach the database)."""

        async def load() -> bytes:
            async with self.reads() as session:
                row = (
                    await session.execute(select(*PRODUCT_COLUMNS).where(Product.sku == sku, *self._on_sale()))
                ).one_or_none()
            return _dumps(self.product_dict(row) if row else None)

        # Unknown SKUs (any client can invent them) are remembered in-process only, never as Redis keys.
        return await self.cache.get(f"product:{sku}", load, shared=lambda value: value != b"null")

    async def categories_json(self) -> bytes:
        async def load() -> bytes:
            async with self.reads() as session:
                rows = (
                    await session.execute(
                        select(Product.category, func.count())
                        .where(*self._on_sale())
                        .group_by(Product.category)
                        .order_by(Product.category)
                    )
                ).all()
            return _dumps([{"slug": slug, "name": category_name(slug), "count": n} for slug, n in rows])

        return await self.cache.get("categories", load)

    async def live_products(self, session: AsyncSession, skus: Iterable[str]) -> dict[str, Any]:
        """Uncached rows for carts and checkout, where price and stock must be current."""
        # Prebuilt and straight to the connection: statement building and the ORM execution path would cost
        # more CPU than the query itself.
        rows = await (await session.connection()).execute(
            _LIVE_PRODUCTS, {"b_skus": list(skus), "b_currency": self.currency}
        )
        return {row.sku: row for row in rows}

    def _on_sale(self) -> tuple[Any, ...]:
        return (Product.active, Product.currency == self.currency)

    async def foreign_priced(self) -> list[str]:
        """SKUs of active products priced in another currency than the shop's: not sold (logged at start-up)."""
        async with self.reads() as session:
            rows = await session.execute(
                select(Product.sku).where(Product.active, Product.currency != self.currency).order_by(Product.sku)
            )
            return list(rows.scalars())

    # Admin writes ---------------------------------------------------------------------------------

    async def upsert(self, sku: str, data: ProductInput) -> tuple[bool, dict[str, Any]]:
        async with self.sessions.begin() as session:
            product = await session.get(Product, sku, with_for_update=True)
            created = product is None
            if product is None:
                product = Product(sku=sku, stock=data.stock or 0, image_key=None)
                session.add(product)
            elif data.stock is not None:
                product.stock = data.stock
            product.name = data.name
            product.description = data.description
            product.category = data.category
            product.price_amount = data.price_amount
            product.currency = data.currency
            product.active = data.active
        await self.cache.invalidate()
        return created, self.product_dict(product)

    async def set_stock(self, sku: str, stock: int) -> dict[str, Any] | None:
        return await self._update(sku, stock=stock)

    async def set_image(self, sku: str, key: str) -> dict[str, Any] | None:
        return await self._update(sku, image_key=key)

    async def _update(self, sku: str, **values: Any) -> dict[str, Any] | None:
        async with self.sessions.begin() as session:
            row = (
                await session.execute(
                    update(Product).where(Product.sku == sku).values(**values).returning(*PRODUCT_COLUMNS)
                )
            ).one_or_none()
        if row is None:
            return None
        await self.cache.invalidate()
        return self.product_dict(row)

    async def exists(self, sku: str) -> bool:
        async with self.reads() as session:
            return await session.get(Product, sku) is not None

    async def admin_list(self, session: AsyncSession) -> list[Any]:
        return list(await session.scalars(select(Product).order_by(Product.category, Product.name)))


def _filtered(query: _Query, q: str, category: str, currency: str) -> _Query:
    query = query.where(Product.active, Product.currency == currency)
    if category:
        query = query.where(Product.category == category)
    if q:
        pattern = "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(
                func.lower(Product.name).like(pattern, escape="\\"),
                func.lower(Product.description).like(pattern, escape="\\"),
                func.lower(Product.sku).like(pattern, escape="\\"),
            )
        )
    return query


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
