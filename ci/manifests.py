"""Validate the rendered Kubernetes manifests of every stack against the schemas of its cluster's version.

    python -m ci.manifests DIR     # DIR as written by `python -m ci.offline plan --out DIR`

Each ``DIR/<stack>/manifests/*.yaml`` of a built-in kind is checked with ``kubernetes-validate --strict`` (unknown
fields are errors) for the Kubernetes version the stack's EKS cluster runs, read from ``DIR/<stack>/plan.json``. Its
warnings fail too: it only warns about a kind or API version it has no schema for, such as one the cluster's
version has removed. Custom resources (Argo Rollouts') are checked against the vendored CRDs of the pinned
controller version (ci/custom_resources.py), as strictly. A stack without manifests (nothing Kubernetes in it yet)
passes with a note; a stack whose plan is missing fails.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from ci import custom_resources, runner
from ci.offline import StackFiles, stack_results
from stacks.exit_codes import Exit

VALIDATOR = Path(sys.executable).with_name("kubernetes-validate")
CLUSTER_TYPE = "eks:index:Cluster"


def cluster_version(plan: dict) -> str | None:
    """The Kubernetes version (``1.33``) of the stack's EKS cluster, if the stack has one."""
    versions = [r["inputs"].get("version") for r in plan["resources"] if r["type"] == CLUSTER_TYPE]
    return next((v for v in versions if isinstance(v, str) and v), None)


def validate(files: StackFiles) -> Exit:
    manifests = sorted(files.manifests.glob("*.yaml")) if files.manifests.is_dir() else []
    if not files.plan.is_file():
        runner.error(f"{files.plan} is missing: run the offline plan first", title=f"Manifests of {files.stack}")
        return Exit.FAILED
    if not manifests:
        print(f"{files.stack}: no Kubernetes manifests in the plan, nothing to validate")
        return Exit.OK
    custom = {path: yaml.safe_load(path.read_text()) for path in manifests}
    custom = {path: manifest for path, manifest in custom.items() if custom_resources.is_custom(manifest)}
    built_in = [path for path in manifests if path not in custom]
    invalid = [problem for manifest in custom.values() for problem in custom_resources.problems(manifest)]
    for problem in invalid:
        print(problem)
    command = [str(VALIDATOR), "--strict", "--quiet"]
    version = cluster_version(json.loads(files.plan.read_text()))
    if version:
        command += ["--kubernetes-version", version]
    result = runner.run([*command, *map(str, built_in)], capture=True, check=False)
    output = result.stdout + result.stderr
    print(output, end="")
    warned = any(line.startswith("WARN") for line in output.splitlines())
    if result.returncode != 0 or warned or invalid:
        runner.error(f"{files.stack}: rendered manifests are not valid Kubernetes objects", title="Manifests")
        return Exit.FAILED
    print(
        f"{files.stack}: {len(built_in)} manifests valid for Kubernetes {version or '(validator default)'}, "
        f"{len(custom)} custom resources valid for their CRDs"
    )
    return Exit.OK


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ci.manifests", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("out", type=Path, help="artifacts directory of the offline plan")
    args = parser.parse_args(argv)
    stacks = stack_results(args.out)
    if not stacks:
        runner.error(f"no stack results under {args.out}: run the offline plan first", title="Manifests")
        return Exit.FAILED
    return max(validate(files) for files in stacks)


if __name__ == "__main__":
    sys.exit(main())
