import sys

from livewatch.cli import main
from livewatch.malloc import fix_mmap_threshold

fix_mmap_threshold()  # a worker runs for days: freed frames must leave the process (livewatch/malloc.py)
sys.exit(main())
