"""The exit codes every command line of the project uses: 1 = a check failed, 2 = invalid input."""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    OK = 0
    #: A check failed (a mandatory policy violation, an out-of-date Pulumi.yaml, a failed step).
    FAILED = 1
    #: Invalid input (unknown stack or revision, malformed file, invalid settings), reported in one message.
    BAD_INPUT = 2
