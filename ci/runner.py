"""Where a pipeline step runs: GitHub Actions, or any shell (Jenkins, a laptop).

On GitHub Actions, step outputs, the job summary and error annotations go where the runner reads them
(``$GITHUB_OUTPUT``, ``$GITHUB_STEP_SUMMARY``, ``::error::``); elsewhere they are printed, so a Jenkins log
shows the same information.
"""

from __future__ import annotations

import os
import secrets
import shlex
import subprocess
import sys
from pathlib import Path


def run_id() -> str:
    """This pipeline run: the GitHub Actions run and attempt, or the Jenkins build ("" when run by hand)."""
    if os.environ.get("GITHUB_RUN_ID"):
        return f"github-{os.environ['GITHUB_RUN_ID']}-{os.environ.get('GITHUB_RUN_ATTEMPT', '1')}"
    return os.environ.get("BUILD_TAG", "")


def _append(variable: str, text: str) -> bool:
    target = os.environ.get(variable)
    if not target:
        return False
    with Path(target).open("a", encoding="utf-8") as file:
        file.write(text)
    return True


def set_output(name: str, value: str) -> None:
    """A step output (GitHub Actions) or a ``name=value`` line (elsewhere)."""
    # A random delimiter, so a value can span lines without being able to end the block early.
    delimiter = f"EOF_{secrets.token_hex(8)}"
    if not _append("GITHUB_OUTPUT", f"{name}<<{delimiter}\n{value}\n{delimiter}\n"):
        print(f"{name}={value}")


def add_summary(markdown: str) -> None:
    """Markdown for the job summary page (GitHub Actions) or the log (elsewhere)."""
    if not _append("GITHUB_STEP_SUMMARY", markdown.rstrip("\n") + "\n\n"):
        print(markdown)


def _escape(message: str) -> str:
    # Workflow command values must escape these, or a newline would end the annotation.
    return message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def error(message: str, *, title: str = "") -> None:
    """An error that stands out: an annotation on the run (GitHub Actions) or an ERROR line (elsewhere)."""
    if os.environ.get("GITHUB_ACTIONS") == "true":
        heading = f" title={_escape(title)}" if title else ""
        print(f"::error{heading}::{_escape(message)}", flush=True)
    else:
        print(f"ERROR: {title + ': ' if title else ''}{message}", file=sys.stderr, flush=True)


def run(
    command: list[str], *, capture: bool = False, check: bool = True, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command with its command line shown first, as CI logs need; secrets go through ``stdin``."""
    print(f"$ {shlex.join(command)}", flush=True)
    return subprocess.run(command, check=check, text=True, capture_output=capture, input=stdin)  # noqa: S603
