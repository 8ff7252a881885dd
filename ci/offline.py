"""Offline plans, rendered manifests and policy verdicts of every stack, and a Markdown summary of them.

    python -m ci.offline plan    --out DIR [STACK ...]   # DIR/<stack>/plan.json, preview.txt, manifests/
    python -m ci.offline policy  --out DIR [STACK ...]   # DIR/<stack>/policy.txt and policy.json (exit code)
    python -m ci.offline summary --out DIR [--comment FILE]

Each stack is evaluated by the same command line reviewers run (``python -m stacks preview``), in its own
process. ``plan`` and ``policy`` exit non-zero when any stack fails; ``summary`` reports what the others left,
so it runs after a failure too (the job summary and the pull request comment show why).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from ci import runner
from ci.pr_comment import COMMENT_MARKER
from stacks.offline.engine import stack_names

#: How much of a policy run's output the summary quotes (the violations come last).
POLICY_TAIL_LINES = 60
#: The policy run's closing count, e.g. "1 mandatory, 14 advisory violation(s)".
_VIOLATION_COUNTS = re.compile(r"\d+ mandatory, \d+ advisory violations?(?:\(s\))?")


@dataclass(frozen=True, order=True)
class StackFiles:
    """Where one stack's results live under the artifacts directory."""

    root: Path

    @property
    def stack(self) -> str:
        return self.root.name

    @property
    def plan(self) -> Path:
        return self.root / "plan.json"

    @property
    def preview(self) -> Path:
        return self.root / "preview.txt"

    @property
    def manifests(self) -> Path:
        return self.root / "manifests"

    @property
    def policy_output(self) -> Path:
        return self.root / "policy.txt"

    @property
    def policy_status(self) -> Path:
        return self.root / "policy.json"


def _preview(stack: str, options: list[str], transcript: Path) -> int:
    """Run the offline preview of ``stack``, echo its output and keep it in ``transcript``; the exit code."""
    transcript.parent.mkdir(parents=True, exist_ok=True)
    result = runner.run([sys.executable, "-m", "stacks", "preview", stack, *options], capture=True, check=False)
    output = result.stdout + result.stderr
    transcript.write_text(output)
    print(output, end="")
    return result.returncode


def plan(out: Path, stacks: list[str]) -> int:
    failed = []
    for stack in stacks:
        files = StackFiles(out / stack)
        options = ["--json", str(files.plan), "--manifests", str(files.manifests)]
        if _preview(stack, options, files.preview) != 0:
            failed.append(stack)
    if failed:
        runner.error(f"the offline preview failed for: {', '.join(failed)}", title="Offline plan")
    return 1 if failed else 0


def policy(out: Path, stacks: list[str]) -> int:
    failed = []
    for stack in stacks:
        files = StackFiles(out / stack)
        exit_code = _preview(stack, ["--policy"], files.policy_output)
        files.policy_status.write_text(json.dumps({"stack": stack, "exit_code": exit_code}) + "\n")
        if exit_code != 0:
            failed.append(stack)
    if failed:
        runner.error(f"policy violations (or a failed policy run) in: {', '.join(failed)}", title="Policies")
    return 1 if failed else 0


def _policy_verdict(files: StackFiles) -> str:
    if not files.policy_status.is_file():
        return "not run"
    exit_code = json.loads(files.policy_status.read_text())["exit_code"]
    verdict = "✅ passed" if exit_code == 0 else f"❌ failed (exit code {exit_code})"
    counts = _VIOLATION_COUNTS.findall(files.policy_output.read_text()) if files.policy_output.is_file() else []
    return f"{verdict}: {counts[-1]}" if counts else verdict


def _plan_cells(files: StackFiles) -> tuple[str, str]:
    """(resources, Kubernetes manifests) for the summary table."""
    if not files.plan.is_file():
        return "❌ no plan (the preview failed)", "-"
    resources = json.loads(files.plan.read_text())["resources"]
    custom = sum(1 for resource in resources if resource["custom"])
    manifests = len(list(files.manifests.glob("*.yaml"))) if files.manifests.is_dir() else 0
    return f"{custom} resources in {len(resources) - custom} components", str(manifests)


def stack_results(out: Path) -> list[StackFiles]:
    """The stacks that ``plan`` or ``policy`` left results for under ``out``."""
    candidates = sorted(StackFiles(path) for path in out.iterdir() if path.is_dir()) if out.is_dir() else []
    return [files for files in candidates if files.preview.is_file() or files.policy_output.is_file()]


def summary_markdown(out: Path) -> str:
    """The results under ``out`` as Markdown: one table row per stack, then each policy run's last lines."""
    stacks = stack_results(out)
    lines = ["### Offline plan and policies", ""]
    if not stacks:
        return "\n".join([*lines, f"No results under `{out}`: the offline plan did not run."])
    lines += ["| Stack | Plan | Kubernetes manifests | Policies |", "| --- | --- | --- | --- |"]
    for files in stacks:
        resources, manifests = _plan_cells(files)
        lines.append(f"| `{files.stack}` | {resources} | {manifests} | {_policy_verdict(files)} |")
    for files in stacks:
        if files.policy_output.is_file():
            tail = files.policy_output.read_text().splitlines()[-POLICY_TAIL_LINES:]
            lines += ["", f"<details><summary>Policy run of <code>{files.stack}</code></summary>", ""]
            lines += ["```text", *tail, "```", "</details>"]
    return "\n".join(lines)


def summary(out: Path, comment: Path | None) -> int:
    markdown = summary_markdown(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.md").write_text(markdown + "\n")
    runner.add_summary(markdown)
    if comment is not None:
        note = "_Computed offline: pull requests from forks get no cloud credentials. Plans: the run's artifacts._"
        comment.write_text(f"{COMMENT_MARKER}\n{markdown}\n\n{note}\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ci.offline", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("command", choices=("plan", "policy", "summary"))
    parser.add_argument("stacks", nargs="*", help="stacks to evaluate (default: every Pulumi.<stack>.yaml)")
    parser.add_argument("--out", type=Path, required=True, help="artifacts directory")
    parser.add_argument("--comment", type=Path, help="summary: also write it as a pull request comment")
    args = parser.parse_args(argv)
    stacks = args.stacks or stack_names()
    if args.command == "plan":
        return plan(args.out, stacks)
    if args.command == "policy":
        return policy(args.out, stacks)
    return summary(args.out, args.comment)


if __name__ == "__main__":
    sys.exit(main())
