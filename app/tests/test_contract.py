"""The published OpenAPI document is a true contract: Schemathesis (an OpenAPI-driven fuzzer) generates valid and
invalid requests for every operation of both ports and runs them against the real server on PostgreSQL. No 5xx, no
undocumented status, every body matching its schema, invalid input refused, and input that matches the schema
never refused as invalid (the documented constraints equal the validation)."""

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = [pytest.mark.services]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
#: Examples per operation (valid and invalid mixed): both ports together take about 15 s on the 2-core machine.
EXAMPLES = 25
ADMIN = {"Authorization": "Bearer test-admin-token-0123456789"}


def _valid_input_refused(case, response) -> bool:
    """A schema-valid request answered 422 validation_failed: the schema is looser than the validation."""
    if not case.meta or case.meta.generation.mode != GenerationMode.POSITIVE or response.status_code != 422:
        return False
    return response.json().get("error") == "validation_failed"


@pytest.mark.parametrize("internal", [False, True], ids=["public", "internal"])
def test_the_openapi_document_is_what_the_app_does(pg_settings, live_server, internal):
    # Quiet logs: the fuzzer provokes thousands of expected refusals.
    tuned = pg_settings.model_copy(update={"log_level": "ERROR"})
    with live_server(tuned, internal=internal, seeded=True) as url:
        schema = schemathesis.openapi.from_url(url + "/openapi.json")
        headers = ADMIN if internal else {"Idempotency-Key": "contract-test"}
        failures = []
        for result in schema.get_all_operations():
            if isinstance(result, Err):
                failures.append(f"an operation the fuzzer cannot read: {result.err()}")
                continue
            operation = result.ok()

            @given(
                case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE)
                | operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)
            )
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
            )
            def run(case):
                case.headers = {**(case.headers or {}), **headers}
                response = case.call(base_url=url, timeout=30)
                case.validate_response(response, checks=CHECKS)
                assert not _valid_input_refused(case, response), (case.method, case.path, case.body, response.text)

            try:
                run()
            except Exception as exc:  # noqa: BLE001 - collected: one report for every operation
                failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:1500])
        assert not failures, "\n\n".join(failures)


def test_stateful_sequences_follow_the_documented_links(pg_settings, live_server):
    """Create a cart, then use its id as the links say (read it, fill it, check it out, look the order up)."""
    from hypothesis.stateful import run_state_machine_as_test

    with live_server(pg_settings.model_copy(update={"log_level": "ERROR"}), seeded=True) as url:
        schema = schemathesis.openapi.from_url(url + "/openapi.json")
        machine = schema.as_state_machine()

        class Links(machine):  # pyright: ignore[reportGeneralTypeIssues, reportUntypedBaseClass]
            def get_call_kwargs(self, case):
                return {"base_url": url, "timeout": 30, "headers": {"Idempotency-Key": f"stateful-{id(case)}"}}

            def validate_response(self, response, case, additional_checks=None, **kwargs):
                case.validate_response(response, checks=CHECKS)

        run_state_machine_as_test(
            Links,
            settings=settings(
                max_examples=15,
                stateful_step_count=6,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            ),
        )
