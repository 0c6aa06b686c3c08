"""glibc malloc tuned for a process that runs for days: freed memory goes back to the system.

Two measures, for two kinds of block; neither does the other's job:

- ``fix_mmap_threshold`` (at start): large blocks (frames) get mappings of their own, unmapped
  when freed;
- ``release_free_memory`` (``malloc_trim(0)``, in every process at most every 30 s,
  ``trim_when_due``: in the main process's status loop, ``Pipeline.schedule``; in the ASR and
  OCR worker processes after a pass or a read): what streams' smaller blocks, a Whisper
  window's or an OCR read's temporaries left free inside the arenas is handed back. In the
  soak the ASR worker stepped from ~440 to ~580 MB after one long window and stayed there for
  20 minutes, and an OCR worker climbed from ~800 to ~950 MB over its 2,000 reads (each read of a new size frees blocks of new sizes).

Why the threshold: glibc serves a large allocation with its own ``mmap`` only until the first such block is freed;
then it raises its mmap threshold to that block's size (up to 32 MB), and from then on decoded
frames (1280x720 BGR: 2.7 MB), model-loading temporaries and pipe buffers come from the per-thread
arenas (up to 8 per core) instead. Freed there, they mostly stay in the process: in the soak
(``bench/soak.py``, 2 streams replaced every 25 s) the worker's RSS grew by hundreds of MB per hour
while the Python heap (object counts, allocated blocks) and malloc's bytes in use stayed flat, and
malloc's free bytes inside the arenas reached 700-900 MB. Fixing the threshold turns the
adjustment off: blocks of ``MMAP_THRESHOLD`` or more are mapped on their own and unmapped when
freed, which costs a few system calls per sampled frame.

Only the calling process: the OCR and ASR worker processes it spawns keep glibc's default. Their
inference allocates and frees large temporaries all the time; mapped and unmapped each time, it
took PaddleOCR 2.8x as long per 720p frame (734-762 ms vs 261-265 ms, 2026-11-30), while the
main process alone gave nearly all of the memory saving (mean RSS 497 MB vs 486 MB with the
workers included). An operator's own ``MALLOC_MMAP_THRESHOLD_`` wins, and glibc applies it to
every process. Elsewhere than glibc nothing changes.

Why both: the trim does not make the threshold unnecessary (measured 2026-11-30, 2 streams replaced every
15 s, ``malloc_trim(0)`` every 30 s): without the threshold the frames fill the arenas again
between trims (RSS 500-550 MB before a trim, 350-425 after; free bytes in the arenas 300+ MB; a
trim took 20-140 ms), with it RSS stayed at 270-340 MB and a trim took 2-10 ms. The threshold's
price is CPU: on the main process's per-frame path (decode, BGR array, grey, resize, JPEG) it
cost 16.8 ms per 720p frame vs 13.7 ms (system time 2.9 vs 0.5 ms: mapping, unmapping and
faulting in each frame), about 0.01-0.02 core at 4 streams sampled once a second.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import os

log = logging.getLogger(__name__)

MMAP_THRESHOLD = 256 * 1024  # bytes: frames, crops and big arrays; not Python objects or audio chunks
ENV = "MALLOC_MMAP_THRESHOLD_"  # glibc reads it when a process starts (an operator's choice for all processes)
_M_MMAP_THRESHOLD = -3  # mallopt parameter (malloc.h)
TRIM_EVERY_S = 30.0  # a process hands free pages back at most this often (trim_when_due)


def fix_mmap_threshold(threshold: int = MMAP_THRESHOLD) -> bool:
    """Fix the mmap threshold of this process from now on (not of the processes it spawns).

    Call it first thing in a long-running command. False where the C library is not glibc.
    """
    value = int(os.environ.get(ENV) or threshold)
    libc = _glibc()
    if libc is None:
        return False
    if libc.mallopt(_M_MMAP_THRESHOLD, value) != 1:
        log.warning("malloc's mmap threshold not set to %d bytes: freed frames may stay in the process", value)
        return False
    return True


def release_free_memory() -> bool:
    """Hand the free pages inside malloc's arenas back to the system (glibc's ``malloc_trim(0)``).

    Blocks under the mmap threshold (a stream's ring of recent JPEGs, ~200 KB each; audio chunks;
    crops) live in the arenas of the threads that made them. When a stream goes, its blocks are
    freed at once into the middle of those arenas, where glibc keeps them: it gives back only
    free space at the top of an arena. Another stream's blocks may fill the holes, or not (its
    threads may use other arenas): with 2 streams replaced every 15 s the main process's free
    bytes inside the arenas grew from 18 to 100 MB in 10 minutes, and ``malloc_trim(0)`` gave
    93 MB back at once. Trimming walks every arena's free chunks and gives their whole pages back
    with ``madvise`` (2-10 ms there); the holes stay reusable address space. False where the C
    library is not glibc.
    """
    libc = _glibc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


def trim_when_due(last_trim: float, *, now: float, every_s: float = TRIM_EVERY_S) -> float:
    """``release_free_memory()`` when ``every_s`` have passed since ``last_trim``: the last trim's time.

    For a worker process right after a piece of work (an ASR pass, an OCR read), when that work's
    temporaries are free in the arenas, and for the main process's status loop: one trim costs
    a few ms, while trimming after every piece would fault the next one's pages in again (30-40 %
    more CPU per OCR read). ``now`` and ``last_trim`` are ``time.monotonic()`` readings.
    """
    if now - last_trim < every_s:
        return last_trim
    release_free_memory()
    return now


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (it has ``mallopt`` and ``malloc_trim``), looked up once."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError, TypeError):
        return None
    return libc
