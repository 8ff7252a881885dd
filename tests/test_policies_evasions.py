"""The careless changes an adversarial review slipped past the pack, one per row: each starts from a compliant
baseline and changes one property (the pulumi/compliance-policies way). The compliant rows include equivalent
spellings (list vs string values, condition key case, NotAction) that must keep passing."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from pulumi_policy import Policy

from policies.rules import cluster, data, edge, identity, network, services, workloads
from tests.policy_support import assert_compliant_even_when_unknown, messages, resource

ACCOUNT = "123456789012"
TOPIC_ARN = f"arn:aws:sns:eu-west-1:{ACCOUNT}:alerts"
KEY = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/0000"


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: Any, on: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": on, **extra}


# ---------------------------------------------------------------------------------------------- baselines

ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
NARROW = allow(["s3:GetObject"], "arn:aws:s3:::assets/*")
SERVICE_TRUST = {
    "Effect": "Allow",
    "Principal": {"Service": "cloudwatch.amazonaws.com"},
    "Action": "sts:AssumeRole",
}
OIDC_TRUST = {
    "Effect": "Allow",
    "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"},
    "Action": "sts:AssumeRoleWithWebIdentity",
    "Condition": {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": "repo:org/shop:environment:production",
        }
    },
}
PUBLISH = {
    "Effect": "Allow",
    "Principal": {"Service": "cloudwatch.amazonaws.com"},
    "Action": "sns:Publish",
    "Resource": TOPIC_ARN,
}
WIDE_OPEN = {"Effect": "Allow", "Principal": "*", "Action": "sns:Publish", "Resource": TOPIC_ARN}
SSH = {"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["10.0.0.0/16"], "description": "ssh"}
CONTAINER = {"name": "web", "image": "shop:1", "env": [{"name": "SHOP_DB_SECRET_ARN", "value": "arn:aws:x"}]}
ALB_ANNOTATIONS = {
    "alb.ingress.kubernetes.io/scheme": "internet-facing",
    "alb.ingress.kubernetes.io/certificate-arn": "arn:aws:acm:eu-west-1:1:certificate/x",
    "alb.ingress.kubernetes.io/listen-ports": '[{"HTTPS": 443}]',
    "alb.ingress.kubernetes.io/ssl-policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
    "alb.ingress.kubernetes.io/wafv2-acl-arn": "arn:aws:wafv2:eu-west-1:1:regional/webacl/x/y",
    "alb.ingress.kubernetes.io/load-balancer-attributes": "access_logs.s3.enabled=true,access_logs.s3.bucket=logs",
}


DNS = {"ports": [{"port": 53, "protocol": "UDP"}]}
CHART_VALUES = {
    "replicaCount": 2,
    "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True, "runAsUser": 65534},
    "env": [{"name": "LOG_LEVEL", "value": "info"}],
}


def with_annotations(**changes: Any) -> dict[str, Any]:
    annotations = {
        **ALB_ANNOTATIONS,
        **{f"alb.ingress.kubernetes.io/{k.replace('_', '-')}": v for k, v in changes.items()},
    }
    return {
        "metadata": {"namespace": "shop", "annotations": {k: v for k, v in annotations.items() if v is not None}},
        "spec": {"ingressClassName": "alb"},
    }


def pod(container: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"metadata": {"namespace": "shop"}, "spec": {"template": {"spec": {"containers": [container], **spec}}}}


def published_to(type_: str, prop: str = "policy") -> tuple[Policy, str, dict[str, Any]]:
    """The baseline of a resource policy rule: a ``type_`` whose policy (in ``prop``) lets one AWS service publish."""
    return identity.resource_policy_no_public_principal, type_, {prop: document(PUBLISH)}


BASELINES: dict[str, tuple[Policy, str, dict[str, Any]]] = {
    "identity policy": (identity.iam_no_wildcard_admin, ROLE_POLICY, {"policy": document(NARROW)}),
    "trust policy": (
        identity.iam_trust_no_wildcard_principal,
        identity.ROLE,
        {"assumeRolePolicy": document(SERVICE_TRUST)},
    ),
    "oidc trust": (identity.iam_trust_no_wildcard_principal, identity.ROLE, {"assumeRolePolicy": document(OIDC_TRUST)}),
    "sns topic": published_to("aws:sns/topic:Topic"),
    "security group": (network.security_group_no_internet_ingress, network.SECURITY_GROUP, {"ingress": [SSH]}),
    "eks endpoint": (
        cluster.eks_endpoint_no_public_cidr,
        cluster.EKS_COMPONENT,
        {"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]},
    ),
    "deployment": (workloads.k8s_no_plaintext_secrets, workloads.DEPLOYMENT, pod(CONTAINER)),
    "configmap": (
        workloads.k8s_no_plaintext_secrets,
        workloads.CONFIG_MAP,
        {"metadata": {"namespace": "shop"}, "data": {"SHOP_DB_HOST": "db.internal", "SHOP_DB_SSLMODE": "verify-full"}},
    ),
    "ingress": (edge.alb_ingress_annotations, edge.K8S_INGRESS, with_annotations()),
    "binding": (
        workloads.k8s_rbac_least_privilege,
        workloads.RBAC_BINDINGS[0],
        {"roleRef": {"name": "view"}, "subjects": [{"kind": "Group", "name": "system:authenticated"}]},
    ),
    "role": (
        workloads.k8s_rbac_least_privilege,
        workloads.RBAC_ROLES[0],
        {"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]},
    ),
    "network policy": (
        workloads.k8s_network_policy_no_allow_all,
        workloads.NETWORK_POLICY,
        {"metadata": {"namespace": "shop"}, "spec": {"ingress": [{"from": [{"podSelector": {}}]}], "egress": [DNS]}},
    ),
    "service account": (
        workloads.k8s_no_automount_token,
        workloads.SERVICE_ACCOUNT,
        {"metadata": {"name": "shop", "namespace": "shop"}, "automountServiceAccountToken": False},
    ),
    "service": (workloads.k8s_service_cluster_ip_only, workloads.SERVICE, {"spec": {"type": "ClusterIP"}}),
    "helm release": (workloads.k8s_helm_values_pod_security, workloads.HELM_RELEASES[0], {"values": CHART_VALUES}),
    "helm secrets": (workloads.k8s_no_plaintext_secrets, workloads.HELM_RELEASES[0], {"values": CHART_VALUES}),
    "bucket policy": published_to(data.BUCKET_POLICY),
    "lambda permission": (
        identity.resource_policy_no_public_principal,
        "aws:lambda/permission:Permission",
        {"principal": "events.amazonaws.com", "sourceArn": "arn:aws:events:eu-west-1:1:rule/x"},
    ),
    "log resource policy": published_to("aws:cloudwatch/logResourcePolicy:LogResourcePolicy", "policyDocument"),
    "queue policy": published_to("aws:sqs/queuePolicy:QueuePolicy"),
    "secret policy": published_to("aws:secretsmanager/secret:Secret"),
    "ecr policy": published_to("aws:ecr/repositoryPolicy:RepositoryPolicy"),
    "function url": (
        identity.resource_policy_no_public_principal,
        "aws:lambda/functionUrl:FunctionUrl",
        {"authorizationType": "AWS_IAM"},
    ),
    "queue": (services.sqs_queue_encrypted, services.SQS_QUEUE, {"kmsMasterKeyId": KEY}),
    "topic": (services.sns_topic_kms, services.SNS_TOPIC, {"kmsMasterKeyId": KEY}),
    "function": (
        services.lambda_no_plaintext_secrets,
        services.LAMBDA_FUNCTION,
        {"environment": {"variables": {"DB_SECRET_ARN": "arn:aws:secretsmanager:x"}}},
    ),
    "instance": (
        services.ec2_instance_imdsv2_private,
        services.EC2_INSTANCE,
        {"metadataOptions": {"httpTokens": "required"}, "associatePublicIpAddress": False},
    ),
    "trail": (services.cloudtrail_kms_validation, services.TRAIL, {"kmsKeyId": KEY, "enableLogFileValidation": True}),
    "table": (
        services.dynamodb_encryption_pitr,
        services.DYNAMODB_TABLE,
        {"serverSideEncryption": {"enabled": True, "kmsKeyArn": KEY}, "pointInTimeRecovery": {"enabled": True}},
    ),
    "event bus": (services.eventbridge_bus_kms, services.EVENT_BUS, {"kmsKeyIdentifier": KEY}),
    "database": (
        data.rds_log_exports,
        data.RDS_INSTANCE,
        {"engine": "postgres", "enabledCloudwatchLogsExports": ["postgresql", "upgrade"]},
    ),
    "database upgrades": (data.rds_minor_upgrades, data.RDS_INSTANCE, {"autoMinorVersionUpgrade": True}),
    "cache": (data.elasticache_snapshot_retention, data.REPLICATION_GROUP, {"snapshotRetentionLimit": 7}),
    "any type": (services.allowed_resource_types, data.RDS_INSTANCE, {}),
}

Change = Callable[[dict[str, Any]], dict[str, Any]]


def to(**props: Any) -> Change:
    return lambda base: {**base, **props}


#: (baseline, the one change, a fragment of the message) -- every row is an evasion that used to pass.
VIOLATIONS: list[tuple[str, Change, str]] = [
    ("identity policy", to(policy=document(allow("iam:*"))), "every iam action"),
    ("identity policy", to(policy=document(allow(["s3:*"]))), "every s3 action"),
    ("identity policy", to(policy=document(allow("kms:*", "arn:*"))), "every kms action"),
    ("identity policy", to(policy=document(allow("*", "arn:aws:*:*:*:*"))), 'every action ("*")'),
    ("identity policy", to(policy=document(allow("secretsmanager:GetSecretValue"))), "GetSecretValue"),
    ("identity policy", to(policy=document(allow("IAM:passrole"))), "iam:PassRole"),
    ("identity policy", to(policy=document(allow("iam:Create*"))), "iam:CreateRole"),
    ("identity policy", to(policy=document(allow(["iam:Attach*", "iam:Put*"]))), "iam:AttachRolePolicy"),
    ("identity policy", to(policy=document(allow("sts:AssumeRole"))), "sts:AssumeRole"),
    ("identity policy", to(policy=document({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})), "NotAction"),
    (
        "trust policy",
        to(
            assumeRolePolicy=document(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"Bool": {"aws:SecureTransport": "true"}},
                }
            )
        ),
        "any principal",
    ),
    (
        "oidc trust",
        to(assumeRolePolicy=document({**OIDC_TRUST, "Condition": {"StringEquals": {"x:aud": "sts.amazonaws.com"}}})),
        "no :sub",
    ),
    (
        "oidc trust",
        to(assumeRolePolicy=document({**OIDC_TRUST, "Condition": {"StringLike": {"x:sub": "*", "x:aud": "sts"}}})),
        "no :sub",
    ),
    ("sns topic", to(policy=document(WIDE_OPEN)), "allows any principal"),
    (
        "sns topic",
        to(policy=document({**WIDE_OPEN, "Condition": {"StringNotEquals": {"aws:SourceAccount": ACCOUNT}}})),
        "allows any principal",
    ),
    ("security group", to(ingress=[{**SSH, "cidrBlocks": ["0.0.0.0/1", "128.0.0.0/1"]}]), "0.0.0.0/1, 128.0.0.0/1"),
    ("security group", to(ingress=[{**SSH, "cidrBlocks": ["0.0.0.0/0"]}]), "0.0.0.0/0"),
    ("security group", to(ingress=[{**SSH, "cidrBlocks": [], "ipv6CidrBlocks": ["2000::/3"]}]), "2000::/3"),
    ("eks endpoint", to(publicAccessCidrs=["0.0.0.0/1", "128.0.0.0/2"]), "0.0.0.0/1, 128.0.0.0/2"),
    (
        "deployment",
        lambda base: pod({**CONTAINER, "env": [{"name": "DB_PASSWORD", "value": "Xk3v9QpLm2Zr8TwY"}]}),
        "DB_PASSWORD looks like a generated secret",
    ),
    (
        "configmap",
        to(data={"DATABASE_URL": "postgres://shop:s3cret-pw@db:5432/shop"}),
        "DATABASE_URL holds a URL with an inline password",
    ),
    ("configmap", to(data={"REDIS_AUTH": "aG9wZWZ1bGx5LXJhbmRvbQ=="}), "REDIS_AUTH looks like a generated secret"),
    ("configmap", to(data={"SMTP_PASS": "q8Z!m2r#Lw9v"}), "SMTP_PASS looks like a generated secret"),
    ("ingress", to(**with_annotations(wafv2_acl_arn=None)), "no alb.ingress.kubernetes.io/wafv2-acl-arn"),
    ("ingress", to(**with_annotations(ssl_policy="ELBSecurityPolicy-2016-08")), "ELBSecurityPolicy-2016-08"),
    ("ingress", to(**with_annotations(listen_ports='[{"HTTP": 80}, {"HTTPS": 443}]')), "HTTP listener"),
    ("ingress", to(**with_annotations(load_balancer_attributes="deletion_protection.enabled=true")), "Access logs"),
    ("binding", to(roleRef={"name": "cluster-admin"}), "cluster-admin is bound to system:authenticated"),
    ("role", to(rules=[{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]), "every verb on every resource"),
    ("network policy", to(spec={"ingress": [{}]}), "An ingress rule allows all traffic"),
    ("network policy", to(spec={"egress": [{}]}), "An egress rule allows all traffic"),
    ("network policy", to(spec={"ingress": [{"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]}), "An ingress rule"),
    ("identity policy", to(policy=document(allow("sts:*"))), "every sts action"),
    ("service account", to(automountServiceAccountToken=True), "automountServiceAccountToken is True"),
    ("service account", lambda base: {"metadata": base["metadata"]}, "unset (true)"),
    ("service", to(spec={"type": "NodePort"}), "NodePort"),
    ("service", to(spec={"type": "LoadBalancer"}), "LoadBalancer"),
    ("helm release", to(values={**CHART_VALUES, "hostNetwork": True}), "hostNetwork: True"),
    ("helm release", to(values={"controller": {"securityContext": {"privileged": True}}}), "privileged: True"),
    ("helm release", to(values={"podSecurityContext": {"runAsUser": 0.0}}), "runAsUser: 0"),
    ("helm secrets", to(values={"env": [{"name": "API_TOKEN", "value": "ghp_9fK2xQ7mZ1vL8rT3"}]}), "API_TOKEN"),
    ("bucket policy", to(policy=document({**WIDE_OPEN, "Action": "s3:GetObject"})), "allows any principal"),
    ("lambda permission", to(principal="*", sourceArn=None), "any principal invoke"),
    ("log resource policy", to(policyDocument=document(WIDE_OPEN)), "allows any principal"),
    ("queue policy", to(policy=document({**WIDE_OPEN, "Action": "sqs:SendMessage"})), "allows any principal"),
    ("secret policy", to(policy=document({**WIDE_OPEN, "Action": "secretsmanager:GetSecretValue"})), "any principal"),
    ("ecr policy", to(policy=document({**WIDE_OPEN, "Principal": {"AWS": ["*"]}})), "allows any principal"),
    ("function url", to(authorizationType="NONE"), "anonymous requests"),
    ("queue", to(kmsMasterKeyId=None, sqsManagedSseEnabled=True), "kmsMasterKeyId is not set"),
    ("topic", to(kmsMasterKeyId=None), "customer-managed"),
    ("topic", to(kmsMasterKeyId="alias/aws/sns"), "customer-managed"),
    ("function", to(environment={"variables": {"DB_PASSWORD": "Zt8#kq2LmW9x"}}), "DB_PASSWORD"),
    ("instance", to(metadataOptions={"httpTokens": "optional"}), "httpTokens is optional"),
    ("instance", to(associatePublicIpAddress=True), "associatePublicIpAddress"),
    ("trail", to(kmsKeyId=None), "kmsKeyId"),
    ("trail", to(enableLogFileValidation=False), "enableLogFileValidation"),
    ("table", to(pointInTimeRecovery={"enabled": False}), "pointInTimeRecovery"),
    ("table", to(serverSideEncryption={"enabled": True}), "customer-managed"),
    ("event bus", to(kmsKeyIdentifier=None), "customer-managed"),
    ("database", to(enabledCloudwatchLogsExports=["upgrade"]), "lacks postgresql"),
    ("database upgrades", to(autoMinorVersionUpgrade=False), "autoMinorVersionUpgrade is false"),
    ("cache", to(snapshotRetentionLimit=0), "no automatic snapshots"),
]

#: Equivalent spellings of compliant documents and settings that must keep passing.
COMPLIANT: list[tuple[str, Change]] = [
    ("identity policy", to(policy=document(allow("ec2:Describe*")))),
    ("identity policy", to(policy=document(allow("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/shop/prod/app")))),
    ("identity policy", to(policy=document({"Effect": "Deny", "NotAction": "iam:*", "Resource": "*"}))),
    (
        "identity policy",
        to(policy=document({"Effect": "Allow", "NotAction": "s3:Delete*", "Resource": "arn:aws:s3:::a/*"})),
    ),
    (
        "trust policy",
        to(
            assumeRolePolicy=document(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"stringequals": {"AWS:PrincipalOrgID": ["o-abc123"]}},
                }
            )
        ),
    ),
    (
        "sns topic",
        to(
            policy=document(
                {
                    **WIDE_OPEN,
                    "Condition": {"ArnLike": {"aws:sourcearn": [f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:*"]}},
                },
                {"Effect": "Deny", "Principal": "*", "Action": "sns:Publish", "Resource": TOPIC_ARN},
            )
        ),
    ),
    ("security group", to(ingress=[{**SSH, "cidrBlocks": ["203.0.113.0/24", "10.0.0.0/8"]}])),
    ("security group", to(ingress=[{**SSH, "cidrBlocks": ["0.0.0.0/0"], "fromPort": 443, "toPort": 443}])),
    ("eks endpoint", to(endpointPublicAccess=False, publicAccessCidrs=["0.0.0.0/0"])),
    (
        "configmap",
        to(data={"SHOP_SESSION_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:1:secret:s", "AUTH_MODE": "oidc"}),
    ),
    ("configmap", to(data={"SHOP_REDIS_URL": "rediss://master.cache.amazonaws.com:6379/0"})),
    ("ingress", to(**with_annotations(listen_ports='[{"HTTP": 80}, {"HTTPS": 443}]', ssl_redirect="443"))),
    ("ingress", to(**with_annotations(listen_ports=None))),
    ("network policy", to(spec={"egress": [DNS], "ingress": [{"ports": [{"port": 8080}]}]})),
    ("service account", lambda base: {**base, "metadata": {"name": "controller", "namespace": "kube-system"}}),
    ("helm release", to(values={**CHART_VALUES, "hostNetwork": False, "runAsUser": 1})),
    ("lambda permission", to(principal="*", sourceAccount=ACCOUNT, sourceArn=None)),
    ("database upgrades", lambda base: {}),
]


@pytest.mark.parametrize(("baseline", "change", "expected"), VIOLATIONS, ids=[row[2] for row in VIOLATIONS])
def test_the_careless_change_is_caught(baseline: str, change: Change, expected: str) -> None:
    policy, type_, props = BASELINES[baseline]
    assert messages(policy, resource(type_, props=props)) == []
    found = messages(policy, resource(type_, props=change(props)))
    assert any(expected in message for message in found), found


@pytest.mark.parametrize(("baseline", "change"), COMPLIANT, ids=[f"{row[0]}-{i}" for i, row in enumerate(COMPLIANT)])
def test_an_equivalent_compliant_spelling_passes(baseline: str, change: Change) -> None:
    policy, type_, props = BASELINES[baseline]
    assert messages(policy, resource(type_, props=change(props))) == []


@pytest.mark.parametrize("baseline", BASELINES)
def test_the_baseline_is_compliant_even_when_unknown(baseline: str) -> None:
    policy, type_, props = BASELINES[baseline]
    assert_compliant_even_when_unknown(policy, resource(type_, props=props))


def test_an_iam_user_gets_no_access_key_or_console_password() -> None:
    key = resource(identity.ACCESS_KEY, "key", {"user": "ci"})
    login = resource(identity.USER_LOGIN_PROFILE, "login", {"user": "ci"})
    assert [m.split(".")[0] for m in messages(identity.iam_no_long_lived_user_credentials, key, login)] == [
        "The IAM user ci gets an access key, a long-lived credential",
        "The IAM user ci gets a console password, a long-lived credential",
    ]
    assert messages(identity.iam_no_long_lived_user_credentials, resource("aws:iam/user:User", "ci", {})) == []


def test_a_resource_type_the_pack_has_not_reviewed_is_refused() -> None:
    unreviewed = resource("aws:opensearch/domain:Domain", "search", {})
    [message] = messages(services.allowed_resource_types, unreviewed)
    assert message.startswith("aws:opensearch/domain:Domain is not a reviewed resource type. Fix: add the type")
