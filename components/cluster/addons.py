"""EKS managed add-ons, pinned to the versions in settings.

All six are ``aws.eks.Addon`` resources of ours rather than pulumi-eks's built-in vpc-cni/coredns/kube-proxy
handling: the cluster is created without self-managed add-ons and pulumi-eks's own copies are switched off, so
each add-on has exactly one owner, a pinned version and a conflict policy, and is visible in the offline plan.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class ManagedAddon:
    name: str
    version: str
    configuration: dict[str, Any] = field(default_factory=dict)
    service_account_role_arn: pulumi.Input[str] | None = None
    needs: Sequence[pulumi.Resource] = ()
    """What this add-on alone waits for (e.g. its role's grants), beside what all of them wait for."""


def managed_addons(
    prefix: str,
    addons: Sequence[ManagedAddon],
    *,
    cluster_name: pulumi.Input[str],
    tags: dict[str, str],
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource] = (),
) -> list[aws.eks.Addon]:
    """The add-ons, with EKS's configuration overwritten by ours on create and on every update."""
    return [
        aws.eks.Addon(
            f"{prefix}-{addon.name}",
            cluster_name=cluster_name,
            addon_name=addon.name,
            addon_version=addon.version,
            configuration_values=json.dumps(addon.configuration) if addon.configuration else None,
            service_account_role_arn=addon.service_account_role_arn,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=tags,
            opts=pulumi.ResourceOptions(parent=parent, depends_on=[*depends_on, *addon.needs]),
        )
        for addon in addons
    ]
