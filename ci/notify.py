"""Tell the team how a pipeline run ended, through a chat incoming webhook.

    python -m ci.notify --status success|failure|rolled-back [--message TEXT]

The webhook URL is a secret: ``NOTIFY_WEBHOOK_URL`` (a Jenkins credential, or the GitHub ``notify``
environment's). The payload is ``{"text": ...}``, which Slack, Mattermost, Rocket.Chat and Google Chat incoming
webhooks accept. Without a URL the message is only printed. A failed notification is reported but never fails the
run it reports on (exit 0). Standard library only: it runs where no virtual environment was made.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request

from ci import runner
from stacks.exit_codes import Exit

STATUS_ICONS = {"success": "✅", "failure": "❌", "rolled-back": "⏪"}


def run_link() -> str:
    """Where the run can be seen: the Jenkins build or the GitHub Actions run."""
    if os.environ.get("BUILD_URL"):
        return os.environ["BUILD_URL"]
    names = ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    server, repository, run_id = (os.environ.get(name, "") for name in names)
    return f"{server}/{repository}/actions/runs/{run_id}" if server and repository and run_id else ""


def message_text(status: str, message: str) -> str:
    text = f"{STATUS_ICONS[status]} shop-platform pipeline: {status}"
    text += f" — {message}" if message else ""
    link = run_link()
    return f"{text}\n{link}" if link else text


def send(url: str, text: str, timeout: float = 10) -> bool:
    if not url.startswith("https://"):
        runner.error("NOTIFY_WEBHOOK_URL must be an https:// URL; notification not sent", title="Notify")
        return False
    request = urllib.request.Request(  # noqa: S310 - https only, checked above
        url, data=json.dumps({"text": text}).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return 200 <= response.status < 300
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        runner.error(f"the webhook did not take the notification: {error}", title="Notify")
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ci.notify", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--status", required=True, choices=sorted(STATUS_ICONS))
    parser.add_argument("--message", default="")
    args = parser.parse_args(argv)
    text = message_text(args.status, args.message)
    print(text)
    url = os.environ.get("NOTIFY_WEBHOOK_URL", "")
    if url:
        send(url, text)
    return Exit.OK  # a failed notification never fails the run it reports on


if __name__ == "__main__":
    sys.exit(main())
