"""What a reviewer approves: the commit, the image digest and what changed since the environment's last release.

    python -m ci.approval --environment production --image REPO:TAG@sha256:...

Run by a job between the staging deploy and the ``production`` environment's approval, whose prompt has no room
for text: the summary goes to the run's page, beside the "Review deployments" button. The last release is the
newest deployment of the environment that GitHub marked successful (the deploy job passed its smoke test and alarm
gate). A commit that does not descend from it fails this job, so no approval is ever asked for a downgrade
(``make deploy`` refuses one too, against the release record: ci/release.py). Uses ``GITHUB_TOKEN``,
``GITHUB_REPOSITORY`` and ``GITHUB_API_URL``; standard library only (no virtual environment), so its exit codes are
stacks/exit_codes.py's as numbers.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from urllib.parse import quote

from ci import runner
from ci.pr_comment import GitHub
from stacks.exit_codes import Exit

#: Deployments looked at for the newest successful one (GitHub lists them newest first).
DEPLOYMENTS_SEARCHED = 30
#: Commits listed in the summary; the rest is counted.
COMMITS_LISTED = 50
#: An image pinned by digest (ci/image.py parses references fully; this module keeps to the standard library).
PINNED_IMAGE = re.compile(r"(?P<repository>[^\s@]+?)(?::[\w][\w.-]{0,127})?@(?P<digest>sha256:[0-9a-f]{64})")


def last_release(github: GitHub, environment: str) -> str | None:
    """The commit of the environment's newest successful deployment."""
    deployments = github.call("GET", f"/deployments?environment={quote(environment)}&per_page={DEPLOYMENTS_SEARCHED}")
    for deployment in deployments:
        statuses = github.call("GET", f"/deployments/{int(deployment['id'])}/statuses?per_page=1")
        if statuses and statuses[0]["state"] == "success":
            return str(deployment["sha"])
    return None


def _git(*arguments: str) -> str:
    return runner.run(["git", *arguments], capture=True).stdout.strip()


def summary(environment: str, image: re.Match[str], commit: str, released: str | None) -> str:
    subject = _git("log", "-1", "--format=%s", commit)
    lines = [
        f"### Approving `{environment}`",
        "",
        "| | |",
        "| --- | --- |",
        f"| Commit | `{commit}` {subject} |",
        f"| Image | `{image['repository']}` digest `{image['digest']}` |",
        f"| {environment} runs | `{released}` |" if released else f"| {environment} runs | nothing yet |",
    ]
    if released:
        log = _git("log", "--oneline", "--no-decorate", f"{released}..{commit}").splitlines()
        stat = _git("diff", "--shortstat", released, commit)
        lines += ["", f"**{len(log)} commits since** ({stat or 'no file changes'}):", "", "```"]
        lines += log[:COMMITS_LISTED] + (
            [f"... and {len(log) - COMMITS_LISTED} more"] if len(log) > COMMITS_LISTED else []
        )
        lines += ["```"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ci.approval", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--environment", required=True)
    parser.add_argument("--image", required=True)
    args = parser.parse_args(argv)
    image = PINNED_IMAGE.fullmatch(args.image)
    if image is None:
        runner.error(f"{args.image!r} is not an image pinned by digest (REPO[:TAG]@sha256:...)", title="Image")
        return Exit.BAD_INPUT
    github = GitHub(
        os.environ.get("GITHUB_API_URL", "https://api.github.com"),
        os.environ["GITHUB_TOKEN"],
        os.environ["GITHUB_REPOSITORY"],
    )
    released = last_release(github, args.environment)
    commit = _git("rev-parse", "HEAD")
    if released:
        ancestry = runner.run(["git", "merge-base", "--is-ancestor", released, commit], capture=True, check=False)
        if ancestry.returncode != 0:
            runner.error(
                f"{commit} does not descend from {released}, which {args.environment} runs: not asking for an approval "
                "of a downgrade (an old run re-run?)",
                title="Release refused",
            )
            return Exit.FAILED
    text = summary(args.environment, image, commit, released)
    print(text)
    runner.add_summary(text)
    return Exit.OK


if __name__ == "__main__":
    sys.exit(main())
