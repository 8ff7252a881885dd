"""Money as integer minor units plus an ISO 4217 currency; never floats."""

from __future__ import annotations

import re
from typing import Any

# Minor-unit exponents that differ from the ISO default of 2.
_EXPONENTS = {"JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "VND": 0, "BHD": 3, "KWD": 3, "OMR": 3, "TND": 3}
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$"}


def money(amount: int, currency: str) -> dict[str, Any]:
    return {"amount": amount, "currency": currency}


def decimal_amount(amount: int, currency: str, grouping: str = "") -> str:
    """1250 USD → '12.50' (the form an admin types); grouping="," gives '1,234.50'."""
    return _decimal_text(amount, _EXPONENTS.get(currency, 2), grouping)


def percent_text(basis_points: int) -> str:
    """825 → '8.25' (percent, the form an admin types)."""
    return _decimal_text(basis_points, 2)


def _decimal_text(value: int, exponent: int, grouping: str = "") -> str:
    major, minor = divmod(abs(value), 10**exponent)
    text = f"{major:{grouping}d}" + (f".{minor:0{exponent}d}" if exponent else "")
    return ("-" if value < 0 else "") + text


def format_money(amount: int, currency: str) -> str:
    sign = "-" if amount < 0 else ""
    text = decimal_amount(abs(amount), currency, ",")
    symbol = _SYMBOLS.get(currency)
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {currency}"


def percent_of(amount: int, basis_points: int) -> int:
    """amount * rate, rounded half up to the minor unit, in integer arithmetic."""
    return (amount * basis_points + 5_000) // 10_000


def parse_amount(text: str, currency: str) -> int:
    """'12.50' → 1250 for USD; raises ValueError for anything that is not an exact, non-negative amount."""
    value = _parse_decimal(text, _EXPONENTS.get(currency, 2))
    if value is None:
        raise ValueError(f"enter an amount like {format_money(1250, currency)}")
    return value


def parse_percent(text: str) -> int:
    """'8.25' (percent) → 825 basis points; raises ValueError for anything but 0 to 100 with up to two decimals."""
    value = _parse_decimal(text, 2)
    if value is None or value > 10_000:
        raise ValueError("enter a percentage from 0 to 100, like 8.25")
    return value


def _parse_decimal(text: str, exponent: int) -> int | None:
    """An exact non-negative decimal with at most `exponent` decimals, as an integer of its smallest unit."""
    pattern = rf"([0-9]{{1,12}})(?:\.([0-9]{{1,{exponent}}}))?" if exponent else r"([0-9]{1,12})()"
    match = re.fullmatch(pattern, text.strip())
    if match is None:
        return None
    major, minor = match.group(1), (match.group(2) or "").ljust(exponent, "0")
    return int(major) * 10**exponent + (int(minor) if minor else 0)
