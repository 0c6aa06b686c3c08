"""``python -m livewatch`` and the ``livewatch`` command (pyproject's script): malloc first, then the CLI."""

import sys

from livewatch.cli import main
from livewatch.malloc import fix_mmap_threshold


def run() -> int:
    """A worker runs for days: freed frames must leave the process (livewatch/malloc.py)."""
    fix_mmap_threshold()
    return main()


if __name__ == "__main__":
    sys.exit(run())
