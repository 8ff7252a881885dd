"""The offline plan's figures as strict JSON, for the comment a privileged job posts on a fork's pull request.

    python -m ci.comment_facts --out DIR --json FILE

Runs in the fork's unprivileged run after ``make plan``/``make policy``, beside ``make plan-summary``'s markdown. The
privileged job (ci/pr_comment.py) trusts neither: it renders the figures from this file only after checking every
field's type, range and enum, and quotes the markdown as text. Schema (``version`` 1)::

    {"version": 1, "stacks": [{"stack": "staging", "resources": 283 | null,
      "changes": {"create": 0, "update": 0, "replace": 0, "delete": 0, "same": 283} | null,
      "policy": "passed" | "failed" | "not-run", "mandatory": 0 | null, "advisory": 2 | null,
      "monthly_usd": 1234.5 | null, "delta_usd": 12.0 | null}]}
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from ci.offline import StackFiles, stack_results
from stacks.exit_codes import Exit
from stacks.offline.changes import ChangeSet

VERSION = 1
_COUNTS = re.compile(r"(\d+) mandatory, (\d+) advisory")


def _policy(files: StackFiles) -> dict[str, Any]:
    if not files.policy_status.is_file():
        return {"policy": "not-run", "mandatory": None, "advisory": None}
    exit_code = json.loads(files.policy_status.read_text())["exit_code"]
    counts = _COUNTS.findall(files.policy_output.read_text()) if files.policy_output.is_file() else []
    mandatory, advisory = (int(counts[-1][0]), int(counts[-1][1])) if counts else (None, None)
    return {"policy": "passed" if exit_code == 0 else "failed", "mandatory": mandatory, "advisory": advisory}


def _cost(files: StackFiles) -> dict[str, Any]:
    if not files.cost.is_file():
        return {"monthly_usd": None, "delta_usd": None}
    estimate = json.loads(files.cost.read_text())
    against = estimate.get("against")
    return {
        "monthly_usd": float(estimate["monthly"]["total"]),
        "delta_usd": float(against["delta"]["total"]) if against else None,
    }


def stack_facts(files: StackFiles) -> dict[str, Any]:
    planned = files.plan.is_file()
    changes = ChangeSet.from_json(json.loads(files.changes.read_text())).counts() if files.changes.is_file() else None
    return {
        "stack": files.stack,
        "resources": len(json.loads(files.plan.read_text())["resources"]) if planned else None,
        "changes": changes,
        **_policy(files),
        **_cost(files),
    }


def facts(out: Path) -> dict[str, Any]:
    return {"version": VERSION, "stacks": [stack_facts(files) for files in stack_results(out)]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ci.comment_facts", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("artifacts"))
    parser.add_argument("--json", type=Path, required=True)
    args = parser.parse_args(argv)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(facts(args.out), indent=2) + "\n")
    return Exit.OK


if __name__ == "__main__":
    sys.exit(main())
