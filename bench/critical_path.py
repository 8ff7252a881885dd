"""The critical path of a fresh deploy of each stack: the longest chain of typical AWS create times through the
plan's dependency graph (stacks/offline/lifecycle.py has the table and its sources).

    .venv/bin/python bench/critical_path.py [STACK ...]

Figures are typical, not measured: a real first `pulumi up` varies by region and load by several minutes.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stacks.offline.engine import preview, stack_names
from stacks.offline.lifecycle import format_critical_path


def main(stacks: list[str]) -> None:
    for stack in stacks or stack_names():
        print(format_critical_path(preview(stack)))
        print()


if __name__ == "__main__":
    main(sys.argv[1:])
