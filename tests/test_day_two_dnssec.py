"""Rolling prod's DNSSEC key (docs/operations.md, "DNSSEC"): a second key-signing key joins with a KMS key of its
own, then the first leaves. Nothing else changes; the zone keeps signing throughout; the first KMS key, protected,
goes only once someone unprotects it on purpose (its DS record must be gone from the parent first)."""

from __future__ import annotations

import pytest

from stacks.offline.plan import Plan
from tests.conftest import plan_for
from tests.day_two import Change, changes

ROLLING = {"edgeDnssecKeys": ["ksk1", "ksk2"]}
ROLLED = {"edgeDnssecKeys": ["ksk2"]}


def ops(found: dict[str, Change]) -> set[tuple[str, str, str]]:
    return {(change.op, change.type, change.name) for change in found.values()}


@pytest.fixture(scope="module")
def rolling() -> Plan:
    return plan_for("prod", ROLLING)


def test_adding_a_key_creates_it_and_touches_nothing_else(prod: Plan, rolling: Plan) -> None:
    assert ops(changes(prod, rolling)) == {
        ("create", "aws:kms/key:Key", "edge-zone-dnssec-ksk2-key"),
        ("create", "aws:kms/alias:Alias", "edge-zone-dnssec-ksk2-key-alias"),
        ("create", "aws:route53/keySigningKey:KeySigningKey", "edge-zone-dnssec-ksk2"),
    }
    assert set(rolling.outputs["edge"]["dnssecDsRecords"]) == {"ksk1", "ksk2"}


def test_removing_the_old_key_deletes_it_and_its_protected_kms_key_needs_unprotecting(rolling: Plan) -> None:
    found = changes(rolling, plan_for("prod", ROLLED))
    assert ops(found) == {
        ("delete", "aws:kms/key:Key", "edge-zone-dnssec-ksk1-key"),
        ("delete", "aws:kms/alias:Alias", "edge-zone-dnssec-ksk1-key-alias"),
        ("delete", "aws:route53/keySigningKey:KeySigningKey", "edge-zone-dnssec-ksk1"),
    }
    protected = [change.name for change in found.values() if change.protected]
    assert protected == ["edge-zone-dnssec-ksk1-key"]  # `pulumi state unprotect` first, deliberately
