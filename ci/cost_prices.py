"""Refresh the cost estimate's price table from the AWS Price List API (``make cost-prices``; needs AWS credentials).

    python -m ci.cost_prices [--prices FILE] [--dry-run]

Each entry of ``stacks/offline/prices/aws.json`` that the Price List API serves as one on-demand price (EC2 instance
types, EBS gp3, RDS for PostgreSQL instance classes and gp3 storage, ElastiCache for Valkey nodes) is looked up with
``pricing:GetProducts`` and rewritten with the price, the query as its source and today as its read date. The other
entries (tiered or per-request prices, and services whose products the API does not separate by one attribute) keep
their hand-read value, source and date, and are listed: the table stays as old as its oldest entry, so the estimate
keeps warning until someone reads those again. A query that matches no product or several different prices is an
error naming the entry: its filters need narrowing, never a guess.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from stacks.exit_codes import Exit
from stacks.offline.cost import PRICES

#: The Price List API is served from us-east-1 (and a few other regions); any of them returns every region's prices.
PRICING_ENDPOINT_REGION = "us-east-1"


@dataclass(frozen=True)
class Query:
    """A ``GetProducts`` request for one price: the service, TERM_MATCH filters, and the unit the price is in."""

    service: str
    filters: Mapping[str, str]
    unit: str

    def describe(self) -> str:
        filters = ", ".join(f"{key}={value}" for key, value in self.filters.items())
        return f"pricing:GetProducts {self.service} ({filters})"


class PriceListError(Exception):
    """A Price List answer that does not give exactly one price for an entry."""


def query_for(name: str, region: str) -> Query | None:
    """The Price List query of a price-table entry, or None for the entries kept by hand."""
    if region == "global":
        return None
    if name.startswith("ec2.instance."):
        instance_filters = {
            "instanceType": name.removeprefix("ec2.instance."),
            "regionCode": region,
            "operatingSystem": "Linux",
            "tenancy": "Shared",
            "preInstalledSw": "NA",
            "capacitystatus": "Used",
        }
        return Query("AmazonEC2", instance_filters, "Hrs")
    if name == "ebs.gp3.storage":
        volume_filters = {"productFamily": "Storage", "volumeApiName": "gp3", "regionCode": region}
        return Query("AmazonEC2", volume_filters, "GB-Mo")
    if name.startswith("rds.postgres."):
        database_filters = {
            "instanceType": name.removeprefix("rds.postgres."),
            "databaseEngine": "PostgreSQL",
            "deploymentOption": "Single-AZ",
            "regionCode": region,
        }
        return Query("AmazonRDS", database_filters, "Hrs")
    if name == "rds.gp3.storage":
        storage_filters = {
            "productFamily": "Database Storage",
            "volumeType": "General Purpose-GP3",
            "databaseEngine": "PostgreSQL",
            "deploymentOption": "Single-AZ",
            "regionCode": region,
        }
        return Query("AmazonRDS", storage_filters, "GB-Mo")
    if name.startswith("elasticache.valkey."):
        node_filters = {
            "instanceType": name.removeprefix("elasticache.valkey."),
            "cacheEngine": "Valkey",
            "regionCode": region,
        }
        return Query("AmazonElastiCache", node_filters, "Hrs")
    return None


def on_demand_price(price_list: Sequence[str], query: Query) -> tuple[float, str]:
    """(USD price, publication date) of the one on-demand price in a ``GetProducts`` answer's ``PriceList`` (each
    item a JSON document: ``product``, ``terms.OnDemand.<offer>.priceDimensions.<rate>.pricePerUnit.USD``)."""
    found: dict[float, str] = {}
    for item in price_list:
        document = json.loads(item)
        for dimension in _on_demand_dimensions(document):
            if dimension.get("unit") != query.unit or str(dimension.get("beginRange", "0")) != "0":
                continue
            usd = float(dimension["pricePerUnit"]["USD"])
            if usd > 0:
                found[usd] = str(document.get("publicationDate", ""))[:10]
    if len(found) != 1:
        what = "no product" if not found else f"{len(found)} different prices ({', '.join(map(str, sorted(found)))})"
        raise PriceListError(f"{query.describe()}: {what} in {query.unit}; narrow the filters")
    ((usd, published),) = found.items()
    return usd, published


def _on_demand_dimensions(document: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for offer in document.get("terms", {}).get("OnDemand", {}).values():
        yield from offer.get("priceDimensions", {}).values()


#: (query) -> the ``PriceList`` items of every page of the answer.
Fetch = Callable[[Query], list[str]]


def refresh(document: Mapping[str, Any], fetch: Fetch, today: date) -> tuple[dict[str, Any], list[str], list[str]]:
    """(the refreshed price table, the names@regions refreshed, the ones kept as they were)."""
    refreshed, kept, prices = [], [], []
    for entry in document["prices"]:
        query = query_for(entry["name"], entry["region"])
        label = f"{entry['name']}@{entry['region']}"
        if query is None:
            kept.append(label)
            prices.append(entry)
            continue
        usd, published = on_demand_price(fetch(query), query)
        source = f"AWS Price List API, {query.describe()}, publication {published}"
        prices.append({**entry, "usd": usd, "source": source, "read": today.isoformat()})
        refreshed.append(label)
    return {**document, "prices": prices}, refreshed, kept


def boto3_fetch() -> Fetch:  # pragma: no cover - needs AWS credentials; the parsing above is tested offline
    import boto3

    client = boto3.client("pricing", region_name=PRICING_ENDPOINT_REGION)
    paginator = client.get_paginator("get_products")

    def fetch(query: Query) -> list[str]:
        filters = [{"Type": "TERM_MATCH", "Field": key, "Value": value} for key, value in query.filters.items()]
        pages = paginator.paginate(ServiceCode=query.service, Filters=filters, FormatVersion="aws_v1")
        return [item for page in pages for item in page["PriceList"]]

    return fetch


def main(argv: Sequence[str] | None = None, fetch: Fetch | None = None, today: date | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ci.cost_prices", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--prices", type=Path, default=PRICES, help="the price table (default: %(default)s)")
    parser.add_argument("--dry-run", action="store_true", help="print what would change, write nothing")
    args = parser.parse_args(argv)
    document = json.loads(args.prices.read_text())
    try:
        updated, refreshed, kept = refresh(document, fetch or boto3_fetch(), today or date.today())
    except PriceListError as error:
        print(f"error: {error}", file=sys.stderr)
        return Exit.FAILED
    for old, new in zip(document["prices"], updated["prices"], strict=True):
        if old["usd"] != new["usd"]:
            print(f"{new['name']}@{new['region']}: ${old['usd']:g} -> ${new['usd']:g}")
    print(
        f"{len(refreshed)} prices refreshed from the Price List API; {len(kept)} kept as read by hand: "
        + ", ".join(kept)
    )
    if not args.dry_run:
        args.prices.write_text(json.dumps(updated, indent=2, ensure_ascii=False) + "\n")
    return Exit.OK


if __name__ == "__main__":
    sys.exit(main())
