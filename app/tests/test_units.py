"""Pure rules: money arithmetic, country rules, the test payment provider."""

from datetime import date

import pytest
from shop.models import CountryRule
from shop.money import decimal_amount, format_money, parse_amount, percent_of
from shop.payments import Card, TestPaymentProvider, luhn_valid
from shop.shipping import quote

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (1250, "USD", "$12.50"),
        (5, "USD", "$0.05"),
        (123456789, "EUR", "€1,234,567.89"),
        (1200, "JPY", "¥1,200"),
        (1500, "KWD", "1.500 KWD"),
        (-250, "GBP", "-£2.50"),
    ],
)
def test_format_money(amount, currency, text):
    assert format_money(amount, currency) == text


def test_parse_amount_is_exact():
    assert parse_amount("12.5", "USD") == 1250 and parse_amount("0.05", "USD") == 5
    assert parse_amount("1200", "JPY") == 1200 and decimal_amount(1250, "USD") == "12.50"
    for bad in ("12.505", "-1", "1e3", "", "12.5.0", "\uff11\uff12"):
        with pytest.raises(ValueError, match="amount"):
            parse_amount(bad, "USD")
    with pytest.raises(ValueError, match="amount"):
        parse_amount("12.5", "JPY")


def test_percent_rounds_half_up_in_integers():
    assert percent_of(1000, 825) == 83  # 82.5 → 83
    assert percent_of(1000, 824) == 82
    assert percent_of(10**15, 2000) == 2 * 10**14  # no float drift at any size


def _rule(**kw):
    base = {
        "country": "XX",
        "name": "X",
        "currency": "USD",
        "shipping_amount": 500,
        "free_shipping_over": None,
        "tax_rate_bp": 1000,
        "tax_includes_shipping": False,
    }
    return CountryRule(**(base | kw))


def test_quote_applies_shipping_and_tax_rules():
    assert (q := quote(_rule(), 2000)).shipping == 500 and q.tax == 200 and q.total == 2700
    assert quote(_rule(tax_includes_shipping=True), 2000).tax == 250
    assert quote(_rule(free_shipping_over=2000), 2000).shipping == 0
    assert quote(_rule(free_shipping_over=2001), 2000).shipping == 500


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("4242424242424242", True),
        ("4000000000000002", True),
        ("4242424242424241", False),
        ("123", False),
        ("4242x24242424242", False),
        ("79927398713", False),
        ("5555555555554444", True),
    ],
)
def test_luhn(number, valid):
    assert luhn_valid(number) is valid


async def test_test_provider():
    provider = TestPaymentProvider()
    today = date(2030, 6, 15)
    assert provider.validate(Card("4242424242424242", 6, 2030, "123"), today) is None
    assert provider.validate(Card("4242424242424242", 5, 2030, "123"), today) == "expired_card"
    assert provider.validate(Card("4242424242424243", 6, 2031, "123"), today) == "incorrect_number"
    approved = await provider.charge(Card("4242424242424242", 6, 2031, "123"), 100, "USD", "k")
    again = await provider.charge(Card("4242424242424242", 6, 2031, "123"), 100, "USD", "k")
    assert approved.approved and approved.reference == again.reference  # same key, same charge
    declined = await provider.charge(Card("4000000000000002", 6, 2031, "123"), 100, "USD", "k2")
    assert not declined.approved and declined.reason == "card_declined"
