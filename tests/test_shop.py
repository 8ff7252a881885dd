"""The shop on EKS: every property of the deployment issue, on the offline plan of both stacks."""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import re
from ipaddress import IPv4Network
from pathlib import Path

import pytest

from components.shop.component import image_id
from stacks.offline.fakes.aws_core import DYNAMODB_PREFIX_LISTS, MANAGED_PREFIX_LISTS, S3_PREFIX_LISTS
from stacks.offline.plan import Plan
from stacks.offline.policy_run import check
from stacks.settings.shop import APP_DRAIN_SECONDS
from tests.shop_plan import (
    ALB,
    CONFIG_MAP,
    HPA,
    INGRESS,
    LIMIT_RANGE,
    NAMESPACE,
    NETWORK_POLICY,
    PDB,
    PRIORITY_CLASS,
    QUOTA,
    RELEASE,
    SERVICE,
    SERVICE_ACCOUNT,
    SHOP,
    alb_annotations,
    attributes,
    container,
    jobs,
    obj,
    platform_settings,
    pod_templates,
    quantity,
    rollout,
    shop_objects,
    subnet_cidrs,
)

ROOT = Path(__file__).resolve().parents[1]
WEB = {"app.kubernetes.io/name": "shop", "app.kubernetes.io/component": "web"}
RESOURCES = ("cpu", "memory", "ephemeral-storage")


def _config(plan: Plan) -> dict[str, str]:
    return obj(plan, CONFIG_MAP, "shop-config").inputs["data"]


# ---------------------------------------------------------------------------------------------- placement


def test_every_shop_object_goes_through_the_cluster_provider_into_the_shop_namespace(plan: Plan) -> None:
    provider = plan.one("pulumi:providers:kubernetes", "cluster-kubernetes").urn
    objects = shop_objects(plan)
    kinds = {r.inputs["kind"] for r in objects}
    assert kinds >= {"ResourceQuota", "LimitRange", "ServiceAccount", "ConfigMap", "Rollout", "Job", "Service"}
    assert kinds >= {"Ingress", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy", "PriorityClass"}
    for resource in objects:
        assert resource.provider == provider, resource.name
        if resource.type != PRIORITY_CLASS:  # cluster-scoped
            assert resource.inputs["metadata"]["namespace"] == "shop", resource.name


def test_namespace_enforces_audits_and_warns_the_restricted_profile_and_denies_by_default(plan: Plan) -> None:
    labels = plan.one(NAMESPACE, "cluster-shop-namespace").inputs["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
    deny = [
        p.inputs["spec"]
        for p in plan.of_type(NETWORK_POLICY)
        if p.inputs["metadata"]["namespace"] == "shop" and p.inputs["spec"]["podSelector"] == {}
    ]
    assert deny == [{"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "ingress": [], "egress": []}]


def test_quota_caps_the_namespace_and_fits_a_full_scale_rollout_with_the_jobs(plan: Plan) -> None:
    hard = obj(plan, QUOTA, "shop").inputs["spec"]["hard"]
    settings = platform_settings(plan.stack).shop
    pods = settings.max_replicas + settings.surge_pods + 2
    assert int(hard["pods"]) >= pods
    limits = container(pod_templates(plan)["shop"])["resources"]["limits"]
    for resource in RESOURCES:
        for kind in ("requests", "limits"):
            assert quantity(hard[f"{kind}.{resource}"]) >= pods * quantity(limits[resource]), (kind, resource)
    assert hard["services.loadbalancers"] == "0"
    assert hard["services.nodeports"] == "0"


def test_limit_range_gives_containers_defaults_and_ceilings(plan: Plan) -> None:
    (item,) = obj(plan, LIMIT_RANGE, "shop").inputs["spec"]["limits"]
    assert item["type"] == "Container"
    for field in ("default", "defaultRequest", "max"):
        assert set(item[field]) == set(RESOURCES), field
    assert container(pod_templates(plan)["shop"])["resources"]["limits"] == item["max"]


# ---------------------------------------------------------------------------------------------- identity, config


def test_service_account_is_the_pod_identity_one_and_mounts_no_api_token(plan: Plan) -> None:
    association = plan.one("aws:eks/podIdentityAssociation:PodIdentityAssociation", "cluster-shop-association")
    account = obj(plan, SERVICE_ACCOUNT, association.inputs["serviceAccount"])
    assert account.inputs["metadata"]["namespace"] == association.inputs["namespace"]
    assert account.inputs["automountServiceAccountToken"] is False
    for name, template in pod_templates(plan).items():
        assert template["spec"]["serviceAccountName"] == association.inputs["serviceAccount"], name
        assert template["spec"]["automountServiceAccountToken"] is False, name


def test_config_map_points_at_the_stacks_endpoints_buckets_and_secret_arns(plan: Plan) -> None:
    data = _config(plan)
    database = plan.one("aws:rds/instance:Instance").outputs
    cache = plan.one("aws:elasticache/replicationGroup:ReplicationGroup").outputs
    assert data["SHOP_DB_HOST"] == database["address"]
    assert data["SHOP_DB_PORT"] == str(database["port"])
    assert data["SHOP_REDIS_URL"] == f"rediss://{cache['primaryEndpointAddress']}:{cache['port']}/0"
    assert data["SHOP_S3_BUCKET"] == plan.one("aws:s3/bucket:Bucket", "storage-assets").outputs["bucket"]
    assert data["SHOP_AWS_REGION"] == platform_settings(plan.stack).stack.region
    assert data["SHOP_CDN_BASE_URL"] == plan.outputs["shopUrl"]
    assert data["SHOP_ENV"] == plan.stack
    secret_arns = {s.outputs["arn"] for s in plan.of_type("aws:secretsmanager/secret:Secret")}
    secret_arns.add(plan.outputs["database"]["masterSecretArn"])
    arn_keys = [key for key in data if key.endswith("_SECRET_ARN")]
    assert len(arn_keys) == 5
    assert {data[key] for key in arn_keys} <= secret_arns


def test_the_shop_verifies_the_databases_certificate_and_talks_tls_to_the_cache(plan: Plan) -> None:
    """verify-full: the server's certificate must chain to AWS's RDS CA bundle, which the image carries at the path
    the ConfigMap names (no volume may hide it), and name the host the shop connects to."""
    data = _config(plan)
    assert data["SHOP_DB_SSLMODE"] == "verify-full"
    dockerfile = (ROOT / "app" / "Dockerfile").read_text()
    bundle = re.search(r"^ADD --chmod=\d+ (?:--checksum=\S+ )?(\S+) (\S+)$", dockerfile, re.MULTILINE)
    assert bundle and bundle.group(1) == "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
    assert data["SHOP_DB_SSL_ROOT_CERT"] == bundle.group(2)
    for name, template in pod_templates(plan).items():
        for mount in container(template)["volumeMounts"]:
            assert not data["SHOP_DB_SSL_ROOT_CERT"].startswith(mount["mountPath"].rstrip("/") + "/"), name
    assert data["SHOP_REDIS_URL"].startswith("rediss://")


def test_no_secret_value_reaches_the_pods_except_through_secrets_manager(plan: Plan) -> None:
    data = _config(plan)
    for value in data.values():
        assert not any(secret in value for secret in plan.secret_values)
        assert value != "[secret]"
    assert not [r for r in plan.resources if r.type == "kubernetes:core/v1:Secret"]
    for name, template in pod_templates(plan).items():
        only = container(template)
        assert "env" not in only, name  # no literal environment variables at all
        assert only["envFrom"] == [{"configMapRef": {"name": "shop-config"}}], name


def test_config_map_is_a_complete_valid_configuration_of_the_app(plan: Plan, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shop's own settings loader accepts the ConfigMap as its whole environment (names, formats, the deployed
    mode's rules: secrets by ARN only)."""
    monkeypatch.syspath_prepend(str(ROOT / "app"))
    for key in [key for key in os.environ if key.startswith("SHOP_")]:
        monkeypatch.delenv(key)
    for key, value in _config(plan).items():
        monkeypatch.setenv(key, value)
    loaded = importlib.import_module("shop.settings").load_settings()
    assert loaded.deployed
    assert (loaded.port, loaded.internal_port) == (8080, 9090)
    assert loaded.session_secret is None and loaded.session_secret_arn


def test_config_change_recreates_the_pods(plan: Plan) -> None:
    """Every pod template that reads the ConfigMap carries the hash of its data: a changed value changes the
    template, which replaces the pods (they read the ConfigMap only at start)."""
    data = _config(plan)
    expected = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    templates = pod_templates(plan)
    assert len(templates) >= 2
    for name, template in templates.items():
        assert container(template)["envFrom"] == [{"configMapRef": {"name": "shop-config"}}], name
        assert template["metadata"]["annotations"]["checksum/config"] == expected, name


# ---------------------------------------------------------------------------------------------- deployment


def test_image_is_the_configured_tag_pinned_by_digest_in_every_stack(staging: Plan, prod: Plan) -> None:
    for plan in (staging, prod):
        settings = platform_settings(plan.stack).shop
        image = container(pod_templates(plan)["shop"])["image"]
        assert image == plan.outputs["shopImage"]
        assert image.endswith(f":{settings.image_tag}" + (f"@{settings.image_digest}" if settings.image_digest else ""))
        for name, template in pod_templates(plan).items():
            assert container(template)["image"] == image, name
    assert "@sha256:" in plan_image(prod)
    assert "@sha256:" in plan_image(staging)


def plan_image(plan: Plan) -> str:
    return container(pod_templates(plan)["shop"])["image"]


def test_replicas_belong_to_the_autoscaler_with_a_per_stack_minimum(staging: Plan, prod: Plan) -> None:
    for plan, minimum in ((staging, 2), (prod, 3)):
        assert "replicas" not in rollout(plan).inputs["spec"]
        hpa = obj(plan, HPA, "shop").inputs["spec"]
        assert hpa["minReplicas"] >= minimum
        assert hpa["maxReplicas"] > hpa["minReplicas"]
        assert hpa["scaleTargetRef"] == {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "shop"}


def test_rollout_keeps_full_capacity(plan: Plan) -> None:
    """A canary (and a rolling update) never stops an old pod before a new one is ready; blue-green runs a whole
    new set next to the old one (tests/test_rollouts.py)."""
    strategy = rollout(plan).inputs["spec"]["strategy"]
    canary = strategy.get("canary") or {"maxUnavailable": 0, "maxSurge": "25%"}
    assert (canary["maxUnavailable"], canary["maxSurge"]) == (0, "25%")


def test_web_pods_spread_over_zones_and_hosts(plan: Plan) -> None:
    spec = rollout(plan).inputs["spec"]
    constraints = {c["topologyKey"]: c for c in spec["template"]["spec"]["topologySpreadConstraints"]}
    assert constraints["topology.kubernetes.io/zone"]["whenUnsatisfiable"] == "DoNotSchedule"
    assert set(constraints) == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
    for constraint in constraints.values():
        assert constraint["maxSkew"] == 1
        assert constraint["labelSelector"]["matchLabels"] == spec["selector"]["matchLabels"]


def test_every_container_requests_and_limits_cpu_memory_and_ephemeral_storage(plan: Plan) -> None:
    for name, template in pod_templates(plan).items():
        resources = container(template)["resources"]
        for resource in RESOURCES:
            assert 0 < quantity(resources["requests"][resource]) <= quantity(resources["limits"][resource]), name


def test_user_and_group_are_numeric_and_at_least_10000(plan: Plan) -> None:
    for name, template in pod_templates(plan).items():
        for context in (template["spec"]["securityContext"], container(template)["securityContext"]):
            assert context["runAsUser"] >= 10000 and context["runAsGroup"] >= 10000, name
        assert template["spec"]["securityContext"]["fsGroup"] >= 10000


def test_seccomp_is_the_runtime_default_for_every_pod_and_container(plan: Plan) -> None:
    """The container runtime's default profile: the restricted standard would also accept a Localhost profile, which
    could allow anything."""
    for name, template in pod_templates(plan).items():
        assert template["spec"]["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for each in template["spec"]["containers"] + template["spec"].get("initContainers", []):
            assert each["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, (name, each["name"])


def test_tmp_is_the_only_writable_path(plan: Plan) -> None:
    for name, template in pod_templates(plan).items():
        only = container(template)
        assert only["securityContext"]["readOnlyRootFilesystem"] is True
        (volume,) = template["spec"]["volumes"]
        assert "emptyDir" in volume and volume["emptyDir"]["sizeLimit"]
        assert only["volumeMounts"] == [{"name": volume["name"], "mountPath": "/tmp"}], name


def test_probes_check_liveness_on_healthz_and_readiness_on_readyz_with_sane_timings(plan: Plan) -> None:
    web = container(pod_templates(plan)["shop"])
    assert {web[p]["httpGet"]["path"] for p in ("startupProbe", "livenessProbe")} == {"/healthz"}
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert web[probe]["httpGet"]["port"] == "http"
        # /readyz waits up to 2 s for the database; a probe must wait longer and fire no faster than it times out.
        assert 2 < web[probe]["timeoutSeconds"] <= web[probe]["periodSeconds"]
    startup = web["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 60  # migrations already ran: a slow start
    liveness = web["livenessProbe"]
    assert liveness["periodSeconds"] * liveness["failureThreshold"] >= 20  # no restart on one slow garbage collect
    for name, template in pod_templates(plan).items():
        if name != "shop":
            assert not {"startupProbe", "livenessProbe", "readinessProbe"} & set(container(template)), name


def test_pods_outlive_the_load_balancers_deregistration(plan: Plan) -> None:
    template = pod_templates(plan)["shop"]
    pre_stop = container(template)["lifecycle"]["preStop"]["sleep"]["seconds"]
    grace = template["spec"]["terminationGracePeriodSeconds"]
    deregistration = int(
        attributes(alb_annotations(plan)[ALB + "target-group-attributes"])["deregistration_delay.timeout_seconds"]
    )
    assert pre_stop >= 10
    assert grace > pre_stop + APP_DRAIN_SECONDS  # the app drains for 20 s after SIGTERM, before SIGKILL
    assert pre_stop <= deregistration <= grace


def test_app_port_and_internal_port_are_separate_and_only_the_app_port_is_routed(plan: Plan) -> None:
    ports = {p["name"]: p["containerPort"] for p in container(pod_templates(plan)["shop"])["ports"]}
    assert ports == {"http": 8080, "internal": 9090}
    service = obj(plan, SERVICE, "shop").inputs["spec"]
    assert service["type"] == "ClusterIP"
    assert [p["targetPort"] for p in service["ports"]] == ["http"]
    assert service["selector"] == rollout(plan).inputs["spec"]["selector"]["matchLabels"]
    assert WEB.items() <= service["selector"].items()  # never the Jobs' pods
    (rule,) = obj(plan, INGRESS, "shop").inputs["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    # A canary's forward action (tests/test_rollouts.py) routes to the Services' port 80, which is "http".
    port = {"name": "use-annotation" if "canary" in rollout(plan).inputs["spec"]["strategy"] else "http"}
    assert path["backend"]["service"] == {"name": "shop", "port": port}


def test_pods_run_at_the_shops_priority(plan: Plan) -> None:
    priority = obj(plan, PRIORITY_CLASS, "shop").inputs
    assert priority["value"] > 0 and priority["globalDefault"] is False
    for name, template in pod_templates(plan).items():
        assert template["spec"]["priorityClassName"] == "shop", name


# ---------------------------------------------------------------------------------------------- migrations


def test_migrations_run_to_completion_before_the_rollout(plan: Plan) -> None:
    migrate = jobs(plan)["migrate"]
    spec = migrate.inputs["spec"]
    assert container(spec["template"])["command"] == ["python", "-m", "shop"]
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    assert 0 < spec["activeDeadlineSeconds"] <= 3600
    assert migrate.urn in rollout(plan).dependencies
    # pulumi-kubernetes waits for a Job to complete unless told to skip it.
    assert "pulumi.com/skipAwait" not in (migrate.inputs["metadata"].get("annotations") or {})


def test_pods_start_only_once_their_network_policies_exist(plan: Plan) -> None:
    policies = {obj(plan, NETWORK_POLICY, name).urn for name in ("shop-web-ingress", "shop-egress")}
    for workload in (rollout(plan), *jobs(plan).values()):
        assert policies <= set(workload.dependencies), workload.name


def test_pods_the_service_and_the_ingress_wait_for_the_load_balancer_controller(plan: Plan) -> None:
    """Its webhooks must serve before they exist: a pod gets its load balancer readiness gate only when it is
    created, and the webhooks' failure policy rejects the namespace's pods and Services while they do not answer."""
    controller = plan.one(RELEASE, "cluster-aws-load-balancer-controller").urn
    for resource in (rollout(plan), *jobs(plan).values(), obj(plan, SERVICE, "shop"), obj(plan, INGRESS, "shop")):
        assert controller in resource.dependencies, resource.name


def test_migration_job_is_recreated_for_each_image(plan: Plan) -> None:
    settings = platform_settings(plan.stack).shop
    migrate = jobs(plan)["migrate"]
    assert migrate.inputs["metadata"]["name"] == f"shop-migrate-{image_id(settings.image_digest, plan_image(plan))}"
    assert migrate.options["deleteBeforeReplace"] is True
    assert image_id("", "repo:a") != image_id("", "repo:b")
    assert image_id("sha256:" + "ab" * 32, "repo:a@x") == "ab" * 6


def test_seed_job_runs_after_migrations_in_staging_only(staging: Plan, prod: Plan) -> None:
    seed = jobs(staging)["seed"]
    assert jobs(staging)["migrate"].urn in seed.dependencies
    assert set(jobs(prod)) == {"migrate"}


# ---------------------------------------------------------------------------------------------- availability


def test_disruption_budget_allows_drains_and_keeps_pods_serving(plan: Plan) -> None:
    budget = obj(plan, PDB, "shop").inputs["spec"]
    assert ("minAvailable" in budget) != ("maxUnavailable" in budget)
    minimum = obj(plan, HPA, "shop").inputs["spec"]["minReplicas"]
    assert 0 < budget["maxUnavailable"] < minimum
    assert budget["selector"]["matchLabels"] == rollout(plan).inputs["spec"]["selector"]["matchLabels"]


def test_autoscaler_scales_on_cpu_and_memory_and_scales_down_slowly(plan: Plan) -> None:
    spec = obj(plan, HPA, "shop").inputs["spec"]
    targets = {m["resource"]["name"]: m["resource"]["target"] for m in spec["metrics"]}
    assert set(targets) == {"cpu", "memory"}
    assert all(t["type"] == "Utilization" and 0 < t["averageUtilization"] < 100 for t in targets.values())
    assert spec["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 60


# ---------------------------------------------------------------------------------------------- network policies


def _policy(plan: Plan, name: str) -> dict:
    return obj(plan, NETWORK_POLICY, name).inputs["spec"]


def _rules(rules: list[dict], side: str) -> set[tuple[str, str, int]]:
    """(peer, protocol, port) of every rule; a peer is a CIDR (``cidr-except``) or ``namespace/pod`` selector."""
    flat = set()
    for rule in rules:
        for peer in rule[side]:
            if "ipBlock" in peer:
                name = peer["ipBlock"]["cidr"] + "".join(f"-{e}" for e in peer["ipBlock"].get("except", []))
            else:
                name = f"{peer['namespaceSelector']['matchLabels']}/{peer['podSelector']['matchLabels']}"
            flat |= {(name, p["protocol"], p["port"]) for p in rule["ports"]}
    return flat


def test_only_the_load_balancers_subnets_reach_the_web_pods_app_port(plan: Plan) -> None:
    policy = _policy(plan, "shop-web-ingress")
    assert policy["policyTypes"] == ["Ingress"]
    assert WEB.items() <= policy["podSelector"]["matchLabels"].items()
    assert _rules(policy["ingress"], "from") == {(cidr, "TCP", 8080) for cidr in subnet_cidrs(plan, "public")}


def test_shop_pods_reach_dns_the_data_stores_aws_over_https_and_the_trace_collector_and_nothing_else(
    plan: Plan,
) -> None:
    """The CloudWatch agent on its OTLP/HTTP port only (test_observability_shop.py). HTTPS to AWS: with interface
    endpoints (prod), exactly their subnets and S3's and DynamoDB's regional addresses (the gateway endpoints');
    without them (staging), anywhere but the VPC and the cluster's Service range."""
    policy = _policy(plan, "shop-egress")
    assert policy["policyTypes"] == ["Egress"]
    assert policy["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "shop",
        "app.kubernetes.io/part-of": "shop",
    }
    dns = str({"kubernetes.io/metadata.name": "kube-system"}) + "/" + str({"k8s-app": "kube-dns"})
    agent = (
        str({"kubernetes.io/metadata.name": "amazon-cloudwatch"})
        + "/"
        + str({"app.kubernetes.io/name": "cloudwatch-agent"})
    )
    expected = {(dns, "UDP", 53), (dns, "TCP", 53), ("169.254.170.23/32", "TCP", 80), (agent, "TCP", 4316)}
    expected |= {(cidr, "TCP", port) for cidr in subnet_cidrs(plan, "data") for port in (5432, 6379)}
    if plan.stack == "prod":
        _, s3_cidrs = S3_PREFIX_LISTS["eu-west-1"]
        _, dynamodb_cidrs = DYNAMODB_PREFIX_LISTS["eu-west-1"]
        gateways = [*s3_cidrs, *dynamodb_cidrs]
        expected |= {(cidr, "TCP", 443) for cidr in [*subnet_cidrs(plan, "endpoints"), *gateways]}
    else:
        expected.add(("0.0.0.0/0-10.40.0.0/16-172.20.0.0/16", "TCP", 443))
    assert _rules(policy["egress"], "to") == expected


def test_no_https_egress_reaches_pods_nodes_services_or_the_kubernetes_api(plan: Plan) -> None:
    """Whatever the stack: not the subnets of nodes and pods, the load balancer or the data stores, not the Service
    range (ClusterIPs; the API server's in-cluster address is its first), not the control plane's interfaces (in the
    private subnets)."""
    service_range = IPv4Network(plan.one("eks:index:Cluster").inputs["kubernetesServiceIpAddressRange"])
    forbidden = [IPv4Network(c) for tier in ("public", "private", "data") for c in subnet_cidrs(plan, tier)]
    forbidden += [service_range, IPv4Network(f"{service_range[1]}/32")]
    https = [rule for rule in _policy(plan, "shop-egress")["egress"] if {p["port"] for p in rule["ports"]} == {443}]
    for peer in [peer for rule in https for peer in rule["to"]]:
        block = IPv4Network(peer["ipBlock"]["cidr"])
        excepted = [IPv4Network(cidr) for cidr in peer["ipBlock"].get("except", [])]
        for network in forbidden:
            assert not block.overlaps(network) or any(network.subnet_of(e) for e in excepted), (block, network)


# ---------------------------------------------------------------------------------------------- ingress


def test_ingress_is_an_internet_facing_https_only_alb_with_the_edges_certificate_and_waf(plan: Plan) -> None:
    found = alb_annotations(plan)
    certificate = plan.one("aws:acm/certificateValidation:CertificateValidation", "edge-origin-certificate-validation")
    acl = plan.one("aws:wafv2/webAcl:WebAcl", "edge-origin-acl")
    assert found[ALB + "scheme"] == "internet-facing"
    assert found[ALB + "target-type"] == "ip"
    assert found[ALB + "listen-ports"] == '[{"HTTPS": 443}]'
    assert ALB + "ssl-redirect" not in found
    assert found[ALB + "ssl-policy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert found[ALB + "certificate-arn"] == certificate.outputs["certificateArn"]
    assert found[ALB + "wafv2-acl-arn"] == acl.outputs["arn"]
    assert found[ALB + "healthcheck-path"] == "/readyz"
    ingress = obj(plan, INGRESS, "shop")
    assert ingress.inputs["spec"]["ingressClassName"] == "alb"
    assert plan.one(RELEASE, "cluster-aws-load-balancer-controller").urn in ingress.dependencies


SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
CLOUDFRONT = "com.amazonaws.global.cloudfront.origin-facing"
HEALTH_CHECKERS = "com.amazonaws.eu-west-1.route53-healthchecks"


def _load_balancer_groups(plan: Plan) -> list[str]:
    """The security groups the Ingress gives the load balancer (the controller creates none of its own then)."""
    listed = alb_annotations(plan)[ALB + "security-groups"].split(",")
    shop_groups = {g.id for g in plan.descendants(plan.one(SHOP)) if g.type == SECURITY_GROUP}
    assert set(listed) == shop_groups
    return listed


def test_only_cloudfront_and_the_health_checkers_reach_the_load_balancer(staging: Plan, prod: Plan) -> None:
    """HTTPS from CloudFront's origin-facing servers, and in prod (which health-checks the origin) from Route 53's
    health checkers: AWS-managed prefix lists, one per group, so that each group stays within its 60 rules."""
    for plan, clients in ((staging, {CLOUDFRONT}), (prod, {CLOUDFRONT, HEALTH_CHECKERS})):
        assert alb_annotations(plan)[ALB + "manage-backend-security-group-rules"] == "true"
        groups = _load_balancer_groups(plan)
        rules = [r.inputs for r in plan.of_type(INGRESS_RULE) if r.inputs["securityGroupId"] in groups]
        by_list = {name: prefix_list_id for name, (prefix_list_id, _) in MANAGED_PREFIX_LISTS.items()}
        assert sorted(r["prefixListId"] for r in rules) == sorted(by_list[name] for name in clients)
        for rule in rules:
            assert (rule["ipProtocol"], rule["fromPort"], rule["toPort"]) == ("tcp", 443, 443)
            assert not {"cidrIpv4", "cidrIpv6", "referencedSecurityGroupId"} & set(rule), "prefix lists only"
        weights = {prefix_list_id: weight for prefix_list_id, weight in MANAGED_PREFIX_LISTS.values()}
        for group in groups:
            assert sum(weights[r["prefixListId"]] for r in rules if r["securityGroupId"] == group) <= 60, group


def test_the_load_balancer_connects_to_the_pods_app_port_only(plan: Plan) -> None:
    groups = _load_balancer_groups(plan)
    rules = [r.inputs for r in plan.of_type(EGRESS_RULE) if r.inputs["securityGroupId"] in groups]
    found = {(r["ipProtocol"], r["fromPort"], r["toPort"], r["cidrIpv4"]) for r in rules}
    assert found == {("tcp", 8080, 8080, cidr) for cidr in subnet_cidrs(plan, "private")}


def test_only_the_origin_host_is_routed(plan: Plan) -> None:
    (rule,) = obj(plan, INGRESS, "shop").inputs["spec"]["rules"]
    assert rule["host"] == plan.outputs["edge"]["originHostname"]
    assert [p["path"] for p in rule["http"]["paths"]] == ["/"]


def test_load_balancer_logs_drops_invalid_headers_and_is_protected_in_prod(staging: Plan, prod: Plan) -> None:
    for plan, protected in ((staging, "false"), (prod, "true")):
        found = attributes(alb_annotations(plan)[ALB + "load-balancer-attributes"])
        assert found["access_logs.s3.enabled"] == "true"
        assert found["access_logs.s3.bucket"] == plan.outputs["buckets"]["logsName"]
        assert found["access_logs.s3.prefix"] == "alb"
        assert found["routing.http.drop_invalid_header_fields.enabled"] == "true"
        assert found["deletion_protection.enabled"] == protected


def test_load_balancer_name_fits_and_the_origin_record_points_at_it(plan: Plan) -> None:
    name = alb_annotations(plan)[ALB + "load-balancer-name"]
    assert len(name) <= 32 and name == f"shop-{plan.stack}-alb"
    record = plan.one("aws:route53/record:Record", "edge-origin").inputs
    assert record["name"] == plan.outputs["edge"]["originHostname"]
    (target,) = record["records"]
    assert target.startswith(f"{name}-") and target.endswith(".elb.amazonaws.com")


def test_load_balancer_carries_the_stacks_tags(plan: Plan) -> None:
    tags = attributes(alb_annotations(plan)[ALB + "tags"])
    assert tags["stack"] == plan.stack and tags["component"] == "shop" and tags["Name"] == f"shop-{plan.stack}-alb"


# ---------------------------------------------------------------------------------------------- outputs


def test_outputs_are_the_public_url_and_the_image(plan: Plan) -> None:
    assert plan.outputs["shopUrl"].startswith("https://")
    assert plan.outputs["shopImage"] == plan_image(plan)
    assert plan.outputs["shopImage"].startswith("123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/app:")


def test_the_policy_pack_finds_nothing_wrong_with_the_shop(plan: Plan) -> None:
    """Under each stack's policy config (prod: every rule mandatory, digests required)."""
    shop = {resource.urn for resource in shop_objects(plan)}
    violations, _ = check(plan)
    assert [(v.policy, v.urn) for v in violations if v.policy.startswith("k8s-") or v.urn in shop] == []
