"""Settings of the shop's Kubernetes deployment (components/shop/): image, scale, resources, probes, shutdown.

Sizes are plain integers (millicores, MiB) so that the checks across fields below can do arithmetic; the component
renders them as Kubernetes quantities (``250m``, ``512Mi``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Literal, NamedTuple

from pydantic import Field

from stacks.settings.base import Environment, Problem, section

#: Seconds the shop's server drains in-flight requests after SIGTERM (app/shop/server.py GRACEFUL_SHUTDOWN_SECONDS).
APP_DRAIN_SECONDS = 20
#: Kubernetes' margin between the app's exit and SIGKILL, so a slow drain is not cut off mid-response.
SHUTDOWN_MARGIN_SECONDS = 5
#: The readiness check's own database timeout (app/shop/runtime.py); the probe must wait longer than that.
READINESS_CHECK_SECONDS = 2
#: Extra pods a rollout runs next to the web pods (maxSurge 25 %).
SURGE_FRACTION = 0.25
#: Run-to-completion pods that may run next to a full rollout: the migration Job and, in staging, the seed Job.
JOB_PODS = 2
#: How a new image reaches shoppers (components/shop/release.py, docs/releases.md).
ReleaseStrategy = Literal["canary", "blue_green", "rolling"]


class ResourceBudget(NamedTuple):
    """One resource's per-pod request and limit and its namespace quota, with the fields problems name."""

    request_field: str
    request: int
    limit: int
    quota_field: str
    quota: int


@section(prefix="shop")
class ShopSettings:
    """The shop's Deployment, Jobs, autoscaling and namespace budget on EKS."""

    image_repository: str = Field(
        default="",
        pattern=r"^([a-z0-9.-]+(:[0-9]+)?/)?[a-z0-9]+([._/-][a-z0-9]+)*$|^$",
        description="Image repository of the shop (registry/name, no tag); empty: the bootstrap's ECR repository "
        "<namePrefix>/app in this account and region. Set by the deploy pipeline.",
    )
    image_tag: str = Field(
        default="",
        pattern=r"^([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$",
        description="Immutable image tag (the commit SHA the pipeline built); required, never 'latest'. Set by the "
        "deploy pipeline.",
    )
    image_digest: str = Field(
        default="",
        pattern=r"^(sha256:[0-9a-f]{64})?$",
        description="Image digest (sha256:<64 hex>) that pins the tag's content; required in every stack. Set by the "
        "deploy pipeline, which rolls back by deploying the previous digest.",
    )
    min_replicas: int = Field(
        default=3, ge=2, le=100, description="Fewest web pods the autoscaler keeps (at least 3 in prod, 2 elsewhere)."
    )
    max_replicas: int = Field(default=12, ge=2, le=200, description="Most web pods the autoscaler may run.")
    cpu_target_percent: int = Field(
        default=70, ge=10, le=95, description="Average CPU use (of the request) the autoscaler scales towards."
    )
    memory_target_percent: int = Field(
        default=80, ge=10, le=95, description="Average memory use (of the request) the autoscaler scales towards."
    )
    scale_down_stabilization_seconds: int = Field(
        default=300,
        ge=0,
        le=3600,
        description="How long load must stay low before the autoscaler removes pods (avoids flapping).",
    )
    cpu_request_millicores: int = Field(default=250, ge=50, le=16000, description="CPU request per pod, millicores.")
    cpu_limit_millicores: int = Field(default=1000, ge=50, le=16000, description="CPU limit per pod, millicores.")
    memory_request_mib: int = Field(default=512, ge=128, le=65536, description="Memory request per pod, MiB.")
    memory_limit_mib: int = Field(
        default=512, ge=128, le=65536, description="Memory limit per pod, MiB (equal to the request: never overcommit)."
    )
    ephemeral_storage_request_mib: int = Field(
        default=256, ge=64, le=65536, description="Ephemeral storage request per pod (logs, /tmp), MiB."
    )
    ephemeral_storage_limit_mib: int = Field(
        default=1024, ge=64, le=65536, description="Ephemeral storage limit per pod, MiB; the pod is evicted above it."
    )
    tmp_size_mib: int = Field(
        default=512, ge=16, le=65536, description="Size limit of the /tmp emptyDir (the only writable path), MiB."
    )
    quota_cpu_millicores: int = Field(
        default=24000,
        ge=500,
        le=1_000_000,
        description="Namespace quota: total CPU requests and limits, millicores; must fit the largest rollout.",
    )
    quota_memory_mib: int = Field(
        default=16384,
        ge=512,
        le=4_194_304,
        description="Namespace quota: total memory requests and limits, MiB; must fit the largest rollout.",
    )
    quota_ephemeral_storage_mib: int = Field(
        default=32768,
        ge=512,
        le=4_194_304,
        description="Namespace quota: total ephemeral storage requests and limits, MiB.",
    )
    quota_pods: int = Field(
        default=24, ge=4, le=1000, description="Namespace quota: pods; must fit the largest rollout and the Jobs."
    )
    startup_timeout_seconds: int = Field(
        default=120,
        ge=10,
        le=600,
        description="How long a new pod may take to answer /healthz before it is restarted (startup probe).",
    )
    liveness_period_seconds: int = Field(default=10, ge=5, le=300, description="Seconds between /healthz probes.")
    liveness_failure_threshold: int = Field(
        default=3, ge=1, le=30, description="Failed /healthz probes in a row before the container is restarted."
    )
    readiness_period_seconds: int = Field(default=5, ge=1, le=300, description="Seconds between /readyz probes.")
    readiness_failure_threshold: int = Field(
        default=2, ge=1, le=30, description="Failed /readyz probes in a row before the pod stops receiving traffic."
    )
    probe_timeout_seconds: int = Field(
        default=3, ge=1, le=60, description="Seconds a probe waits for an answer (/readyz checks the database in 2)."
    )
    pre_stop_seconds: int = Field(
        default=20,
        ge=5,
        le=300,
        description="Seconds a terminating pod keeps serving before SIGTERM, while the load balancer deregisters it.",
    )
    termination_grace_seconds: int = Field(
        default=50,
        ge=30,
        le=900,
        description="Seconds from termination to SIGKILL: the pre-stop delay, the app's 20 s drain and a margin.",
    )
    migration_timeout_seconds: int = Field(
        default=600, ge=60, le=3600, description="Longest a migration Job may run before it fails the deploy."
    )
    seed: bool = Field(default=False, description="Run the seed Job (the demo catalog) after migrations; staging only.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="The shop's log level (SHOP_LOG_LEVEL)."
    )
    release_strategy: ReleaseStrategy = Field(
        default="canary",
        description="How a new image is released (Argo Rollouts): 'canary' shifts a share of the load balancer's "
        "traffic at a time, each share checked by the analysis; 'blue_green' starts a full new set behind a preview "
        "Service, switches all traffic, then checks it; 'rolling' replaces pods without checks. Prod: canary.",
    )
    canary_weights: tuple[int, ...] = Field(
        default=(10, 50),
        min_length=1,
        max_length=10,
        description="Canary: the percentages of traffic the new image gets in turn, each followed by an analysis, "
        "before it gets all of it; increasing, each between 1 and 99.",
    )
    analysis_interval_seconds: int = Field(
        default=60,
        ge=60,
        le=600,
        description="Seconds between two measurements of an analysis (CloudWatch's "
        "load balancer metrics have one-minute resolution).",
    )
    analysis_measurements: int = Field(
        default=5,
        ge=1,
        le=60,
        description="Measurements per analysis; every one must pass (the first failing one aborts the release).",
    )
    analysis_max_error_permille: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="Analysis: highest share of the new image's requests answered with a 5xx in any minute, in "
        "tenths of a percent (10: 1 %).",
    )
    analysis_max_p99_latency_ms: int = Field(
        default=1500,
        ge=50,
        le=60000,
        description="Analysis: highest 99th percentile response time of the new image, milliseconds per minute.",
    )
    blue_green_preview_seconds: int = Field(
        default=300,
        ge=0,
        le=86400,
        description="Blue-green: seconds the new set serves only the preview Service (checks, or an abort by hand) "
        "before traffic switches to it.",
    )
    blue_green_scale_down_delay_seconds: int = Field(
        default=900,
        ge=30,
        le=86400,
        description="Blue-green: seconds the previous set keeps running after the switch, so that a failed analysis "
        "switches back at once; at least as long as the analysis.",
    )

    @property
    def surge_pods(self) -> int:
        """Extra pods a release at full scale runs next to the current ones: a whole second set for blue-green,
        else the surge (maxSurge 25 %, rounded up; a canary scales its stable set down as it scales up)."""
        if self.release_strategy == "blue_green":
            return self.max_replicas
        return math.ceil(self.max_replicas * SURGE_FRACTION)

    @property
    def analysis_seconds(self) -> int:
        """How long one analysis takes when every measurement passes."""
        return self.analysis_measurements * self.analysis_interval_seconds

    @property
    def drain_seconds(self) -> int:
        """How long a terminating pod answers requests: the pre-stop delay and the app's drain."""
        return self.pre_stop_seconds + APP_DRAIN_SECONDS

    def resource_budgets(self) -> tuple[ResourceBudget, ...]:
        """CPU, memory and ephemeral storage: request, limit and quota of each."""
        return (
            ResourceBudget(
                "cpu_request_millicores",
                self.cpu_request_millicores,
                self.cpu_limit_millicores,
                "quota_cpu_millicores",
                self.quota_cpu_millicores,
            ),
            ResourceBudget(
                "memory_request_mib",
                self.memory_request_mib,
                self.memory_limit_mib,
                "quota_memory_mib",
                self.quota_memory_mib,
            ),
            ResourceBudget(
                "ephemeral_storage_request_mib",
                self.ephemeral_storage_request_mib,
                self.ephemeral_storage_limit_mib,
                "quota_ephemeral_storage_mib",
                self.quota_ephemeral_storage_mib,
            ),
        )

    def probe_periods(self) -> dict[str, int]:
        """The period of each probe that checks the pod repeatedly, by the probe's config key."""
        return {
            "shopLivenessPeriodSeconds": self.liveness_period_seconds,
            "shopReadinessPeriodSeconds": self.readiness_period_seconds,
        }

    def problems(self, environment: Environment) -> Iterator[Problem]:
        if not self.image_tag:
            yield "image_tag", "set the image's immutable tag (the deploy pipeline sets it to the commit SHA)"
        elif self.image_tag == "latest":
            yield "image_tag", "'latest' is not an immutable tag; use the commit SHA the pipeline tagged"
        if not self.image_digest:
            # Staging saves on size, never on security: what runs is exactly what was scanned, there too.
            yield "image_digest", "every stack runs images by digest; set the sha256 digest the pipeline pushed"
        if self.max_replicas < self.min_replicas:
            yield "max_replicas", f"must be at least shopMinReplicas ({self.min_replicas})"
        for budget in self.resource_budgets():
            if budget.request > budget.limit:
                yield budget.request_field, f"must not exceed the limit ({budget.limit})"
        if self.tmp_size_mib > self.ephemeral_storage_limit_mib:
            yield "tmp_size_mib", f"must fit in the ephemeral storage limit ({self.ephemeral_storage_limit_mib} MiB)"
        if self.probe_timeout_seconds <= READINESS_CHECK_SECONDS:
            wait = READINESS_CHECK_SECONDS
            yield "probe_timeout_seconds", f"must be over the {wait} s the readiness check waits for the database"
        for period_key, period in self.probe_periods().items():
            if self.probe_timeout_seconds > period:
                yield "probe_timeout_seconds", f"must not exceed {period_key}"
        shortest_grace = self.drain_seconds + SHUTDOWN_MARGIN_SECONDS
        if self.termination_grace_seconds < shortest_grace:
            yield (
                "termination_grace_seconds",
                f"must be at least {shortest_grace}: the pre-stop delay ({self.pre_stop_seconds} s), the app's "
                f"{APP_DRAIN_SECONDS} s drain and a {SHUTDOWN_MARGIN_SECONDS} s margin",
            )
        yield from self._quota_problems()
        yield from self._release_problems()
        if environment != "prod":
            return
        if self.min_replicas < 3:
            yield "min_replicas", "prod keeps at least 3 web pods, one per zone"
        if self.release_strategy == "rolling":
            yield "release_strategy", "prod releases with an analysis that can abort: 'canary' or 'blue_green'"
        if self.seed:
            yield "seed", "the seed Job (demo catalog) is staging-only; prod's catalog is managed in the admin"

    def _release_problems(self) -> Iterator[Problem]:
        weights = self.canary_weights
        if any(not 1 <= weight <= 99 for weight in weights) or list(weights) != sorted(set(weights)):
            yield "canary_weights", "must increase strictly, each between 1 and 99 (100 % is the last step)"
        if self.blue_green_scale_down_delay_seconds < self.analysis_seconds:
            yield (
                "blue_green_scale_down_delay_seconds",
                f"must be at least the analysis' {self.analysis_seconds} s (measurements x interval): a failed "
                "analysis switches back to the previous set only while it runs",
            )

    def _quota_problems(self) -> Iterator[Problem]:
        """The quota must admit a release at full scale (every replica plus the surge) with the Jobs running."""
        pods = self.max_replicas + self.surge_pods + JOB_PODS
        if self.quota_pods < pods:
            yield "quota_pods", f"must be at least {pods}: max replicas, release surge and Jobs"
        for budget in self.resource_budgets():
            needed = pods * budget.limit
            if budget.quota < needed:
                yield budget.quota_field, f"must be at least {needed} ({pods} pods at their limit)"
