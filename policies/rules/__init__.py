"""The shop platform's CrossGuard rules, one module per domain. Importing this package starts nothing: only
``policies/__main__.py`` constructs the ``PolicyPack`` (which serves the rules and never returns)."""

from pulumi_policy import EnforcementLevel, Policy

from . import cluster, data, edge, identity, network, services, stack, workloads

PACK_NAME = "shop-platform"
PACK_DESCRIPTION = "Security, resilience and cost rules for the shop platform on AWS and its Kubernetes workloads."
#: Without a config file every rule blocks; policies/config/<stack>.json relaxes what a stack may relax.
PACK_ENFORCEMENT = EnforcementLevel.MANDATORY

POLICIES: list[Policy] = [
    *network.rules.policies,
    *data.rules.policies,
    *edge.rules.policies,
    *identity.rules.policies,
    *cluster.rules.policies,
    *workloads.rules.policies,
    *stack.rules.policies,
    *services.rules.policies,
]
