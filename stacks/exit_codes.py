"""The project's exit codes, shared by every command line (``python -m stacks``, ``python -m ci.*``).

0 success; 1 a check failed (a policy violation, a failed smoke test or alarm gate, a stale generated file); 2 bad
input (a malformed argument, setting or file), reported in one message naming it, without a traceback. A command
that needs another outcome gives it its own code above these (``ci/release.py``: 3, a rollback that failed).
"""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    OK = 0
    FAILED = 1
    """A check failed: the input was fine, what it describes is not."""
    BAD_INPUT = 2
    """The input is invalid (argparse uses 2 for usage errors too)."""
