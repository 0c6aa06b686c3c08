"""OCR worker processes: one that dies is replaced, and both ends show in the log and the pool's figures.

Real spawned processes with a tiny stand-in engine (module level, so the child can import it).
"""

from __future__ import annotations

import logging
import os
import signal

import numpy as np
import pytest

from events import LivewatchError
from ocr import OcrOptions
from ocr.workers import WorkerPool
from tests.waiting import wait_until


class _Echo:
    name = "echo"

    def detect(self, image: np.ndarray) -> list[np.ndarray]:
        return [np.float32([[0, 0], [4, 0], [4, 4], [0, 4]])]

    def recognize(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        return [(f"value {int(crop[0, 0, 0])}", 0.9) for crop in crops]


def echo_engine(_options: OcrOptions) -> _Echo:
    return _Echo()


def test_a_killed_worker_is_replaced_and_the_gap_is_logged_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ocr.workers")
    image = np.full((8, 8, 3), 7, np.uint8)
    pool = WorkerPool(OcrOptions(engine="rapid", workers=1, start_timeout_s=120), engine_factory=echo_engine)
    try:
        assert [q.tolist() for q in pool.detect([image])[0]] == [[[0, 0], [4, 0], [4, 4], [0, 4]]]
        assert pool.recognize([image]) == [("value 7", 0.9)]
        (pid,) = pool.stats().pids
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(LivewatchError, match="died or hung"):
            pool.recognize([image])
        wait_until(lambda: pool.stats().replaced >= 1, 120, "a replacement worker to become ready")
        assert pool.recognize([image]) == [("value 7", 0.9)], "the replacement reads"
        stats = pool.stats()
    finally:
        pool.close()
    assert (stats.died, stats.replaced) == (1, 1) and stats.pids != (pid,)
    assert stats.gap_s_last is not None and 0 < stats.gap_s_last == stats.gap_s_total
    messages = [(r.levelname, r.getMessage()) for r in caplog.records]
    down = [m for level, m in messages if level == "WARNING" and f"(pid {pid}) down" in m]
    ready = [m for level, m in messages if "replacement ready" in m]
    assert len(down) == 1 and "died or hung" in down[0], messages
    assert len(ready) == 1 and f"after {stats.gap_s_last:.1f}s without it" in ready[0], messages
