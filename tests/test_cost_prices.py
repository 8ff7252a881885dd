"""The price table refresher (ci/cost_prices.py), offline: its queries and its parsing of Price List API answers.

The answers under tests/fixtures/pricing/ are recorded by hand in the documented GetProducts shape (see the README
there): no AWS account is reachable from the test machines and moto does not serve ``pricing``.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from ci import cost_prices
from stacks.offline import cost

FIXTURES = Path(__file__).parent / "fixtures" / "pricing"
TODAY = date(2027, 1, 15)


def _answer(name: str) -> list[str]:
    return json.loads((FIXTURES / f"{name}.json").read_text())["PriceList"]


def test_the_on_demand_price_is_read_and_reserved_terms_are_ignored() -> None:
    query = cost_prices.query_for("ec2.instance.m7i.large", "eu-west-1")
    assert query is not None
    assert cost_prices.on_demand_price(_answer("ec2_m7i_large_eu_west_1"), query) == (0.1124, "2026-11-20")


def test_a_price_in_another_unit_is_not_taken() -> None:
    hourly = cost_prices.Query("AmazonRDS", {}, "Hrs")
    with pytest.raises(cost_prices.PriceListError, match="no product in Hrs"):
        cost_prices.on_demand_price(_answer("rds_gp3_storage_eu_west_1"), hourly)


def test_several_prices_for_one_entry_are_an_error_not_a_guess() -> None:
    query = cost_prices.query_for("elasticache.valkey.cache.m7g.large", "eu-west-1")
    assert query is not None
    with pytest.raises(
        cost_prices.PriceListError, match=r"2 different prices \(0.1408, 0.2534\) in Hrs; narrow the filters"
    ):
        cost_prices.on_demand_price(_answer("elasticache_two_prices"), query)


def test_queries_name_the_region_and_the_product() -> None:
    query = cost_prices.query_for("rds.gp3.storage", "eu-west-1")
    assert query == cost_prices.Query(
        "AmazonRDS",
        {
            "productFamily": "Database Storage",
            "volumeType": "General Purpose-GP3",
            "databaseEngine": "PostgreSQL",
            "deploymentOption": "Single-AZ",
            "regionCode": "eu-west-1",
        },
        "GB-Mo",
    )
    assert cost_prices.query_for("cloudfront.gb_out", "global") is None
    assert cost_prices.query_for("nat.hour", "eu-west-1") is None


def test_refresh_rewrites_what_the_api_serves_and_keeps_the_rest(tmp_path: Path) -> None:
    answers = {
        ("AmazonEC2", "m7i.large"): _answer("ec2_m7i_large_eu_west_1"),
        ("AmazonRDS", "General Purpose-GP3"): _answer("rds_gp3_storage_eu_west_1"),
    }
    table = {
        "currency": "USD",
        "hoursPerMonth": 730,
        "prices": [
            {
                "name": "ec2.instance.m7i.large",
                "region": "eu-west-1",
                "usd": 0.1,
                "unit": "h",
                "source": "x",
                "read": "2026-01-01",
            },
            {
                "name": "rds.gp3.storage",
                "region": "eu-west-1",
                "usd": 0.1,
                "unit": "GB",
                "source": "x",
                "read": "2026-01-01",
            },
            {
                "name": "nat.hour",
                "region": "eu-west-1",
                "usd": 0.048,
                "unit": "h",
                "source": "page",
                "read": "2026-12-02",
            },
        ],
        "free": {},
    }

    def fetch(query: cost_prices.Query) -> list[str]:
        key = query.filters.get("instanceType") or query.filters["volumeType"]
        return answers[(query.service, key)]

    path = tmp_path / "prices.json"
    path.write_text(json.dumps(table))
    assert cost_prices.main(["--prices", str(path)], fetch=fetch, today=TODAY) == 0
    written = json.loads(path.read_text())
    instance, storage, nat = written["prices"]
    assert (instance["usd"], instance["read"]) == (0.1124, TODAY.isoformat())
    assert "AWS Price List API, pricing:GetProducts AmazonEC2" in instance["source"]
    assert "publication 2026-11-20" in instance["source"]
    assert storage["usd"] == 0.127
    assert nat == table["prices"][2]
    # The table stays as old as the entry nobody refreshed.
    assert cost.load_prices(path).date == date(2026, 12, 2)


def test_every_refreshable_entry_of_the_table_has_a_query() -> None:
    document = json.loads(cost.PRICES.read_text())
    refreshable = [e["name"] for e in document["prices"] if cost_prices.query_for(e["name"], e["region"])]
    prefixes = ("ec2.instance.", "rds.postgres.", "elasticache.valkey.")
    assert {name for name in refreshable if not name.startswith(prefixes)} == {"ebs.gp3.storage", "rds.gp3.storage"}
