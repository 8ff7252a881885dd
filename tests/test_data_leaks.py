"""No secret value in plain text anywhere in the plan or the stack outputs.

The plan knows every secret value: those the fake cloud generates (pulumi-random results, secret outputs), those
the program marks secret and the `secure:` config placeholders. Only the generators themselves and the Secrets
Manager versions that store the values may hold them, and those hold them as secrets.
"""

from __future__ import annotations

import json

from stacks.offline.plan import SECRET, Plan
from tests.data_layer import plain_text_leaks

DATA_LAYER_OUTPUTS = ("kmsKeyArns", "database", "cache", "buckets", "appSecretArns")


def test_the_fake_cloud_generated_the_application_secrets(plan: Plan) -> None:
    assert len(plan.secret_values) >= 4, "otherwise the scans below would prove nothing"


def test_no_secret_value_appears_in_plain_text_in_any_resource(plan: Plan) -> None:
    assert plain_text_leaks(plan) == []


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
