"""The shop's carts table: DynamoDB, one item per cart (app/shop/cart_table.py), expiring through TTL."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import PlatformComponent, StackContext

#: The table's key and TTL attribute: the shop's (app/shop/cart_table.py KEY, TTL_ATTRIBUTE).
KEY = "cart_id"
TTL_ATTRIBUTE = "expires_at"
#: Every call the shop makes on the table, and nothing else (no Scan, Query or batch calls): its Pod Identity role
#: is allowed exactly these, on this table only.
ITEM_ACTIONS = ("dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")


@dataclass(frozen=True, kw_only=True)
class CartsTableArgs:
    context: StackContext
    data_key_arn: pulumi.Input[str]
    """Encrypts the table, its point-in-time backups and its streams at rest."""


class CartsTable(PlatformComponent):
    """On-demand capacity (carts come in bursts; nothing to size), point-in-time recovery, encrypted with the data
    key, expired carts removed by TTL. The table holds data: deletion protection and ``protect`` in prod."""

    pulumi_type = "shop:data:CartsTable"
    component = "carts"

    table_name: pulumi.Output[str]
    table_arn: pulumi.Output[str]

    def __init__(self, name: str, args: CartsTableArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args.context, opts)
        table = aws.dynamodb.Table(
            f"{name}-table",
            name=self.naming.physical("carts"),
            billing_mode="PAY_PER_REQUEST",
            hash_key=KEY,
            attributes=[aws.dynamodb.TableAttributeArgs(name=KEY, type="S")],
            ttl=aws.dynamodb.TableTtlArgs(attribute_name=TTL_ATTRIBUTE, enabled=True),
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(
                enabled=True, kms_key_arn=args.data_key_arn
            ),
            deletion_protection_enabled=self.context.protect,
            tags=self.tags("carts"),
            opts=self.child(holds_data=True),
        )
        self.table_name = table.name
        self.table_arn = table.arn
        self.register_outputs({"table_name": self.table_name, "table_arn": self.table_arn})


def item_statement(table_arn: str) -> dict[str, object]:
    """The IAM statement that lets the shop use its carts: ITEM_ACTIONS on the table, not on its indexes."""
    return {"Sid": "CartsTable", "Effect": "Allow", "Action": list(ITEM_ACTIONS), "Resource": table_arn}
