"""Freed memory leaves the process: glibc's mmap threshold is fixed, and a discarded stream's blocks are trimmed.

Each case runs in a fresh interpreter (the allocator's state is per process). The threshold: it
frees one 16 MB block, as model loading does, then allocates a frame-sized one and asks glibc
(``mallinfo2``) whether that frame got its own mapping (given back when freed) or came from an
arena (where freed memory mostly stays). The trim: blocks under the threshold freed in the middle
of an arena stay resident until ``release_free_memory``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from events import malloc
from events.malloc import ENV

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import ctypes, json, os, sys
from events.malloc import ENV, fix_mmap_threshold

class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = Info
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
fixed = fix_mmap_threshold() if sys.argv[1] == "fixed" else False
libc.free(libc.malloc(16 << 20))  # mapped, and freeing it raises glibc's threshold unless fixed
before = libc.mallinfo2().hblks
frame = libc.malloc(1280 * 720 * 3)
print(json.dumps({"fixed": fixed, "frame_mapped": libc.mallinfo2().hblks > before, "env": os.environ.get(ENV)}))
libc.free(frame)
"""


def _probe(mode: str, threshold: str | None = None) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k != ENV} | ({ENV: threshold} if threshold else {})
    out = subprocess.run([sys.executable, "-c", PROBE, mode], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    result: dict[str, object] = json.loads(out.stdout)
    return result


def test_a_frame_allocated_after_a_big_block_was_freed_gets_its_own_mapping() -> None:
    assert _probe("default") == {"fixed": False, "frame_mapped": False, "env": None}, "glibc's own behaviour, the reason"
    assert _probe("fixed") == {"fixed": True, "frame_mapped": True, "env": None}, "the OCR/ASR workers keep glibc's default"


def test_an_operators_threshold_wins() -> None:
    big = str(4 << 20)  # above the frame: the frame comes from an arena again, as the operator chose
    assert _probe("fixed", big) == {"fixed": True, "frame_mapped": False, "env": big}


def test_the_livewatch_command_and_python_m_livewatch_fix_it_first() -> None:
    """The container's entry point is the ``livewatch`` script: it must not skip the fix."""
    import tomllib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert scripts["livewatch"] == "livewatch.__main__:run"
    probe = ("import sys; from livewatch import __main__ as m; calls = []; "
             "m.fix_mmap_threshold = lambda: calls.append('fix') or True; "
             "m.main = lambda: calls.append('main') or 0; code = m.run(); print(calls); sys.exit(code)")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "['fix', 'main']", out.stderr


TRIM_PROBE = """
import ctypes, json, sys
from events.malloc import fix_mmap_threshold, release_free_memory

def rss_mb():
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS")) / 1024

libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
fix_mmap_threshold()
blocks = [libc.malloc(200_000) for _ in range(300)]  # JPEGs of two streams: under the threshold, in the arena
for p in blocks:
    ctypes.memset(p, 1, 200_000)
for p in blocks[::2]:  # one stream goes: its blocks are holes between the other's, never the top of the arena
    libc.free(p)
freed = rss_mb()
print(json.dumps({"released": release_free_memory(), "given_back_mb": freed - rss_mb()}))
"""


def test_the_blocks_a_stream_freed_in_the_middle_of_an_arena_go_back_to_the_system() -> None:
    out = subprocess.run([sys.executable, "-c", TRIM_PROBE], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["released"] is True
    assert result["given_back_mb"] > 20, f"30 MB freed between live blocks stay resident until trimmed: {result}"


def test_a_worker_trims_after_its_work_at_most_every_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    trims: list[int] = []
    monkeypatch.setattr(malloc, "release_free_memory", lambda: trims.append(1) or True)
    last = malloc.trim_when_due(0.0, now=100.0)  # the first piece of work after the start trims
    assert (last, len(trims)) == (100.0, 1)
    assert malloc.trim_when_due(last, now=110.0) == 100.0 and len(trims) == 1  # 10 s later: not yet
    every = malloc.TRIM_EVERY_S
    assert malloc.trim_when_due(last, now=100.0 + every) == 100.0 + every and len(trims) == 2
    assert malloc.trim_when_due(0.0, now=5.0, every_s=5.0) == 5.0 and len(trims) == 3
