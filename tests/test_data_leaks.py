"""No secret value in plain text anywhere in the plan or the stack outputs.

The fake cloud records every value it generates as a secret (pulumi-random results). Only the generators
themselves and the Secrets Manager versions that store the values may hold them, and those hold them as secrets.
"""

from __future__ import annotations

import json

from stacks.offline.plan import SECRET, Plan

SECRET_HOLDERS = ("random:", "aws:secretsmanager/secretVersion:")
DATA_LAYER_OUTPUTS = ("kmsKeyArns", "database", "cache", "buckets", "appSecretArns")


def test_the_fake_cloud_generated_the_application_secrets(plan: Plan) -> None:
    assert len(plan.secret_values) >= 4, "otherwise the scans below would prove nothing"


def test_no_generated_secret_appears_in_plain_text_in_any_resource(plan: Plan) -> None:
    leaks = []
    for resource in plan.resources:
        if resource.type.startswith(SECRET_HOLDERS):
            continue
        text = json.dumps({"inputs": resource.inputs, "outputs": resource.outputs})
        leaks += [f"{resource.type} {resource.name}" for value in plan.secret_values if value in text]
    assert leaks == []


def test_the_json_plan_and_the_stack_outputs_carry_no_secret_value(plan: Plan) -> None:
    everything = json.dumps(plan.to_json())
    assert [value for value in plan.secret_values if value in everything] == []


def test_data_layer_outputs_are_identifiers_never_secrets(plan: Plan) -> None:
    exported = {name: plan.outputs[name] for name in DATA_LAYER_OUTPUTS}
    assert SECRET not in json.dumps(exported), "the data layer exports where secrets are, never what they are"


def test_secret_inputs_stay_marked_secret_where_they_must_be_used(plan: Plan) -> None:
    for version in plan.of_type("aws:secretsmanager/secretVersion:SecretVersion"):
        assert version.inputs["secretString"] == SECRET
    assert plan.one("aws:elasticache/replicationGroup:ReplicationGroup").inputs["authToken"] == SECRET
