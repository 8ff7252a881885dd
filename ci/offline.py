"""Offline plans, rendered manifests and policy verdicts of every stack, what a change does to each, and a Markdown
summary of them (the job summary and the pull request comment).

    python -m ci.offline plan    --out DIR [--against REV | --base-branch BRANCH] [STACK ...]
    python -m ci.offline policy  --out DIR [STACK ...]   # DIR/<stack>/policy.txt and policy.json (exit code)
    python -m ci.offline summary --out DIR [--comment FILE]

``plan`` writes DIR/<stack>/plan.json, preview.txt and manifests/; with a base (``--against REV``, or
``--base-branch BRANCH``: the pull request's merge base, ``git merge-base origin/BRANCH HEAD``) also
DIR/<stack>/changes.json, the change since that base (``python -m stacks preview STACK --against``, schema in
docs/reviewing.md), and DIR/<stack>/cost.json, its monthly cost estimate (with a base: and what the change adds,
``python -m stacks cost STACK --against``, docs/cost.md). Each stack is evaluated by the same command lines reviewers
run, in their own processes. ``plan``
and ``policy`` exit non-zero when any stack fails; ``summary`` reports what the others left, so it runs after a
failure too (the job summary and the pull request comment show why).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ci import runner
from ci.pr_comment import COMMENT_MARKER, MAX_BODY
from stacks.exit_codes import Exit
from stacks.offline.changes import ChangeSet, difference_line, summary_line, warning_lines
from stacks.offline.cost import money, signed
from stacks.offline.engine import PROJECT_DIR, stack_names

#: The policy run's closing count, e.g. "1 mandatory, 14 advisory violation(s)".
_VIOLATION_COUNTS = re.compile(r"\d+ mandatory, \d+ advisory violations?(?:\(s\))?")
#: How much of a policy run's output the summary quotes for a stack with no change to show (the violations come
#: last); with a change, only the violations it introduces or resolves are shown.
POLICY_TAIL_LINES = 60
#: How wide the diff lines of the comment are (values beyond are elided; the JSON artifact has them whole).
COMMENT_WIDTH = 160
#: How many resources the cost table names per stack (the largest changes; the artifact has them all).
COST_CHANGES_SHOWN = 3
#: A code block fence no rendered value contains (values are JSON on one line).
FENCE = "````"


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
    def changes(self) -> Path:
        return self.root / "changes.json"

    @property
    def cost(self) -> Path:
        return self.root / "cost.json"

    @property
    def cost_output(self) -> Path:
        return self.root / "cost.txt"

    @property
    def policy_output(self) -> Path:
        return self.root / "policy.txt"

    @property
    def policy_status(self) -> Path:
        return self.root / "policy.json"


def _stacks_command(command: str, stack: str, options: list[str], transcript: Path) -> int:
    """Run ``python -m stacks COMMAND STACK`` (the offline preview, the cost estimate), echo its output and keep it in
    ``transcript``; the exit code."""
    transcript.parent.mkdir(parents=True, exist_ok=True)
    result = runner.run([sys.executable, "-m", "stacks", command, stack, *options], capture=True, check=False)
    output = result.stdout + result.stderr
    transcript.write_text(output)
    print(output, end="")
    return result.returncode


# ---------------------------------------------------------------------------------------------- the base


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    command = ["git", "-C", str(PROJECT_DIR), *args]
    return subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 - git, fixed arguments


def merge_base(branch: str) -> str:
    """The commit the pull request into ``branch`` started from: ``git merge-base origin/<branch> HEAD``, fetching
    the branch when the checkout lacks it. Raises ValueError with the reason."""
    remote = f"origin/{branch}"
    if _git("rev-parse", "--verify", "--quiet", f"{remote}^{{commit}}").returncode != 0:
        fetched = _git("fetch", "--no-tags", "--quiet", "origin", f"+refs/heads/{branch}:refs/remotes/{remote}")
        if fetched.returncode != 0:
            raise ValueError(f"cannot fetch {remote}: {fetched.stderr.strip()}")
    found = _git("merge-base", remote, "HEAD")
    if found.returncode != 0:
        # A shallow checkout has no common history: the workflow checks out with fetch-depth: 0.
        raise ValueError(f"no merge base of {remote} and HEAD (a shallow clone?): {found.stderr.strip()}")
    return found.stdout.strip()


def resolve(revision: str) -> str:
    """The full sha of ``revision``. Raises ValueError when it names no commit."""
    found = _git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}")
    if found.returncode != 0:
        raise ValueError(f"--against {revision}: not a commit of this repository")
    return found.stdout.strip()


def plan(out: Path, stacks: list[str], against: str | None = None) -> int:
    failed = []
    for stack in stacks:
        files = StackFiles(out / stack)
        options = ["--json", str(files.plan), "--manifests", str(files.manifests)]
        base = ["--against", against] if against else []
        if against:
            options += [*base, "--diff-json", str(files.changes)]
        cost_options = [*base, "--json", str(files.cost)]
        if (
            _stacks_command("preview", stack, options, files.preview) != 0
            or _stacks_command("cost", stack, cost_options, files.cost_output) != 0
        ):
            failed.append(stack)
    if failed:
        runner.error(f"the offline preview or cost estimate failed for: {', '.join(failed)}", title="Offline plan")
    return Exit.FAILED if failed else Exit.OK


def policy(out: Path, stacks: list[str]) -> int:
    failed = []
    for stack in stacks:
        files = StackFiles(out / stack)
        exit_code = _stacks_command("preview", stack, ["--policy"], files.policy_output)
        files.policy_status.write_text(json.dumps({"stack": stack, "exit_code": exit_code}) + "\n")
        if exit_code != 0:
            failed.append(stack)
    if failed:
        runner.error(f"policy violations (or a failed policy run) in: {', '.join(failed)}", title="Policies")
    return Exit.FAILED if failed else Exit.OK


# ---------------------------------------------------------------------------------------------- summary


def stack_results(out: Path) -> list[StackFiles]:
    """The stacks that ``plan`` or ``policy`` left results for under ``out``."""
    candidates = sorted(StackFiles(path) for path in out.iterdir() if path.is_dir()) if out.is_dir() else []
    return [files for files in candidates if files.preview.is_file() or files.policy_output.is_file()]


def _policy_verdict(files: StackFiles) -> str:
    if not files.policy_status.is_file():
        return "not run"
    exit_code = json.loads(files.policy_status.read_text())["exit_code"]
    verdict = "✅ passed" if exit_code == 0 else f"❌ failed (exit code {exit_code})"
    counts = _VIOLATION_COUNTS.findall(files.policy_output.read_text()) if files.policy_output.is_file() else []
    return f"{verdict}: {counts[-1]}" if counts else verdict


def _change_set(files: StackFiles) -> tuple[ChangeSet, dict[str, Any]] | None:
    if not files.changes.is_file():
        return None
    document = json.loads(files.changes.read_text())
    return ChangeSet.from_json(document), document.get("policy") or {"new": [], "resolved": []}


def _row(files: StackFiles) -> str:
    if not files.plan.is_file():
        return f"| `{files.stack}` | ❌ no plan (the preview failed) | - | - | {_policy_verdict(files)} |"
    # The one resource count: every resource the stack registers (as the preview's summary and the README count).
    resources = len(json.loads(files.plan.read_text())["resources"])
    found = _change_set(files)
    change = summary_line(found[0].counts()) if found else "-"
    manifests = len(list(files.manifests.glob("*.yaml"))) if files.manifests.is_dir() else 0
    return f"| `{files.stack}` | {resources} | {change} | {manifests} | {_policy_verdict(files)} |"


def _cost_lines(stacks: list[StackFiles]) -> list[str]:
    """Each stack's monthly cost estimate, and what the change adds or removes (docs/cost.md)."""
    estimates = [(files.stack, json.loads(files.cost.read_text())) for files in stacks if files.cost.is_file()]
    if not estimates:
        return []
    lines = [
        "| Stack | Monthly cost (USD, on-demand) | This change | Largest changes |",
        "| --- | ---: | ---: | --- |",
    ]
    for stack, estimate in estimates:
        monthly = estimate["monthly"]
        against = estimate.get("against")
        change = signed(against["delta"]["total"]) if against else "-"
        total = f"{money(monthly['total'])} (fixed {money(monthly['fixed'])}, usage {money(monthly['usage'])})"
        lines.append(f"| `{stack}` | {total} | {change} | {_largest_cost_changes(against)} |")
    price_date = estimates[0][1]["priceDate"]
    return [*lines, "", f"_Prices of {price_date}, usage from each stack's `cost*` settings: docs/cost.md._", ""]


def _largest_cost_changes(against: dict[str, Any] | None, count: int = COST_CHANGES_SHOWN) -> str:
    """The resources whose monthly cost the change moves most, e.g. ``database-postgres +$27.36``."""
    if not against:
        return "-"
    changed = sorted(against["resources"], key=lambda change: -abs(change["delta"]))
    shown = [f"`{change['urn'].rsplit('::', 1)[-1]}` {signed(change['delta'])}" for change in changed[:count]]
    more = [f"{len(changed) - count} more"] if len(changed) > count else []
    return ", ".join([*shown, *more]) or "-"


def _config_keys(message: str) -> list[str]:
    """The stack settings a policy message names (``shop-platform:dbMultiAz`` or a camelCase ``dbMultiAz``)."""
    project = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text()) or {}
    found = []
    for key in project.get("config") or {}:
        full = key if ":" in key else f"{project['name']}:{key}"
        bare = full.split(":")[-1]
        if re.search(rf"(?<![\w-]){re.escape(full)}\b", message) or (
            bare != bare.lower() and re.search(rf"(?<![\w:-]){re.escape(bare)}\b", message)
        ):
            found.append(full)
    return found


def _resource(urn: str) -> str:
    if not urn:
        return "the stack"
    parts = urn.split("::")
    return f"{parts[2].split('$')[-1]}: {parts[3]}"


def _policy_lines(title: str, violations: list[dict[str, Any]]) -> list[str]:
    """Mandatory violations one by one; advisories grouped by rule, with the settings their messages name."""
    if not violations:
        return []
    lines = [f"**{title} ({len(violations)}):**", ""]
    advisories: dict[str, list[dict[str, Any]]] = {}
    for violation in violations:
        if violation["enforcement"] == "mandatory":
            message = violation["message"].splitlines()[0] if violation["message"] else ""
            lines.append(f"- ❌ mandatory `{violation['policy']}` ({_resource(violation['urn'])}): {message}")
        else:
            advisories.setdefault(violation["policy"], []).append(violation)
    for rule, found in advisories.items():
        names = ", ".join(sorted({_resource(v["urn"]) for v in found}))
        message = found[0]["message"].splitlines()[0] if found[0]["message"] else ""
        keys = sorted({key for v in found for key in _config_keys(v["message"])})
        setting = f" Setting: {', '.join(f'`{key}`' for key in keys)}." if keys else ""
        lines.append(f"- ⚠️ advisory `{rule}` ({len(found)}: {names}): {message}{setting}")
    return [*lines, ""]


@dataclass
class _Section:
    """One stack's part of the summary: what always shows, and the changed resources (cut to fit when needed)."""

    head: list[str]
    details: list[str]
    count: int


def _stack_section(files: StackFiles) -> _Section | None:
    found = _change_set(files)
    if found is None:
        if not files.policy_output.is_file():
            return None
        tail = files.policy_output.read_text().splitlines()[-POLICY_TAIL_LINES:]
        head = [f"<details><summary>Policy run of <code>{files.stack}</code></summary>", ""]
        return _Section([*head, FENCE + "text", *tail, FENCE, "</details>", ""], [], 0)
    change_set, policy_delta = found
    head = [f"#### `{files.stack}`: {summary_line(change_set.counts())}", ""]
    if change_set.warnings:
        head += [
            "**⚠️ This change replaces, deletes or moves resources that hold data or are protected:**",
            "",
            FENCE + "text",
        ]
        for change in change_set.warnings:
            head += warning_lines(change, change_set.stack)
        head += [FENCE, ""]
    head += _policy_lines("Policy violations this change introduces", policy_delta["new"])
    head += _policy_lines("Policy violations this change resolves", policy_delta["resolved"])
    details = []
    for change in change_set.changes:
        keys = f"  [diff: {', '.join(change.replace_keys)}]" if change.replace_keys else ""
        details.append(f"{change.marker:<3}{change.short_type}  {change.name}  {change.op}{keys}")
        details += [f"      {difference_line(diff, COMMENT_WIDTH - 6)}" for diff in change.diffs]
    return _Section(head, details, len(change_set.changes))


def _details(section: _Section, lines: list[str], pointer: str) -> list[str]:
    if not section.details:
        return []
    cut = len(section.details) - len(lines)
    more = [f"… {cut} more lines: the whole change is in {pointer}"] if cut else []
    summary = f"{section.count} changed resource{'s' if section.count != 1 else ''}"
    return [f"<details><summary>{summary}</summary>", "", FENCE + "diff", *lines, FENCE, *more, "</details>", ""]


def artifacts_pointer(out: Path) -> str:
    """Where this run's artifacts are: the GitHub Actions run page, the Jenkins build's artifacts, or ``out``."""
    if os.environ.get("GITHUB_RUN_ID") and os.environ.get("GITHUB_REPOSITORY"):
        server = os.environ.get("GITHUB_SERVER_URL", "https://github.com")
        run = f"{server}/{os.environ['GITHUB_REPOSITORY']}/actions/runs/{os.environ['GITHUB_RUN_ID']}"
        return f"the run's `offline-plan` artifact ({run})"
    if os.environ.get("BUILD_URL"):
        return f"the build's artifacts ({os.environ['BUILD_URL'].rstrip('/')}/artifact/{out}/)"
    return f"`{out}/<stack>/changes.json`"


def _fit(lines: list[str], budget: int) -> list[str]:
    """The first of ``lines`` that fit in ``budget`` characters (joined by newlines)."""
    kept, used = [], 0
    for line in lines:
        if used + len(line) + 1 > budget:
            break
        kept.append(line)
        used += len(line) + 1
    return kept


def summary_markdown(out: Path, *, limit: int = MAX_BODY) -> str:
    """The results under ``out`` as Markdown of at most ``limit`` characters: a table row per stack, then per stack
    what the change does (its summary line, the warning block, the policy violations it introduces or resolves, the
    changed resources with their diffs in a collapsed section, cut to fit with a pointer to the artifacts)."""
    stacks = stack_results(out)
    lines = ["### Offline plan and policies", ""]
    if not stacks:
        return "\n".join([*lines, f"No results under `{out}`: the offline plan did not run."])
    base_file = out / "base.json"
    if base_file.is_file():
        base = json.loads(base_file.read_text())
        if base.get("error"):
            lines += [f"⚠️ What this change does was not computed: {base['error']}", ""]
        else:
            lines += [f"Changes against `{base['label']}` (`{base['sha'][:12]}`), computed offline.", ""]
    lines += [
        "| Stack | Resources | Change | Kubernetes manifests | Policies |",
        "| --- | ---: | --- | ---: | --- |",
        *(_row(files) for files in stacks),
        "",
        *_cost_lines(stacks),
    ]
    sections = [section for section in map(_stack_section, stacks) if section is not None]
    pointer = artifacts_pointer(out)
    fixed = "\n".join([*lines, *(line for section in sections for line in section.head)])
    whole = [_details(section, section.details, pointer) for section in sections]
    room = limit - len(fixed) - sum(len("\n".join(block)) + 2 for block in whole)
    if room < 0:  # each stack's changed resources get an equal share of what is left, with the pointer
        overhead = 300
        share = max((limit - len(fixed)) // max(len(sections), 1) - overhead, 0)
        whole = [_details(section, _fit(section.details, share), pointer) for section in sections]
    for section, block in zip(sections, whole, strict=True):
        lines += [*section.head, *block]
    markdown = "\n".join(lines)
    if len(markdown) > limit:  # the warning blocks and policy lists alone are too long: cut them, say where
        note = f"\n\n_(cut to fit a comment: the rest is in {pointer})_"
        kept = _fit(markdown.splitlines(), limit - len(note) - len(FENCE) - len("</details>") - 2)
        if sum(line.startswith(FENCE) for line in kept) % 2:
            kept.append(FENCE)
        if sum(line.startswith("<details>") for line in kept) > kept.count("</details>"):
            kept.append("</details>")
        markdown = "\n".join(kept) + note
    return markdown


def summary(out: Path, comment: Path | None) -> int:
    note = "_Computed offline: no cloud credentials (pull requests from forks get none). Plans: the run's artifacts._"
    markdown = summary_markdown(out, limit=MAX_BODY - len(COMMENT_MARKER) - len(note) - 4)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.md").write_text(markdown + "\n")
    runner.add_summary(markdown)
    if comment is not None:
        comment.write_text(f"{COMMENT_MARKER}\n{markdown}\n\n{note}\n")
    return Exit.OK


def _base(out: Path, against: str | None, branch: str | None) -> str | None:
    """The base revision to compare with (recorded in ``out/base.json`` for the summary), None without one."""
    if not (against or branch):
        return None
    out.mkdir(parents=True, exist_ok=True)
    try:
        sha = merge_base(branch) if branch else resolve(str(against))
    except ValueError as error:
        runner.error(str(error), title="Offline plan: the pull request's base")
        (out / "base.json").write_text(json.dumps({"error": str(error)}) + "\n")
        return None
    label = f"the merge base with {branch}" if branch else str(against)
    (out / "base.json").write_text(json.dumps({"label": label, "sha": sha}) + "\n")
    return sha


def _stacks(requested: Iterable[str]) -> list[str]:
    return list(requested) or stack_names()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ci.offline", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("command", choices=("plan", "policy", "summary"))
    parser.add_argument("stacks", nargs="*", help="stacks to evaluate (default: every Pulumi.<stack>.yaml)")
    parser.add_argument("--out", type=Path, required=True, help="artifacts directory")
    parser.add_argument("--comment", type=Path, help="summary: also write it as a pull request comment")
    base = parser.add_mutually_exclusive_group()
    base.add_argument("--against", metavar="REV", help="plan: also what changed since git revision REV")
    base.add_argument("--base-branch", metavar="BRANCH", help="plan: also what changed since the merge base")
    args = parser.parse_intermixed_args(argv)
    if args.command == "plan":
        against = _base(args.out, args.against, args.base_branch)
        failed_base = (args.against or args.base_branch) and against is None
        result = plan(args.out, _stacks(args.stacks), against)
        return Exit.BAD_INPUT if failed_base else result
    if args.command == "policy":
        return policy(args.out, _stacks(args.stacks))
    return summary(args.out, args.comment)


if __name__ == "__main__":
    sys.exit(main())
