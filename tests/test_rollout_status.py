"""The pipeline's judgement of a release (ci/rollout.py): Argo Rollouts' phase as its own CLI computes it, which a
status of the previous spec cannot pass."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from ci import rollout
from stacks.exit_codes import Exit


def rollout_object(phase: str, *, generation: int = 4, observed: str = "4", **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "shop", "generation": generation},
        "spec": {
            "strategy": {
                "canary": {"steps": [{"setWeight": 10}, {"analysis": {}}, {"setWeight": 50}, {"analysis": {}}]}
            },
            "template": {"spec": {"containers": [{"image": "registry/shop/app:abc@sha256:0"}]}},
        },
        "status": {"phase": phase, "message": "", "observedGeneration": observed, **status},
    }


def test_a_status_of_the_previous_spec_is_still_progressing() -> None:
    """Right after `pulumi up` the old status still says Healthy: not observed yet, so not done."""
    assert rollout.outcome(rollout_object("Healthy", generation=5, observed="4")).phase == "Progressing"
    assert rollout.outcome(rollout_object("Healthy")).phase == "Healthy"


def test_an_unpause_not_yet_seen_is_progressing() -> None:
    found = rollout.outcome(rollout_object("Paused", controllerPause=True, pauseConditions=[]))
    assert (found.phase, found.finished) == ("Progressing", False)


def test_the_outcome_names_the_step_and_the_image() -> None:
    found = rollout.outcome(rollout_object("Degraded", currentStepIndex=1, message="RolloutAborted: metric failed"))
    assert (found.step, found.image, found.finished) == ("1/4", "registry/shop/app:abc@sha256:0", True)


def test_wait_reads_until_the_release_finishes() -> None:
    states = iter([rollout_object("Healthy", generation=5), rollout_object("Paused"), rollout_object("Degraded")])
    slept: list[float] = []
    found = rollout.wait(lambda: next(states), timeout=600, sleep=slept.append)
    assert found.phase == "Degraded"
    assert slept == [rollout.POLL_SECONDS, rollout.POLL_SECONDS]


@pytest.mark.parametrize(
    ("phase", "code", "title"),
    [("Healthy", Exit.OK, None), ("Degraded", Exit.FAILED, "Release aborted"), ("Paused", Exit.FAILED, "unfinished")],
)
def test_only_a_healthy_release_passes(
    phase: str, code: int, title: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    found = rollout.outcome(rollout_object(phase, message="analysis error-rate failed"))
    assert rollout.report("prod", found) == code
    printed = capsys.readouterr()
    assert f"release of `registry/shop/app:abc@sha256:0`: {phase}" in printed.out
    if title:
        assert title in printed.err and "kubectl argo rollouts get rollout shop" in printed.err


class _Response:
    def __init__(self, body: dict[str, Any]) -> None:
        self.body = json.dumps(body).encode()

    def __enter__(self) -> _Response:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def read(self) -> bytes:
        return self.body


@pytest.mark.parametrize(("phase", "code"), [("Healthy", Exit.OK), ("Degraded", Exit.FAILED)])
def test_the_command_reads_the_rollout_from_the_stacks_cluster_with_an_eks_token(
    monkeypatch: pytest.MonkeyPatch, phase: str, code: int
) -> None:
    """Only the AWS CLI and the deploy role, as `pulumi up` itself: no kubectl, no kubeconfig file."""
    calls: list[tuple[str, ...]] = []
    requests: list[urllib.request.Request] = []
    answers = {
        "describe-cluster": {"cluster": {"endpoint": "https://ABC.eks.example", "certificateAuthority": {"data": ""}}},
        "get-token": {"status": {"token": "k8s-aws-v1.token"}},
    }

    def aws_json(*arguments: str) -> Any:
        calls.append(arguments)
        return answers[arguments[1]]

    def urlopen(request: urllib.request.Request, **_: Any) -> _Response:
        requests.append(request)
        return _Response(rollout_object(phase))

    monkeypatch.setattr(rollout, "stack_outputs", lambda stack: {"cluster": {"name": f"shop-{stack}-eks"}})
    monkeypatch.setattr(rollout, "_aws_json", aws_json)
    monkeypatch.setattr(rollout.ssl, "create_default_context", lambda **_: None)
    monkeypatch.setattr(rollout.urllib.request, "urlopen", urlopen)
    assert rollout.main(["prod", "--timeout", "0"]) == code
    assert calls == [
        ("eks", "describe-cluster", "--name", "shop-prod-eks"),
        ("eks", "get-token", "--cluster-name", "shop-prod-eks"),
    ]
    (request,) = requests
    assert request.full_url == "https://ABC.eks.example/apis/argoproj.io/v1alpha1/namespaces/shop/rollouts/shop"
    assert request.get_header("Authorization") == "Bearer k8s-aws-v1.token"
