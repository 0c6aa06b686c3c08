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


def slow_echo_engine(_options: OcrOptions) -> _Echo:
    import time

    time.sleep(2.0)  # PaddleOCR takes seconds to load: the successor must not leave the pool without a reader
    return _Echo()


def test_a_recycled_worker_reads_on_until_its_successor_is_ready(caplog: pytest.LogCaptureFixture) -> None:
    import time

    caplog.set_level(logging.INFO, logger="ocr.workers")
    image = np.full((8, 8, 3), 7, np.uint8)
    pool = WorkerPool(OcrOptions(engine="rapid", workers=1, recycle_after_frames=2, start_timeout_s=120),
                      engine_factory=slow_echo_engine)
    try:
        (old,) = pool.stats().pids
        pool.detect([image])
        pool.detect([image])  # due for recycling: the successor starts loading
        started = time.monotonic()
        for _ in range(3):
            assert len(pool.detect([image])[0]) == 1
        assert time.monotonic() - started < 1.5, "reads went on with the old worker meanwhile"
        wait_until(lambda: pool.stats().recycled == 1, 120, "the successor to become ready")
        assert pool.recognize([image]) == [("value 7", 0.9)]  # takes the old one from the idle queue: it is stopped
        wait_until(lambda: pool.stats().pids != (old,) and len(pool.stats().pids) == 1, 30, "the old worker to stop")
        stats = pool.stats()
    finally:
        pool.close()
    assert (stats.recycled, stats.died, stats.replaced, stats.failures) == (1, 0, 0, 0)
    assert stats.gap_s_last is None, "no slot went without a worker"
    with pytest.raises(ProcessLookupError):
        os.kill(old, 0)
    assert any("reads on while its successor starts" in r.getMessage() for r in caplog.records)
