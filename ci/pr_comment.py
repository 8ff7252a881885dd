"""Post (or update) the offline plan comment on a pull request, from a privileged ``workflow_run`` job.

    python -m ci.pr_comment --repo OWNER/NAME --pr N --head-sha SHA --facts-file JSON --body-file FILE

Pull requests from forks get no cloud credentials and a read-only token, so their offline plan is computed in
the unprivileged run and posted here by a job that runs no pull request code. Everything it gets from that run
is untrusted: the pull request number must be a number whose head commit is the one that run built (so an
artifact cannot steer the comment to another pull request); the figures (``--facts-file``, ci/comment_facts.py)
are rendered by this code only after every field passed a strict check (types, ranges, enums, this repository's
stack names), and the run's own markdown (``--body-file``) is quoted as text in a code block, where it can neither
claim a verdict in this bot's voice nor mention anyone. Uses ``GITHUB_TOKEN`` and ``GITHUB_API_URL``; needs only
the standard library (no virtual environment).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import urllib.request
from pathlib import Path
from typing import Any

from ci import runner
from stacks.exit_codes import Exit

#: Marks the offline plan comment, so that a later run updates it instead of adding another.
COMMENT_MARKER = "<!-- shop-platform:offline-plan -->"
#: GitHub rejects comments over 65536 characters.
MAX_BODY = 60_000
BOT_LOGIN = "github-actions[bot]"


class GitHub:
    def __init__(self, api_url: str, token: str, repo: str) -> None:
        self.base = f"{api_url.rstrip('/')}/repos/{repo}"
        self.token = token

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(  # noqa: S310 - GITHUB_API_URL is https on GitHub
            self.base + path,
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": "shop-platform-ci",
            },
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return json.loads(response.read() or b"null")


class BadFacts(ValueError):
    """The figures file is not exactly what ci/comment_facts.py writes."""


#: The figures' fields, each with its check; ``None`` is allowed where the figure may be missing.
_COUNT_LIMIT = 1_000_000
CHANGE_KINDS = ("create", "update", "replace", "delete", "same")
POLICY_VERDICTS = {"passed": "✅ passed", "failed": "❌ failed", "not-run": "not run"}
_STACK_FIELDS = ("stack", "resources", "changes", "policy", "mandatory", "advisory", "monthly_usd", "delta_usd")


def _count(value: object, where: str, *, optional: bool = True) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _COUNT_LIMIT:
        raise BadFacts(f"{where}: not a count: {str(value)[:40]!r}")
    return value


def _amount(value: object, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or abs(value) >= 1e9:
        raise BadFacts(f"{where}: not an amount: {str(value)[:40]!r}")
    return float(value)


def checked_facts(document: object, stacks: set[str]) -> list[dict[str, Any]]:
    """The stacks' figures, each field checked; ``stacks`` are this repository's stack names."""
    if not isinstance(document, dict) or set(document) != {"version", "stacks"} or document["version"] != 1:
        raise BadFacts("not a version 1 figures document")
    entries = document["stacks"]
    if not isinstance(entries, list) or not 0 < len(entries) <= len(stacks):
        raise BadFacts("stacks: not a list of this repository's stacks")
    checked = []
    for entry in entries:
        if not isinstance(entry, dict) or set(entry) != set(_STACK_FIELDS):
            raise BadFacts("a stack's figures do not have exactly the expected fields")
        stack = entry["stack"]
        if stack not in stacks or stack in {e["stack"] for e in checked}:
            raise BadFacts(f"stack: not one of {sorted(stacks)} once: {str(stack)[:40]!r}")
        changes = entry["changes"]
        if changes is not None and (not isinstance(changes, dict) or set(changes) != set(CHANGE_KINDS)):
            raise BadFacts(f"{stack}: changes are not counts of {', '.join(CHANGE_KINDS)}")
        if entry["policy"] not in POLICY_VERDICTS:
            raise BadFacts(f"{stack}: policy is not one of {sorted(POLICY_VERDICTS)}")
        checked.append(
            {
                "stack": stack,
                "resources": _count(entry["resources"], f"{stack}.resources"),
                "changes": {k: _count(v, f"{stack}.changes.{k}", optional=False) for k, v in changes.items()}
                if changes is not None
                else None,
                "policy": entry["policy"],
                "mandatory": _count(entry["mandatory"], f"{stack}.mandatory"),
                "advisory": _count(entry["advisory"], f"{stack}.advisory"),
                "monthly_usd": _amount(entry["monthly_usd"], f"{stack}.monthly_usd"),
                "delta_usd": _amount(entry["delta_usd"], f"{stack}.delta_usd"),
            }
        )
    return checked


def quoted(text: str) -> str:
    """``text`` as a code block that nothing in it can close: rendered as text, no mention, no markup."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text.rstrip()}\n{fence}"


def _row(figures: dict[str, Any]) -> str:
    changes = figures["changes"]
    change = ", ".join(f"{changes[kind]} {kind}" for kind in CHANGE_KINDS) if changes else "-"
    policy = POLICY_VERDICTS[figures["policy"]]
    if figures["mandatory"] is not None:
        policy += f" ({figures['mandatory']} mandatory, {figures['advisory']} advisory)"
    resources = "no plan" if figures["resources"] is None else str(figures["resources"])
    monthly = "-" if figures["monthly_usd"] is None else f"{figures['monthly_usd']:,.2f}"
    delta = "-" if figures["delta_usd"] is None else f"{figures['delta_usd']:+,.2f}"
    return f"| `{figures['stack']}` | {resources} | {change} | {policy} | {monthly} | {delta} |"


def render(figures: list[dict[str, Any]], details: str) -> str:
    """The comment: the checked figures in this repository's words, then the run's own markdown, quoted."""
    lines = [
        COMMENT_MARKER,
        "### Offline plan of this pull request",
        "",
        "| Stack | Resources | Change | Policy pack | Monthly cost (USD) | This change |",
        "| --- | ---: | --- | --- | ---: | ---: |",
        *map(_row, figures),
        "",
        "<details><summary>The plan as the pull request's own run wrote it (unverified, quoted)</summary>",
        "",
    ]
    head = "\n".join(lines)
    room = MAX_BODY - len(head) - 200
    text = details if len(details) <= room else details[:room] + "\n(truncated: see the run's artifacts)"
    return f"{head}{quoted(text)}\n\n</details>\n"


def repository_stacks(root: Path = Path()) -> set[str]:
    """This repository's stacks (the default branch's checkout): their Pulumi.<stack>.yaml files."""
    return {path.name.removeprefix("Pulumi.").removesuffix(".yaml") for path in root.glob("Pulumi.*.yaml")}


def post(github: GitHub, pr: int, head_sha: str, body: str) -> str:
    """Create or update the marked comment; returns what it did."""
    pull = github.call("GET", f"/pulls/{pr}")
    if pull["head"]["sha"] != head_sha:
        raise SystemExit(f"pull request #{pr} is at {pull['head']['sha']}, not {head_sha}: not commenting")
    text = body if len(body) <= MAX_BODY else body[:MAX_BODY] + "\n\n_(truncated: see the run's artifacts)_"
    if not text.startswith(COMMENT_MARKER):
        text = f"{COMMENT_MARKER}\n{text}"
    comments = github.call("GET", f"/issues/{pr}/comments?per_page=100")
    ours = [c for c in comments if c["user"]["login"] == BOT_LOGIN and c["body"].startswith(COMMENT_MARKER)]
    if ours:
        github.call("PATCH", f"/issues/comments/{ours[0]['id']}", {"body": text})
        return f"updated comment {ours[0]['id']} on #{pr}"
    created = github.call("POST", f"/issues/{pr}/comments", {"body": text})
    return f"created comment {created['id']} on #{pr}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ci.pr_comment", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--repo", required=True)
    parser.add_argument("--pr", required=True, help="pull request number (untrusted: validated)")
    parser.add_argument("--head-sha", required=True, help="the commit the unprivileged run built")
    parser.add_argument("--facts-file", type=Path, required=True, help="the figures (untrusted: checked)")
    parser.add_argument("--body-file", type=Path, required=True, help="the run's markdown (untrusted: quoted)")
    args = parser.parse_args(argv)
    if not args.pr.strip().isdigit():
        runner.error(f"not a pull request number: {args.pr[:40]!r}", title="PR comment")
        return Exit.BAD_INPUT
    try:
        figures = checked_facts(json.loads(args.facts_file.read_text()), repository_stacks())
    except (BadFacts, json.JSONDecodeError, UnicodeDecodeError, OSError) as problem:
        runner.error(f"the figures of the pull request's run are not valid: {problem}", title="PR comment")
        return Exit.BAD_INPUT
    body = render(figures, args.body_file.read_text(errors="replace"))
    github = GitHub(os.environ.get("GITHUB_API_URL", "https://api.github.com"), os.environ["GITHUB_TOKEN"], args.repo)
    print(post(github, int(args.pr), args.head_sha, body))
    return Exit.OK


if __name__ == "__main__":
    sys.exit(main())
