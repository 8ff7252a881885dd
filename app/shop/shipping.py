"""Shipping and tax per destination country: the rows of country_rules, the quote computed from them, the cached
lookup checkout uses, and their administration."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.models import CountryRule
from shop.money import money, percent_of

# How long a process keeps the rules it read: they change rarely, checkouts often. Changes made through another
# pod reach this one within this time; changes made here apply at once.
RULES_TTL = 60.0


@dataclass(frozen=True)
class Rates:
    """A country's shipping and tax rule, detached from the database so it can be cached."""

    currency: str
    shipping_amount: int
    free_shipping_over: int | None
    tax_rate_bp: int
    tax_includes_shipping: bool

    @classmethod
    def of(cls, rule: CountryRule) -> Rates:
        return cls(
            rule.currency, rule.shipping_amount, rule.free_shipping_over, rule.tax_rate_bp, rule.tax_includes_shipping
        )


@dataclass(frozen=True)
class Quote:
    subtotal: int
    shipping: int
    tax: int

    @property
    def total(self) -> int:
        return self.subtotal + self.shipping + self.tax


def quote(rule: Rates, subtotal: int) -> Quote:
    free = rule.free_shipping_over is not None and subtotal >= rule.free_shipping_over
    shipping = 0 if free else rule.shipping_amount
    taxable = subtotal + (shipping if rule.tax_includes_shipping else 0)
    return Quote(subtotal=subtotal, shipping=shipping, tax=percent_of(taxable, rule.tax_rate_bp))


@dataclass(frozen=True)
class RuleInput:
    """An admin's rule for one country; amounts are minor units of the shop's currency."""

    name: str
    shipping_amount: int
    free_shipping_over: int | None
    tax_rate_bp: int
    tax_includes_shipping: bool


def rule_dict(rule: CountryRule) -> dict[str, Any]:
    free_over = rule.free_shipping_over
    return {
        "country": rule.country,
        "name": rule.name,
        "shipping": money(rule.shipping_amount, rule.currency),
        "free_shipping_over": money(free_over, rule.currency) if free_over is not None else None,
        "tax_rate_bp": rule.tax_rate_bp,
        "tax_includes_shipping": rule.tax_includes_shipping,
    }


class CountryRules:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], reads: async_sessionmaker[AsyncSession], currency: str
    ) -> None:
        self.sessions = sessions
        self.reads = reads
        self.currency = currency
        self._rates: dict[str, Rates] = {}
        self._expires = 0.0

    async def rates(self, session: AsyncSession, country: str) -> Rates | None:
        """The country's rule as of at most RULES_TTL ago, read on the caller's session."""
        now = time.monotonic()
        if now >= self._expires:
            self._rates = {rule.country: Rates.of(rule) for rule in await session.scalars(select(CountryRule))}
            self._expires = now + RULES_TTL
        return self._rates.get(country)

    async def all(self) -> list[CountryRule]:
        async with self.reads() as session:
            return list(await session.scalars(select(CountryRule).order_by(CountryRule.name)))

    async def destinations(self) -> list[CountryRule]:
        """The countries checkout offers: those whose rule is priced in the shop's currency."""
        return [rule for rule in await self.all() if rule.currency == self.currency]

    async def get(self, country: str) -> CountryRule | None:
        async with self.reads() as session:
            return await session.get(CountryRule, country)

    async def upsert(self, country: str, data: RuleInput) -> tuple[bool, CountryRule]:
        """Create or replace the country's rule, priced in the shop's currency."""
        async with self.sessions.begin() as session:
            rule = await session.get(CountryRule, country, with_for_update=True)
            created = rule is None
            if rule is None:
                rule = CountryRule(country=country)
                session.add(rule)
            rule.name = data.name
            rule.currency = self.currency
            rule.shipping_amount = data.shipping_amount
            rule.free_shipping_over = data.free_shipping_over
            rule.tax_rate_bp = data.tax_rate_bp
            rule.tax_includes_shipping = data.tax_includes_shipping
        self._expires = 0.0
        return created, rule

    async def delete(self, country: str) -> bool:
        async with self.sessions.begin() as session:
            deleted = await session.execute(delete(CountryRule).where(CountryRule.country == country))
        self._expires = 0.0
        return bool(getattr(deleted, "rowcount", 0))
