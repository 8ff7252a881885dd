"""Benchmark: the offline preview of each stack against the floor of merely importing the SDK modules it uses; with
``--against REV``, the change preview (``python -m stacks preview STACK --against REV``) against a single preview.

    .venv/bin/python bench/preview.py [--runs N] [--against REV] [STACK ...]

Both are timed as fresh processes in the same run, interleaved, N times each; the table shows medians and the
preview's peak RSS. Targets: preview <= 1.5x the import floor, peak RSS < 400 MB per stack; a change preview
(both revisions evaluated, compared and checked by the policy pack) <= 2.5x a single preview.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
THIRD_PARTY = ("pulumi", "pulumi_aws", "pulumi_eks", "pulumi_kubernetes", "pulumi_random", "pydantic", "yaml")

# Runs a preview in-process and prints every SDK module it ended up importing.
_LIST_MODULES = """
import sys
from stacks.offline.engine import preview
preview(sys.argv[1])
prefixes = {prefixes!r}
print("\\n".join(sorted(m for m in sys.modules if m.split(".")[0] in prefixes)))
"""


def run(command: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (MiB) of one fresh process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed: {process.stderr.read().decode() if process.stderr else ''}")
    return elapsed, usage.ru_maxrss // 1024


def sdk_modules(stack: str) -> list[str]:
    code = _LIST_MODULES.format(prefixes=THIRD_PARTY)
    output = subprocess.run([PYTHON, "-c", code, stack], cwd=ROOT, check=True, capture_output=True, text=True)
    return output.stdout.split()


def against(stacks: list[str], revision: str, runs: int) -> None:
    """The change preview against ``revision`` next to a single preview of the same stack."""
    print(f"{'stack':<9}{'preview s':>11}{'--against s':>13}{'ratio':>8}{'peak RSS MiB':>14}")
    for stack in stacks:
        single = [PYTHON, "-m", "stacks", "preview", stack, "--json", os.devnull]
        change = [PYTHON, "-m", "stacks", "preview", stack, "--against", revision, "--diff-json", os.devnull]
        singles, changes, peaks = [], [], []
        for _ in range(runs):
            singles.append(run(single)[0])
            seconds, peak = run(change)
            changes.append(seconds)
            peaks.append(peak)
        base, timed = statistics.median(singles), statistics.median(changes)
        print(f"{stack:<9}{base:>11.2f}{timed:>13.2f}{timed / base:>8.2f}{max(peaks):>14}")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("stacks", nargs="*", default=["staging", "prod"])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--against", metavar="REV", help="time the change preview against REV instead")
    args = parser.parse_args()
    if args.against:
        against(args.stacks, args.against, args.runs)
        return 0

    print(f"{'stack':<9}{'resources':>10}{'import floor s':>16}{'preview s':>11}{'ratio':>8}{'peak RSS MiB':>14}")
    for stack in args.stacks:
        modules = sdk_modules(stack)
        floor_command = [PYTHON, "-c", "import importlib, sys; [importlib.import_module(m) for m in sys.argv[1:]]"]
        floor_command += modules
        plan_file = Path(tempfile.mkdtemp()) / f"{stack}.json"
        preview_command = [PYTHON, "-m", "stacks", "preview", stack, "--json", str(plan_file)]
        floors, previews, peaks = [], [], []
        for _ in range(args.runs):
            floors.append(run(floor_command)[0])
            seconds, peak = run(preview_command)
            previews.append(seconds)
            peaks.append(peak)
        count = len(json.loads(plan_file.read_text())["resources"])
        floor, timed = statistics.median(floors), statistics.median(previews)
        print(f"{stack:<9}{count:>10}{floor:>16.2f}{timed:>11.2f}{timed / floor:>8.2f}{max(peaks):>14}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
