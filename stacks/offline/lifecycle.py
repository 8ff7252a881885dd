"""What the engine does with a plan over its lifetime: in which order ``pulumi destroy`` deletes it, how long a fresh
``pulumi up`` takes at least. What changes between two plans is ``stacks.offline.changes``'s.

The dependency graph is the engine's: a resource depends on its ``dependencies`` (explicit ``depends_on`` and every
resource whose outputs its inputs use), its parent and its provider. ``pulumi up`` creates a resource once everything
it depends on exists (in parallel otherwise); ``pulumi destroy`` deletes in the reverse topological order, a resource
only once everything that depends on it is gone. So "B still exists while A is deleted" holds exactly when B is
reachable from A in this graph (``outlives``): nothing else orders two deletions. Remote components (pulumi-eks's
``Cluster`` and ``ManagedNodeGroup``) are single nodes here: their children are not visible offline.

Create times are typical figures (``TYPICAL_CREATE_SECONDS``), not guarantees: a fresh deploy's critical path is the
longest chain of them through the graph (``critical_path``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from stacks.offline.plan import Plan, PlannedResource

# ---------------------------------------------------------------------------------------------- the graph


def _edges(plan: Plan) -> dict[str, frozenset[str]]:
    """URN -> the URNs it depends on (dependencies, parent, provider), restricted to the plan's resources."""
    known = {resource.urn for resource in plan.resources}
    return {
        resource.urn: frozenset(
            urn
            for urn in (*resource.dependencies, resource.parent, resource.provider)
            if urn is not None and urn in known and urn != resource.urn
        )
        for resource in plan.resources
    }


#: Per plan (by identity; the plan is kept so that its id is not reused): the graph and the closures computed.
_graphs: dict[int, tuple[Plan, dict[str, frozenset[str]], dict[str, frozenset[str]]]] = {}


def _graph(plan: Plan) -> dict[str, frozenset[str]]:
    if id(plan) not in _graphs:
        _graphs[id(plan)] = (plan, _edges(plan), {})
    return _graphs[id(plan)][1]


def _closure(plan: Plan, urn: str) -> frozenset[str]:
    """Everything ``urn`` depends on, directly or not."""
    graph = _graph(plan)
    closures = _graphs[id(plan)][2]
    if urn not in closures:
        seen: set[str] = set()
        pending = list(graph[urn])
        while pending:
            current = pending.pop()
            if current not in seen:
                seen.add(current)
                pending.extend(graph[current])
        closures[urn] = frozenset(seen)
    return closures[urn]


def depends_on(plan: Plan, resource: PlannedResource, dependency: PlannedResource) -> bool:
    """Whether ``resource`` waits, directly or through others, for ``dependency`` (and so is deleted before it)."""
    return dependency.urn in _closure(plan, resource.urn)


def outlives(plan: Plan, survivor: PlannedResource, deleted: PlannedResource) -> bool:
    """Whether ``pulumi destroy`` keeps ``survivor`` until ``deleted`` is gone."""
    return depends_on(plan, deleted, survivor)


# ---------------------------------------------------------------------------------------------- destroy


def destroy_waves(plan: Plan) -> list[list[PlannedResource]]:
    """The order ``pulumi destroy`` deletes in, as waves: each wave's resources are deleted together, once every
    earlier wave is gone (a resource's wave is one after the latest of what depends on it)."""
    graph = _graph(plan)
    dependents: dict[str, set[str]] = {urn: set() for urn in graph}
    for urn, dependencies in graph.items():
        for dependency in dependencies:
            dependents[dependency].add(urn)
    wave: dict[str, int] = {}

    def wave_of(urn: str) -> int:
        if urn not in wave:
            wave[urn] = 1 + max((wave_of(dependent) for dependent in dependents[urn]), default=-1)
        return wave[urn]

    waves: list[list[PlannedResource]] = []
    for resource in plan.resources:
        index = wave_of(resource.urn)
        waves.extend([] for _ in range(index + 1 - len(waves)))
        waves[index].append(resource)
    return waves


def destroy_order(plan: Plan) -> list[PlannedResource]:
    """The resources in an order ``pulumi destroy`` may delete them one by one."""
    return [resource for wave in destroy_waves(plan) for resource in wave]


# ---------------------------------------------------------------------------------------------- create times

_MINUTE = 60
#: Typical time from create call to the resource being usable, by type, in seconds: figures for planning, not
#: guarantees. Sources: the EKS User Guide ("Create an Amazon EKS cluster": about 10 minutes; managed node groups
#: and add-ons: a few minutes), the RDS and ElastiCache User Guides (instance and replication group creation: 10-15
#: minutes typical), the CloudFront Developer Guide (a distribution deploys in minutes), ACM ("DNS validation:
#: usually within minutes of the record existing"), AWS re:Post answers on NAT gateway and interface endpoint
#: creation (1-3 minutes), and terraform-provider-aws's default timeouts as upper bounds (eks cluster 30m, node
#: group 60m, add-on 20m, db instance 40m, elasticache replication group 60m, cloudfront 70m, nat gateway 10m,
#: vpc endpoint 10m, acm validation 75m).
TYPICAL_CREATE_SECONDS: Mapping[str, int] = {
    "eks:index:Cluster": 10 * _MINUTE,  # the control plane, its OIDC provider and access entries
    "eks:index:ManagedNodeGroup": 4 * _MINUTE,  # instances launched, joined and Ready
    "aws:eks/addon:Addon": 90,  # ACTIVE once its pods run
    "kubernetes:helm.sh/v3:Release": 2 * _MINUTE,  # waits until the controller's pods are ready
    "kubernetes:networking.k8s.io/v1:Ingress": 3 * _MINUTE,  # the controller builds the ALB; the provider waits
    "kubernetes:apps/v1:Deployment": 2 * _MINUTE,  # pods ready and healthy in the target group
    # The first revision of a Rollout is promoted at once (no steps, no analysis): like a Deployment, plus its
    # target group verification. Later releases take as long as their steps and analyses.
    "kubernetes:argoproj.io/v1alpha1:Rollout": 2 * _MINUTE,
    "kubernetes:batch/v1:Job": 90,  # the migrations
    "aws:rds/instance:Instance": 12 * _MINUTE,
    "aws:elasticache/replicationGroup:ReplicationGroup": 12 * _MINUTE,
    "aws:cloudfront/distribution:Distribution": 8 * _MINUTE,
    "aws:acm/certificateValidation:CertificateValidation": 5 * _MINUTE,
    "aws:ec2/natGateway:NatGateway": 2 * _MINUTE,
    "aws:ec2/vpcEndpoint:VpcEndpoint": 2 * _MINUTE,
    "aws:route53/record:Record": _MINUTE,  # until the change is INSYNC
    "aws:cloudtrail/trail:Trail": 30,
    "aws:wafv2/webAcl:WebAcl": 30,
    "aws:iam/role:Role": 10,  # IAM is eventually consistent: the provider retries for a few seconds
    "aws:kms/key:Key": 10,
}
#: Anything else a provider creates (an API call or two).
DEFAULT_CREATE_SECONDS = 5


def create_seconds(resource: PlannedResource) -> int:
    """Components and providers take no time of their own."""
    if not resource.custom or resource.type.startswith("pulumi:providers:"):
        return TYPICAL_CREATE_SECONDS.get(resource.type, 0)
    return TYPICAL_CREATE_SECONDS.get(resource.type, DEFAULT_CREATE_SECONDS)


@dataclass(frozen=True)
class Step:
    resource: PlannedResource
    seconds: int
    done_at: int
    """Seconds from the start of a fresh ``pulumi up`` until it is created."""


def _schedule(plan: Plan) -> tuple[dict[str, int], dict[str, str | None]]:
    """For each URN: when a fresh deploy has created it (seconds), and the dependency it waited for last."""
    graph = _graph(plan)
    resources = {resource.urn: resource for resource in plan.resources}
    finish: dict[str, int] = {}
    via: dict[str, str | None] = {}

    def done_at(urn: str) -> int:
        if urn not in finish:
            slowest = max(graph[urn], key=done_at, default=None)
            via[urn] = slowest
            finish[urn] = (done_at(slowest) if slowest else 0) + create_seconds(resources[urn])
        return finish[urn]

    for urn in resources:
        done_at(urn)
    return finish, via


def done_at(plan: Plan, resource: PlannedResource) -> int:
    """Seconds from the start of a fresh ``pulumi up`` until ``resource`` is created."""
    return _schedule(plan)[0][resource.urn]


def critical_path(plan: Plan) -> list[Step]:
    """The longest chain of creations of a fresh deploy of ``plan``, first to last (steps that take no time, such
    as components, left out)."""
    finish, via = _schedule(plan)
    resources = {resource.urn: resource for resource in plan.resources}
    chain: list[Step] = []
    current: str | None = max(finish, key=lambda urn: finish[urn])
    while current is not None:
        chain.append(Step(resources[current], create_seconds(resources[current]), finish[current]))
        current = via[current]
    return [step for step in reversed(chain) if step.seconds]


def format_critical_path(plan: Plan) -> str:
    """The chain as lines (minute done, seconds taken, type, name) and its total."""
    steps = critical_path(plan)
    lines = [f"Critical path of a fresh deploy of {plan.stack} (typical create times, see stacks/offline/lifecycle.py)"]
    lines += [
        f"  {step.done_at / 60:5.1f} min  +{step.seconds:4d}s  {step.resource.type}  {step.resource.name}"
        for step in steps
    ]
    total = steps[-1].done_at if steps else 0
    lines.append(f"  total: {total / 60:.1f} min over {len(steps)} steps")
    return "\n".join(lines)
