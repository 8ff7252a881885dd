"""Carts in DynamoDB: one item per cart, its lines a map of SKU → quantity changed one line at a time.

Every write is a single UpdateItem with an update expression, which DynamoDB applies atomically to the stored
item: concurrent edits of different lines all survive, and an increment is `old + n` on the server, never a
value computed from a copy the shop read earlier. Expiry is the table's TTL attribute (`expires_at`, epoch
seconds), refreshed by every write; reads ignore an expired item that TTL has not removed yet.

The endpoint is boto3's: AWS in the cloud, `AWS_ENDPOINT_URL_DYNAMODB` in tests (moto's server on loopback).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

# Attribute names of the table (components/carts.py creates it with the same key and TTL attribute).
KEY = "cart_id"
TTL_ATTRIBUTE = "expires_at"
_LINES = "lines"


class DynamoCartTable:
    def __init__(
        self,
        table: str,
        region: str | None,
        ttl_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        import boto3  # only DynamoDB-backed deployments need it; it is slow to import
        from botocore.config import Config

        self.table = table
        self.ttl = ttl_seconds
        self._clock = clock
        self.client: Any = boto3.client(
            "dynamodb",
            region_name=region,
            config=Config(connect_timeout=2, read_timeout=2, retries={"mode": "standard", "max_attempts": 3}),
        )
        self._conflict = self.client.exceptions.ConditionalCheckFailedException

    def _expiry(self) -> dict[str, str]:
        return {"N": str(int(self._clock()) + self.ttl)}

    def create(self, cart_id: str) -> None:
        self.client.put_item(
            TableName=self.table,
            Item={KEY: {"S": cart_id}, _LINES: {"M": {}}, TTL_ATTRIBUTE: self._expiry()},
            ConditionExpression="attribute_not_exists(#key)",
            ExpressionAttributeNames={"#key": KEY},
        )

    def get(self, cart_id: str) -> dict[str, int] | None:
        item = self.client.get_item(TableName=self.table, Key={KEY: {"S": cart_id}}, ConsistentRead=True).get("Item")
        if item is None or int(item[TTL_ATTRIBUTE]["N"]) <= self._clock():
            return None
        return {sku: int(value["N"]) for sku, value in item[_LINES]["M"].items()}

    def set(self, cart_id: str, sku: str, quantity: int) -> bool:
        """Set one line (0 removes it); False when the cart no longer exists."""
        values: dict[str, Any] = {":expires": self._expiry()}
        if quantity > 0:
            expression = "SET #lines.#sku = :quantity, #expires = :expires"
            values[":quantity"] = {"N": str(quantity)}
        else:
            expression = "REMOVE #lines.#sku SET #expires = :expires"
        try:
            self.client.update_item(
                TableName=self.table,
                Key={KEY: {"S": cart_id}},
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(#key)",
                ExpressionAttributeNames={"#key": KEY, "#lines": _LINES, "#sku": sku, "#expires": TTL_ATTRIBUTE},
                ExpressionAttributeValues=values,
            )
        except self._conflict:
            return False
        return True

    def add(self, cart_id: str, sku: str, quantity: int, limit: int) -> int | None:
        """Add to one line unless the line would exceed `limit`; the new quantity, or None when refused."""
        if quantity > limit:
            return None
        values = {
            ":quantity": {"N": str(quantity)},
            ":room": {"N": str(limit - quantity)},
            ":zero": {"N": "0"},
            ":expires": self._expiry(),
        }
        try:
            answer = self.client.update_item(
                TableName=self.table,
                Key={KEY: {"S": cart_id}},
                UpdateExpression="SET #lines.#sku = if_not_exists(#lines.#sku, :zero) + :quantity, #expires = :expires",
                ConditionExpression="attribute_exists(#key) AND "
                "(attribute_not_exists(#lines.#sku) OR #lines.#sku <= :room)",
                ExpressionAttributeNames={"#key": KEY, "#lines": _LINES, "#sku": sku, "#expires": TTL_ATTRIBUTE},
                ExpressionAttributeValues=values,
                ReturnValues="UPDATED_NEW",
            )
        except self._conflict:
            return None
        return int(answer["Attributes"][_LINES]["M"][sku]["N"])

    def delete(self, cart_id: str) -> None:
        self.client.delete_item(TableName=self.table, Key={KEY: {"S": cart_id}})
