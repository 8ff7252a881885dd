"""Post (or update) the offline plan comment on a pull request, from a privileged ``workflow_run`` job.

    python -m ci.pr_comment --repo OWNER/NAME --pr N --head-sha SHA --body-file FILE

Pull requests from forks get no cloud credentials and a read-only token, so their offline plan is computed in
the unprivileged run and posted here by a job that runs no pull request code. Everything it gets from that run
is untrusted: the pull request number must be a number whose head commit is the one that run built (so an
artifact cannot steer the comment to another pull request), and the body is only ever posted as text.
Uses ``GITHUB_TOKEN`` and ``GITHUB_API_URL``; needs only the standard library (no virtual environment).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.request
from pathlib import Path
from typing import Any

from ci import runner

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
    parser.add_argument("--body-file", type=Path, required=True)
    args = parser.parse_args(argv)
    if not args.pr.strip().isdigit():
        runner.error(f"not a pull request number: {args.pr[:40]!r}", title="PR comment")
        return 2
    github = GitHub(os.environ.get("GITHUB_API_URL", "https://api.github.com"), os.environ["GITHUB_TOKEN"], args.repo)
    print(post(github, int(args.pr), args.head_sha, args.body_file.read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
