"""Edge changes in prod: the WAF rate rule turned off, a shop host added, a host removed. Each leaves the hosted
zone, the keys and the log groups alone; certificates follow ACM's rules (a certificate's names never change, so a
new set of names is a new certificate, created and validated before CloudFront switches to it)."""

from __future__ import annotations

import pytest

from stacks.offline.plan import Plan
from tests.conftest import plan_for
from tests.day_two import Change, changes, of_op

ACL = "aws:wafv2/webAcl:WebAcl"
CERTIFICATE = "aws:acm/certificate:Certificate"
VALIDATION = "aws:acm/certificateValidation:CertificateValidation"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
RECORD = "aws:route53/record:Record"
#: Prod serves the apex and www (Pulumi.prod.yaml).
HOSTS = ["@", "www"]


def ops(found: dict[str, Change]) -> set[tuple[str, str, str]]:
    return {(change.op, change.type, change.name) for change in found.values()}


def assert_nothing_protected_is_replaced_or_deleted(found: dict[str, Change]) -> None:
    assert [f"{c.op} {c.type} {c.name}" for c in found.values() if c.op in ("replace", "delete") and c.protected] == []


@pytest.fixture(scope="module")
def rate_rule_off(prod: Plan) -> dict[str, Change]:
    return changes(prod, plan_for("prod", {"edgeWafRateLimitEnabled": False}))


@pytest.fixture(scope="module")
def host_added(prod: Plan) -> dict[str, Change]:
    return changes(prod, plan_for("prod", {"edgeHosts": [*HOSTS, "shop"]}))


@pytest.fixture(scope="module")
def host_removed(prod: Plan) -> dict[str, Change]:
    return changes(prod, plan_for("prod", {"edgeHosts": HOSTS[:1]}))


def test_turning_the_rate_rule_off_updates_only_the_viewer_web_acl(rate_rule_off: dict[str, Change]) -> None:
    (change,) = rate_rule_off.values()
    assert (change.op, change.type, change.name, change.keys) == ("update", ACL, "edge-cdn-acl", {"rules"})
    assert change.before is not None and change.after is not None
    assert "rate-limit-per-ip" in {rule["name"] for rule in change.before.inputs["rules"]}
    assert "rate-limit-per-ip" not in {rule["name"] for rule in change.after.inputs["rules"]}


def test_adding_a_host_adds_its_records_and_a_new_certificate_before_cloudfront_switches(
    host_added: dict[str, Change],
) -> None:
    assert ops(host_added) == {
        ("create", RECORD, "edge-shop-a"),
        ("create", RECORD, "edge-shop-aaaa"),
        ("create", RECORD, "edge-cdn-validation-shop"),
        # A certificate's names are fixed (subject_alternative_names is ForceNew): the new one is requested and
        # validated first, CloudFront moves to it, then the old one is deleted.
        ("replace", CERTIFICATE, "edge-cdn-certificate"),
        ("replace", VALIDATION, "edge-cdn-certificate-validation"),
        ("update", DISTRIBUTION, "edge-cdn"),
    }
    certificate = next(c for c in host_added.values() if c.type == CERTIFICATE)
    assert certificate.after is not None and not certificate.after.options.get("deleteBeforeReplace")
    distribution = next(c for c in host_added.values() if c.type == DISTRIBUTION)
    assert distribution.keys == {"aliases", "viewerCertificate"}
    assert_nothing_protected_is_replaced_or_deleted(host_added)


def test_removing_a_host_deletes_its_records_and_replaces_the_certificate(host_removed: dict[str, Change]) -> None:
    assert ops(host_removed) == {
        ("delete", RECORD, "edge-www-a"),
        ("delete", RECORD, "edge-www-aaaa"),
        ("delete", RECORD, "edge-cdn-validation-www"),
        ("replace", CERTIFICATE, "edge-cdn-certificate"),
        ("replace", VALIDATION, "edge-cdn-certificate-validation"),
        ("update", DISTRIBUTION, "edge-cdn"),
    }
    assert_nothing_protected_is_replaced_or_deleted(host_removed)


def test_host_changes_leave_the_origin_alone(host_added: dict[str, Change], host_removed: dict[str, Change]) -> None:
    """The origin hangs off the canonical (first) host, which both changes keep: its name, certificate and the
    shop's Ingress stay."""
    for found in (host_added, host_removed):
        assert not [c for c in found.values() if "origin" in c.name or c.type.startswith("kubernetes:")]
    assert not of_op(host_added, "delete")
