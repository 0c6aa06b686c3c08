"""``python -m livewatch`` and the ``livewatch`` command (pyproject's script): malloc first, then the CLI."""

import sys

from events.malloc import fix_mmap_threshold
from livewatch.cli import main


def run() -> int:
    """A worker runs for days: freed frames must leave the process (events/malloc.py)."""
    fix_mmap_threshold()
    return main()


if __name__ == "__main__":
    sys.exit(run())
