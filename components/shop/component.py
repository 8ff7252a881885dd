"""The shop on EKS: its namespace budget, identity, configuration, migrations, web pods (an Argo Rollout),
autoscaling, disruption budget, network policies, Services and the internet-facing Ingress (an ALB built by the AWS
Load Balancer Controller) that CloudFront reaches it through; and its static files in the assets bucket, which
CloudFront serves ``/static/*`` from. Its inputs are in args.py; specs in pods.py, capacity.py, release.py (the
Rollout's strategy and analysis) and traffic.py (with the load balancer's security groups), the upload in
static_upload.py.

Longer than the ~400 lines a component should take because this is where the release's order lives: which object
waits for which (quota, identity, migrations, the upload, the controllers, the Services, the Ingress) is one story,
and splitting it would scatter the depends_on chains that the lifecycle tests read as a whole."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.base import PlatformComponent
from components.shop import capacity, pods, release, traffic
from components.shop.args import (
    ShopArgs,
)
from components.shop.pods import CONTAINER, PodTarget
from components.shop.static_upload import upload_static_files
from components.shop.traffic import LoadBalancer

COMPONENT = "shop"
APP = "shop"
NAME_LABEL = "app.kubernetes.io/name"
COMPONENT_LABEL = "app.kubernetes.io/component"
#: Above every default (0) workload: under node pressure the shop preempts batch work, never the platform's
#: system-cluster-critical controllers.
PRIORITY = 100_000
#: The PodDisruptionBudget: drains and node upgrades take one web pod at a time (at least 2 always run).
MAX_UNAVAILABLE = 1
#: Seconds ``pulumi up`` waits for a migration beyond the Job's own deadline (pod scheduling, image pull).
JOB_AWAIT_MARGIN_SECONDS = 300
#: Where app/Dockerfile puts AWS's RDS CA bundle: every CA an RDS instance's certificate may chain to.
RDS_CA_BUNDLE = "/opt/rds/global-bundle.pem"

core = k8s.core.v1
meta = k8s.meta.v1


class Shop(PlatformComponent):
    """The shop's Kubernetes objects; see the module docstring."""

    pulumi_type = "shop:shop:Shop"
    component = COMPONENT

    image: str
    """The image reference deployed: ``repository:tag`` and ``@sha256:...`` when pinned."""
    namespace: pulumi.Output[str]
    deployment_name: str
    """The Rollout's name, which its ReplicaSets and pods are named after."""
    app_label: str
    """Every shop pod carries ``app.kubernetes.io/name=<app_label>``; web pods also
    ``app.kubernetes.io/component=web``."""
    metrics_port: int
    """The pods' internal port serving /metrics (and the admin); no Service exposes it."""
    load_balancer_name: str
    """Name of the ALB the controller creates (CloudWatch's LoadBalancer dimension starts with ``app/<name>/``)."""
    ingress: k8s.networking.v1.Ingress
    load_balancer_hostname: pulumi.Output[str]
    """The ALB's DNS name, once the controller has created it: the origin record's target."""

    def __init__(self, name: str, args: ShopArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args.context, opts)
        self._name = name
        self._args = args
        settings = args.settings
        self.image = image_reference(args.image_repository, settings.image_tag, settings.image_digest)
        self.namespace = pulumi.Output.from_input(args.cluster.namespace)
        self.deployment_name = APP
        self.app_label = APP
        self.metrics_port = pods.INTERNAL_PORT
        self.load_balancer_name = self.naming.physical("alb", max_length=32)
        web_labels = self._labels("web")

        self._budget()
        service_account = self._object(
            core.ServiceAccount,
            "service-account",
            args.cluster.service_account_name,
            # Pods opt out too (pods.py); this keeps any other pod of this account from getting an API token.
            automount_service_account_token=False,
        )
        config_data = self._config_data()
        config_map = self._object(core.ConfigMap, "config", f"{APP}-config", data=config_data)
        priority_class = k8s.scheduling.v1.PriorityClass(
            f"{name}-priority",
            metadata=meta.ObjectMetaArgs(name=APP, labels=self._labels()),
            value=PRIORITY,
            preemption_policy="PreemptLowerPriority",
            global_default=False,
            description="The shop's web pods and Jobs",
            opts=self.child(provider=self._args.cluster.provider),
        )
        target = PodTarget(
            image=self.image,
            service_account_name=service_account.metadata.name,
            config_map_name=config_map.metadata.name,
            priority_class_name=priority_class.metadata.name,
            node_selector=args.cluster.node_selector,
            config_checksum=pulumi.Output.all(**config_data).apply(_checksum),
        )

        # Pods start only once their traffic is allowed (the namespace denies everything by default) and the load
        # balancer controller serves its webhooks: a pod created before they exist never gets its readiness gate, and
        # while they do not answer their failure policy rejects the namespace's pods.
        controller = args.cluster.load_balancer_controller
        pods_ready = [*self._network_policies(web_labels), controller]
        migrations = self._job(target, "migrate", depends_on=pods_ready)
        if settings.seed:
            self._job(target, "seed", depends_on=[*pods_ready, migrations])
        # New pods link their image's static files: those are in the bucket before the rollout starts.
        static = upload_static_files(
            f"{name}-static",
            bucket=args.buckets.assets,
            key_arn=args.buckets.assets_key_arn,
            tags=self.tags("static-files"),
            # Pods of the previous image (during a rollout, or again after a rollback) still link its files.
            opts=self.child(retain_on_delete=True),
        )
        services = self._services(web_labels)
        self.ingress = self._ingress(services)
        rollout = self._rollout(
            target, web_labels, depends_on=[*pods_ready, migrations, *static, *services, self._analysis_template()]
        )
        self._autoscaler(rollout)
        self._object(
            k8s.policy.v1.PodDisruptionBudget,
            "disruption-budget",
            APP,
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                max_unavailable=MAX_UNAVAILABLE,
                selector=meta.LabelSelectorArgs(match_labels=web_labels),
                # A pod that is not ready serves nothing: evicting it must never block a node drain.
                unhealthy_pod_eviction_policy="AlwaysAllow",
            ),
        )
        self.load_balancer_hostname = self.ingress.status.apply(_load_balancer_hostname)

        self.register_outputs(
            {
                "image": self.image,
                "namespace": self.namespace,
                "deployment_name": self.deployment_name,
                "load_balancer_name": self.load_balancer_name,
                "load_balancer_hostname": self.load_balancer_hostname,
            }
        )

    # ------------------------------------------------------------------------------------------------ helpers

    def _labels(self, role: str | None = None) -> dict[str, str]:
        """Labels of the shop's objects; with ``role`` (web, migrate, seed), those that select its pods."""
        labels = {NAME_LABEL: APP, "app.kubernetes.io/part-of": self.naming.prefix}
        return {**labels, COMPONENT_LABEL: role} if role else labels

    def _object(self, kind: type, purpose: str, object_name: pulumi.Input[str], *, opts=None, **spec):
        """A namespaced object of ``kind`` named ``object_name`` in the shop's namespace."""
        return kind(
            f"{self._name}-{purpose}",
            metadata=meta.ObjectMetaArgs(name=object_name, namespace=self.namespace, labels=self._labels()),
            **spec,
            opts=opts or self.child(provider=self._args.cluster.provider),
        )

    # ------------------------------------------------------------------------------------------------ namespace

    def _budget(self) -> None:
        """A quota that caps what the namespace may consume and per-container defaults and ceilings for anything
        created without them (capacity.py)."""
        settings = self._args.settings
        self._object(core.ResourceQuota, "quota", APP, spec=capacity.quota_spec(settings))
        self._object(core.LimitRange, "limits", APP, spec=capacity.limit_range_spec(settings))

    # ------------------------------------------------------------------------------------------------ configuration

    def _config_data(self) -> dict[str, pulumi.Input[str]]:
        """The shop's environment (app/shop/settings.py): endpoints, names and secret ARNs, never a secret value.

        Secrets are read from Secrets Manager at runtime with the pod's Pod Identity credentials.
        """
        args = self._args
        cache = args.cache
        return {
            "SHOP_ENV": args.environment,
            "SHOP_PORT": str(pods.HTTP_PORT),
            "SHOP_INTERNAL_PORT": str(pods.INTERNAL_PORT),
            "SHOP_LOG_LEVEL": args.settings.log_level,
            "SHOP_AWS_REGION": args.region,
            "SHOP_DB_HOST": args.database.address,
            "SHOP_DB_PORT": pulumi.Output.from_input(args.database.port).apply(str),
            "SHOP_DB_NAME": args.database.name,
            "SHOP_DB_SECRET_ARN": args.database.secret_arn,
            # RDS enforces TLS (rds.force_ssl); the shop also verifies the server's certificate and name.
            "SHOP_DB_SSLMODE": "verify-full",
            "SHOP_DB_SSL_ROOT_CERT": RDS_CA_BUNDLE,
            # rediss: ElastiCache encrypts in transit; its certificate chains to a public CA the image trusts.
            "SHOP_REDIS_URL": pulumi.Output.concat("rediss://", cache.address, f":{cache.port}/0"),
            "SHOP_REDIS_AUTH_SECRET_ARN": cache.auth_secret_arn,
            "SHOP_CART_STORE": "dynamodb",
            "SHOP_CART_TABLE": args.carts_table,
            "SHOP_SESSION_SECRET_ARN": args.secret_arns.session,
            "SHOP_ADMIN_TOKEN_SECRET_ARN": args.secret_arns.admin_token,
            "SHOP_ORIGIN_VERIFY_SECRET_ARN": args.secret_arns.origin_verify,
            "SHOP_S3_BUCKET": args.buckets.assets,
            "SHOP_S3_PREFIX": args.buckets.media_prefix,
            "SHOP_CDN_BASE_URL": args.origin.public_url,
            # Traces over OTLP/HTTP to the CloudWatch agent, which sends them to X-Ray (app/shop/tracing.py).
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": args.peers.metrics_scraper.traces_endpoint,
            "OTEL_SERVICE_NAME": "shop",
        }

    # ------------------------------------------------------------------------------------------------ workloads

    def _job(self, target: PodTarget, command: str, depends_on: Sequence[pulumi.Resource] = ()) -> k8s.batch.v1.Job:
        """``python -m shop <command>`` to completion; ``pulumi up`` waits for it and fails with it.

        Jobs are immutable: the name carries the image's identity, so a new image makes a new Job (the old one is
        deleted first), which is what re-runs the migrations before the Deployment rolls out.
        """
        settings = self._args.settings
        labels = self._labels(command)
        template = pods.pod_template(
            settings,
            target,
            labels=labels,
            containers=[pods.container(settings, target, name=CONTAINER, command=command, serves=False)],
            restart_policy="Never",
        )
        timeout = f"{settings.migration_timeout_seconds + JOB_AWAIT_MARGIN_SECONDS}s"
        return self._object(
            k8s.batch.v1.Job,
            f"{command}-job",
            f"{APP}-{command}-{image_id(settings.image_digest, self.image)}",
            spec=k8s.batch.v1.JobSpecArgs(
                template=template,
                backoff_limit=3,
                active_deadline_seconds=settings.migration_timeout_seconds,
                # A configuration error (exit code 2) fails the same way every time: no retries.
                pod_failure_policy=k8s.batch.v1.PodFailurePolicyArgs(
                    rules=[
                        k8s.batch.v1.PodFailurePolicyRuleArgs(
                            action="FailJob",
                            on_exit_codes=k8s.batch.v1.PodFailurePolicyOnExitCodesRequirementArgs(
                                container_name=CONTAINER, operator="In", values=[2]
                            ),
                        )
                    ]
                ),
            ),
            opts=self.child(
                provider=self._args.cluster.provider,
                depends_on=list(depends_on),
                delete_before_replace=True,
                custom_timeouts=pulumi.CustomTimeouts(create=timeout, update=timeout),
            ),
        )

    def _rollout(
        self, target: PodTarget, labels: dict[str, str], depends_on: Sequence[pulumi.Resource]
    ) -> k8s.apiextensions.CustomResource:
        """The web pods, released by the stack's strategy (release.py); ``pulumi up`` waits until the release is
        healthy and fails when it aborted (the stable set then still serves)."""
        settings = self._args.settings
        template = pods.pod_template(
            settings,
            target,
            labels=labels,
            containers=[pods.container(settings, target, name=CONTAINER, command="serve", serves=True)],
            restart_policy="Always",
            spread=labels,
        )
        if settings.release_strategy == "blue_green":
            after_ingress = pulumi.InvokeOutputOptions(depends_on=[self.ingress])
            balancer = aws.lb.get_load_balancer_output(name=self.load_balancer_name, opts=after_ingress)
            analysis_args = release.blue_green_analysis_args(balancer.arn_suffix)
        else:
            analysis_args = release.canary_analysis_args()
        return k8s.apiextensions.CustomResource(
            f"{self._name}-rollout",
            api_version=release.API_VERSION,
            kind="Rollout",
            metadata=meta.ObjectMetaArgs(
                name=self.deployment_name,
                namespace=self.namespace,
                labels=self._labels(),
                annotations=release.rollout_annotations(settings),
            ),
            spec={
                # No `replicas`: the autoscaler owns the count (through the Rollout's scale subresource). Setting it
                # here would make every `pulumi up` fight the autoscaler over the field or reset a scaled-out shop.
                "selector": meta.LabelSelectorArgs(match_labels=labels),
                "template": template,
                "minReadySeconds": 5,
                "revisionHistoryLimit": 5,
                "progressDeadlineSeconds": release.PROGRESS_DEADLINE_SECONDS,
                # A release stuck past the deadline goes back to the stable set instead of waiting for a human.
                "progressDeadlineAbort": True,
                "strategy": release.strategy_spec(settings, analysis_args),
            },
            # The schema must be migrated before new code serves (and the readiness check requires it); the Services
            # it switches and the analysis it runs must exist (Argo Rollouts rejects the spec until they do).
            opts=self.child(
                provider=self._args.cluster.provider, depends_on=[*depends_on, self._args.cluster.rollouts_controller]
            ),
        )

    def _analysis_template(self) -> k8s.apiextensions.CustomResource:
        return k8s.apiextensions.CustomResource(
            f"{self._name}-analysis",
            api_version=release.API_VERSION,
            kind="AnalysisTemplate",
            metadata=meta.ObjectMetaArgs(
                name=release.ANALYSIS_TEMPLATE, namespace=self.namespace, labels=self._labels()
            ),
            spec=release.analysis_template_spec(self._args.settings),
            opts=self.child(provider=self._args.cluster.provider, depends_on=[self._args.cluster.rollouts_controller]),
        )

    def _autoscaler(self, rollout: k8s.apiextensions.CustomResource) -> None:
        """Created once the Rollout is (its first revision healthy), as it was after the Deployment."""
        spec = capacity.autoscaler_spec(self._args.settings, self.deployment_name)
        opts = self.child(provider=self._args.cluster.provider, depends_on=[rollout])
        self._object(k8s.autoscaling.v2.HorizontalPodAutoscaler, "autoscaler", APP, spec=spec, opts=opts)

    # ------------------------------------------------------------------------------------------------ traffic

    def _network_policies(self, web_labels: dict[str, str]) -> list[k8s.networking.v1.NetworkPolicy]:
        """On top of the namespace's default deny: the load balancer and the metrics scraper to the web pods, and
        every shop pod out to what it uses."""
        peers = self._args.peers
        return [
            self._object(k8s.networking.v1.NetworkPolicy, f"{purpose}-policy", f"{APP}-{purpose}", spec=spec)
            for purpose, spec in (
                ("web-ingress", traffic.web_ingress(peers, web_labels)),
                ("metrics-ingress", traffic.metrics_ingress(peers.metrics_scraper, web_labels)),
                ("egress", traffic.egress(peers, self._labels())),
            )
        ]

    def _services(self, web_labels: dict[str, str]) -> list[core.Service]:
        """The routed Service and, for a canary or blue-green release, the one Argo Rollouts points at the new set
        (it adds each set's pod hash to their selectors). The public port only: /metrics and the admin (the
        internal port) are never routed."""
        return [
            self._object(
                core.Service,
                "service" if name == release.STABLE_SERVICE else f"service-{name.removeprefix(APP + '-')}",
                name,
                spec=core.ServiceSpecArgs(
                    type="ClusterIP",
                    selector=web_labels,
                    ports=[
                        core.ServicePortArgs(name="http", port=release.SERVICE_PORT, target_port="http", protocol="TCP")
                    ],
                ),
                opts=self.child(
                    provider=self._args.cluster.provider, depends_on=[self._args.cluster.load_balancer_controller]
                ),
            )
            for name in release.services(self._args.settings.release_strategy)
        ]

    def _ingress(self, services: Sequence[core.Service]) -> k8s.networking.v1.Ingress:
        args = self._args
        networking = k8s.networking.v1
        security_groups = traffic.load_balancer_security_groups(
            self._name,
            clients=traffic.load_balancer_clients(args.region, health_checked=args.origin.health_checked),
            pod_cidrs=args.pod_cidrs,
            vpc_id=args.vpc_id,
            load_balancer_name=self.load_balancer_name,
            physical_name=self.naming.physical,
            tags=self.tags,
            parent=self,
        )
        balancer = LoadBalancer(
            name=self.load_balancer_name,
            subnet_ids=args.load_balancer_subnet_ids,
            security_group_ids=security_groups.ids,
            certificate_arn=args.origin.certificate_arn,
            web_acl_arn=args.origin.web_acl_arn,
            logs_bucket=args.buckets.logs,
            logs_prefix=args.buckets.load_balancer_logs_prefix,
            deletion_protection=self.context.protect,
            deregistration_seconds=args.settings.drain_seconds,
            tags=self.tags(name=self.load_balancer_name),
        )
        strategy = args.settings.release_strategy
        backend = networking.IngressBackendArgs(
            service=networking.IngressServiceBackendArgs(
                name=services[0].metadata.name,
                port=networking.ServiceBackendPortArgs(name=release.ingress_backend_port(strategy)),
            )
        )
        return k8s.networking.v1.Ingress(
            f"{self._name}-ingress",
            metadata=meta.ObjectMetaArgs(
                name=APP,
                namespace=self.namespace,
                labels=self._labels(),
                annotations={**traffic.ingress_annotations(balancer), **release.ingress_annotations(strategy)},
            ),
            spec=networking.IngressSpecArgs(
                ingress_class_name=args.cluster.ingress_class_name,
                # Only the origin name CloudFront (and the health check) use; any other Host gets the ALB's 404.
                rules=[
                    networking.IngressRuleArgs(
                        host=args.origin.hostname,
                        http=networking.HTTPIngressRuleValueArgs(
                            paths=[networking.HTTPIngressPathArgs(path="/", path_type="Prefix", backend=backend)]
                        ),
                    )
                ],
            ),
            # The controller takes minutes to create the load balancer the provider waits for. It turns on access logs
            # (refused until the bucket policy admits the load balancer) and attaches the security groups; on destroy
            # the load balancer is gone before any of them.
            opts=self.child(
                provider=self._args.cluster.provider,
                depends_on=[
                    args.cluster.load_balancer_controller,
                    args.buckets.logs_policy,
                    *security_groups.ready,
                    *services,
                ],
                custom_timeouts=pulumi.CustomTimeouts(create="20m"),
            ),
        )


def image_reference(repository: str, tag: str, digest: str) -> str:
    """``repository:tag``, pinned with ``@sha256:...`` when there is a digest (the tag then only documents it)."""
    return f"{repository}:{tag}" + (f"@{digest}" if digest else "")


def image_id(digest: str, image: str) -> str:
    """12 hex digits that change exactly when the deployed image does (its digest, else the whole reference)."""
    return digest.removeprefix("sha256:")[:12] if digest else hashlib.sha256(image.encode()).hexdigest()[:12]


def _checksum(data: Mapping[str, str]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _load_balancer_hostname(status: k8s.networking.v1.outputs.IngressStatus | None) -> str:
    """The ALB's DNS name from the Ingress status (the provider waits for it before the Ingress is created)."""
    entries = status.load_balancer.ingress if status and status.load_balancer else None
    hostname = entries[0].hostname if entries else None
    if not hostname:
        raise ValueError("the Ingress has no load balancer hostname: is the AWS Load Balancer Controller running?")
    return hostname
