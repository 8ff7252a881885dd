"""Migrations: a database behind the image is upgraded; the default country rules keep an operator's rules."""

import pytest
from alembic import command
from shop import db
from shop.runtime import Runtime
from sqlalchemy import create_engine, text

pytestmark = pytest.mark.anyio


def _alembic(url: str, action: str, revision: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        cfg = db.alembic_config()
        cfg.attributes["connection"] = conn
        getattr(command, action)(cfg, revision)
    engine.dispose()


def _rules(url: str) -> dict[str, tuple]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT country, name, shipping_amount, tax_rate_bp FROM country_rules")).all()
    engine.dispose()
    return {row[0]: tuple(row[1:]) for row in rows}


def test_default_rules_fill_gaps_and_leave_operator_rules_alone(tmp_path):
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    _alembic(url, "upgrade", "0001")
    engine = create_engine(url)
    with engine.begin() as conn:  # an operator's rules before the release that ships the defaults
        conn.execute(
            text(
                "INSERT INTO country_rules VALUES ('US', 'USA', 'USD', 999, NULL, 825, 0),"
                " ('IE', 'Ireland', 'USD', 1800, NULL, 2300, 1)"
            )
        )
    engine.dispose()
    _alembic(url, "upgrade", "0002")
    rules = _rules(url)
    assert rules["US"] == ("USA", 999, 825) and rules["IE"] == ("Ireland", 1800, 2300)
    assert rules["GB"] == ("United Kingdom", 1500, 2000) and len(rules) == 9

    engine = create_engine(url)
    with engine.begin() as conn:  # edited after the upgrade: no longer a default
        conn.execute(text("UPDATE country_rules SET shipping_amount = 1600 WHERE country = 'GB'"))
    engine.dispose()
    _alembic(url, "downgrade", "0001")
    assert set(_rules(url)) == {"US", "IE", "GB"}


async def test_migrate_upgrades_a_database_behind_the_image(sqlite_settings):
    _alembic(str(sqlite_settings.database_url).replace("+aiosqlite", ""), "downgrade", "0001")
    rt = Runtime(sqlite_settings)
    try:
        assert db.schema_state(await db.database_revisions(rt.engine)) == "behind"
        assert await rt.ready() == (False, "migrations not at head")
        await db.migrate(rt.engine)
        assert await db.database_revisions(rt.engine) == db.head_revisions()
        assert await rt.ready() == (True, "ok")
    finally:
        await rt.close()
