"""Background writers (read audit, serving data) yield the CPU to the processes serving requests."""

from __future__ import annotations

import contextlib
import os

WRITER_NICENESS = 10


def lower_priority() -> None:
    """Run this process at ``WRITER_NICENESS``; where that is not permitted, at the priority it has."""
    with contextlib.suppress(OSError):
        os.nice(WRITER_NICENESS)
