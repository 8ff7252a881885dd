"""Names of the final snapshots RDS and ElastiCache take when a data store is deleted."""

from __future__ import annotations

import pulumi
import pulumi_random as random


def final_snapshot_identifier(name: str, *, key: str, identifier: str, parent: pulumi.Resource) -> pulumi.Output[str]:
    """``<identifier>-final-<8 hex digits>``: snapshot names are unique per account and region, so a fixed one would
    make the next deletion of a store with this identifier (after a destroy and a new `up`) fail. The suffix is
    drawn once per store: a new one comes with a new identifier (``key`` names it in the keepers)."""
    suffix = random.RandomId(
        f"{name}-final-snapshot-suffix",
        byte_length=4,
        keepers={key: identifier},
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return pulumi.Output.concat(identifier, "-final-", suffix.hex)
