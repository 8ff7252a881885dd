"""Payment providers. Only the built-in test provider exists: no real card ever leaves the process."""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date
from typing import Protocol


@dataclass(frozen=True)
class Card:
    number: str
    exp_month: int
    exp_year: int
    cvc: str

    @property
    def last4(self) -> str:
        return self.number[-4:]


@dataclass(frozen=True)
class PaymentResult:
    approved: bool
    reason: str | None = None  # decline code when not approved
    reference: str | None = None  # provider charge id when approved


class PaymentProvider(Protocol):
    def validate(self, card: Card, today: date) -> str | None:
        """A decline code for cards that cannot be charged at all, before any stock is reserved."""
        ...

    async def charge(self, card: Card, amount: int, currency: str, idempotency_key: str) -> PaymentResult:
        """Charge once per idempotency key: a retried charge with the same key returns the same result."""
        ...

    async def refund(self, reference: str, amount: int, currency: str) -> None: ...

    async def lookup(self, idempotency_key: str) -> PaymentResult | None:
        """The result of the charge made with this key, or None when the provider has none: how the housekeeping
        sweep learns whether a checkout that crashed between charging and recording the charge was paid."""
        ...


# Behaviour of the documented test cards; every other Luhn-valid number is approved.
TEST_CARD_DECLINES = {
    "4000000000000002": "card_declined",
    "4000000000009995": "insufficient_funds",
    "4000000000000069": "expired_card",
    "4000000000000127": "incorrect_cvc",
}


def luhn_valid(number: str) -> bool:
    if not re.fullmatch(r"[0-9]{12,19}", number):
        return False
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


class TestPaymentProvider:
    """Deterministic: the outcome depends only on the card, so retries with the same key agree.

    Its records of past charges (for lookup) live in this process only, the most recent MAX_RECORDS of them; a real
    provider answers from its own."""

    __test__ = False  # not a pytest class
    MAX_RECORDS = 50_000

    def __init__(self) -> None:
        self._charges: OrderedDict[str, PaymentResult] = OrderedDict()

    def validate(self, card: Card, today: date) -> str | None:
        if not luhn_valid(card.number):
            return "incorrect_number"
        if (card.exp_year, card.exp_month) < (today.year, today.month):
            return "expired_card"
        return None

    async def charge(self, card: Card, amount: int, currency: str, idempotency_key: str) -> PaymentResult:
        reason = TEST_CARD_DECLINES.get(card.number)
        if reason is not None:
            result = PaymentResult(approved=False, reason=reason)
        else:
            digest = hashlib.sha256(f"{idempotency_key}:{amount}:{currency}".encode()).hexdigest()[:24]
            result = PaymentResult(approved=True, reference=f"test_ch_{digest}")
        self._charges[idempotency_key] = result
        if len(self._charges) > self.MAX_RECORDS:
            self._charges.popitem(last=False)
        return result

    async def refund(self, reference: str, amount: int, currency: str) -> None:
        return None

    async def lookup(self, idempotency_key: str) -> PaymentResult | None:
        return self._charges.get(idempotency_key)
