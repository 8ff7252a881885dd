"""The outcome of the shop's release (its Argo Rollout), after ``pulumi up``: healthy, or aborted and why.

    python -m ci.rollout STACK [--timeout SECONDS]

``pulumi up`` already waits for the Rollout's ``status.phase`` to be Healthy (``pulumi.com/waitFor``), but
pulumi-kubernetes cannot tell whether that status is of the new spec: Argo Rollouts keeps ``observedGeneration`` as
a string, which the provider's generation check skips. This command judges the phase the way ``kubectl argo rollouts
status`` does (argo-rollouts ``utils/rollout/rolloututil.go`` GetRolloutPhase): Progressing until the controller has
observed the current generation; Healthy passes; Degraded (an aborted release, a failed analysis, a missed progress
deadline) fails with the controller's message; Paused and Progressing are waited for up to the timeout.

It reads the Rollout from the Kubernetes API of the stack's cluster (its ``cluster`` output) with a token from
``aws eks get-token`` and the endpoint and CA from ``aws eks describe-cluster``, as ``pulumi up`` reaches it: the
runner needs the AWS CLI and the deploy role (an access entry of the cluster), and for prod the VPC.
"""

from __future__ import annotations

import argparse
import base64
import json
import ssl
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ci import runner
from ci.release import stack_outputs
from stacks.exit_codes import Exit

#: The shop's Rollout (components/shop/component.py: named after the app, in the shop's namespace).
ROLLOUT = "shop"
HEALTHY, DEGRADED = "Healthy", "Degraded"
POLL_SECONDS = 10


@dataclass(frozen=True)
class Outcome:
    phase: str
    message: str
    image: str
    step: str
    """``current step/steps`` of a canary, empty otherwise."""

    @property
    def finished(self) -> bool:
        return self.phase in (HEALTHY, DEGRADED)


def outcome(rollout: Mapping[str, Any]) -> Outcome:
    """The release's phase as Argo Rollouts' own CLI computes it from the object."""
    status = rollout.get("status") or {}
    metadata = rollout.get("metadata") or {}
    observed = str(status.get("observedGeneration", ""))
    if observed.isdigit() and int(observed) < int(metadata.get("generation", 0)):
        phase, message = "Progressing", "waiting for rollout spec update to be observed"
    elif status.get("controllerPause") and not status.get("pauseConditions"):
        phase, message = "Progressing", "waiting for rollout to unpause"
    else:
        phase, message = status.get("phase") or "Progressing", status.get("message") or ""
    spec = rollout.get("spec") or {}
    steps = ((spec.get("strategy") or {}).get("canary") or {}).get("steps") or []
    step = f"{status.get('currentStepIndex', 0)}/{len(steps)}" if steps else ""
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or [{}]
    return Outcome(phase, message, containers[0].get("image", ""), step)


@dataclass(frozen=True)
class Cluster:
    name: str
    endpoint: str
    certificate_authority: str
    """PEM, as EKS returns it base64-encoded."""


def _aws_json(*arguments: str) -> Any:
    return json.loads(runner.run(["aws", *arguments, "--output", "json"], capture=True).stdout)


def describe_cluster(name: str) -> Cluster:
    found = _aws_json("eks", "describe-cluster", "--name", name)["cluster"]
    if not str(found["endpoint"]).startswith("https://"):
        raise ValueError(f"cluster {name} has no https endpoint: {found['endpoint']!r}")
    pem = base64.b64decode(found["certificateAuthority"]["data"]).decode()
    return Cluster(name, found["endpoint"], pem)


def read_rollout(cluster: Cluster, namespace: str) -> dict[str, Any]:
    """GET the Rollout with a fresh token (they last 15 minutes; a wait may take longer)."""
    token = _aws_json("eks", "get-token", "--cluster-name", cluster.name)["status"]["token"]
    url = f"{cluster.endpoint}/apis/argoproj.io/v1alpha1/namespaces/{namespace}/rollouts/{ROLLOUT}"
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - the endpoint is https (describe_cluster)
    context = ssl.create_default_context(cadata=cluster.certificate_authority)
    with urllib.request.urlopen(request, context=context, timeout=30) as response:  # noqa: S310 - as above
        return json.loads(response.read())


def wait(read: Callable[[], Mapping[str, Any]], timeout: float, sleep: Callable[[float], None] = time.sleep) -> Outcome:
    """Read until the release is healthy or degraded, or ``timeout`` seconds are over."""
    deadline = time.monotonic() + timeout
    current = outcome(read())
    while not current.finished and time.monotonic() < deadline:
        print(f"{current.phase}: {current.message or '...'}", flush=True)
        sleep(POLL_SECONDS)
        current = outcome(read())
    return current


def report(stack: str, current: Outcome) -> int:
    where = f" at step {current.step}" if current.step else ""
    line = f"**{stack}** release of `{current.image}`: {current.phase}{where}. {current.message}".rstrip()
    runner.add_summary(line)
    runner.set_output("rollout-phase", current.phase)
    if current.phase == HEALTHY:
        return Exit.OK
    watch = f"kubectl argo rollouts get rollout {ROLLOUT} --namespace <namespace> (docs/releases.md)"
    if current.phase == DEGRADED:
        runner.error(
            f"{stack}: the release was aborted ({current.message}); the stable version still serves. {watch}",
            title="Release aborted",
        )
    else:
        runner.error(f"{stack}: the release is still {current.phase}{where}: {watch}", title="Release unfinished")
    return Exit.FAILED


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ci.rollout", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("stack")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for a finished release")
    args = parser.parse_args(argv)
    cluster = stack_outputs(args.stack).get("cluster") or {}
    if not isinstance(cluster, dict) or not cluster.get("name"):
        runner.error(f"{args.stack} has no cluster output: nothing to check", title="Release")
        return Exit.FAILED
    target = describe_cluster(str(cluster["name"]))
    namespace = str(cluster.get("shopNamespace") or "shop")
    return report(args.stack, wait(lambda: read_rollout(target, namespace), args.timeout))


if __name__ == "__main__":
    sys.exit(main())
