"""Default shipping and tax rules, so that a shop that is never seeded (prod) can take orders from the start.

Data, not schema: every amount is in US cents and every rule is priced in USD (the shop's default currency; a
shop selling in another currency re-prices them in the admin, and checkout never applies a rule priced in
another currency). Only countries without a rule are added, so rules an operator created or edited are kept;
the downgrade removes only rules that still equal these defaults.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

CURRENCY = "USD"
# country, name, flat shipping, free shipping from (subtotal), tax in basis points, tax applies to shipping
RULES = (
    ("US", "United States", 500, 7500, 0, False),  # sales tax varies by state; not collected here
    ("CA", "Canada", 1200, 15000, 500, True),  # GST
    ("GB", "United Kingdom", 1500, None, 2000, True),
    ("DE", "Germany", 1500, None, 1900, True),
    ("FR", "France", 1500, None, 2000, True),
    ("NL", "Netherlands", 1500, None, 2100, True),
    ("AU", "Australia", 2500, None, 1000, True),
    ("JP", "Japan", 2500, None, 1000, True),
)
country_rules = sa.table(
    "country_rules",
    sa.column("country", sa.String),
    sa.column("name", sa.String),
    sa.column("currency", sa.String),
    sa.column("shipping_amount", sa.BigInteger),
    sa.column("free_shipping_over", sa.BigInteger),
    sa.column("tax_rate_bp", sa.Integer),
    sa.column("tax_includes_shipping", sa.Boolean),
)


def _rows() -> list[dict]:
    return [
        {
            "country": country,
            "name": name,
            "currency": CURRENCY,
            "shipping_amount": shipping,
            "free_shipping_over": free_over,
            "tax_rate_bp": tax_bp,
            "tax_includes_shipping": tax_shipping,
        }
        for country, name, shipping, free_over, tax_bp, tax_shipping in RULES
    ]


def upgrade() -> None:
    existing = set(op.get_bind().execute(sa.select(country_rules.c.country)).scalars())
    missing = [row for row in _rows() if row["country"] not in existing]
    if missing:
        op.bulk_insert(country_rules, missing)


def downgrade() -> None:
    for row in _rows():
        op.execute(
            country_rules.delete().where(
                *(
                    country_rules.c[name].is_(None) if value is None else country_rules.c[name] == value
                    for name, value in row.items()
                )
            )
        )
