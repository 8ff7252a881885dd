"""Benchmark: the cost estimate of each stack against a single offline preview of it.

    .venv/bin/python bench/cost.py [--runs N] [STACK ...]

Both are timed as fresh processes (``python -m stacks preview STACK --json FILE`` and ``python -m stacks cost
STACK --json FILE``) in the same run, interleaved, N times each; the table shows medians. Target: the estimate takes
at most 1.2x the preview (it is one preview, the stack's settings once more, and arithmetic).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
TARGET_RATIO = 1.2


def run(command: list[str]) -> float:
    """Wall seconds of one fresh process."""
    start = time.perf_counter()
    finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if finished.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {finished.stderr}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("stacks", nargs="*", default=["staging", "prod"])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp())
    print(f"{'stack':<9}{'preview s':>11}{'cost s':>9}{'ratio':>8}  target <= {TARGET_RATIO}")
    within = True
    for stack in args.stacks:
        preview_command = [PYTHON, "-m", "stacks", "preview", stack, "--json", str(scratch / f"{stack}.plan.json")]
        cost_command = [PYTHON, "-m", "stacks", "cost", stack, "--json", str(scratch / f"{stack}.cost.json")]
        previews, costs = [], []
        for _ in range(args.runs):
            previews.append(run(preview_command))
            costs.append(run(cost_command))
        preview, cost = statistics.median(previews), statistics.median(costs)
        within = within and cost <= TARGET_RATIO * preview
        print(f"{stack:<9}{preview:>11.2f}{cost:>9.2f}{cost / preview:>8.2f}")
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
