"""The worker's vision pool: per-stream order, fairness between streams, what it drops when full."""

from __future__ import annotations

import threading
import time

import numpy as np

from events import Box, SampledFrame, VideoFrame
from livewatch.worker import VisionPool
from tests.leaks import held
from tests.waiting import wait_until


def frame(stream_id: str, t: float, changed: bool = True, box: Box | None = None) -> SampledFrame:
    image = np.zeros((4, 4, 3), np.uint8)
    return SampledFrame(VideoFrame(stream_id, int(t), t, time.time(), image), phash=0, changed=changed, changed_box=box)


class GatedPool:
    """A one-thread pool whose worker holds the first frame it takes until ``gate`` is set."""

    def __init__(self, per_stream: int) -> None:
        self.gate, self.taken = threading.Event(), threading.Event()
        self.processed: list[float] = []
        self.seen: list[SampledFrame] = []
        self.pool = VisionPool(self._process, per_stream=per_stream, threads=1)

    def _process(self, f: SampledFrame) -> None:
        self.taken.set()
        self.gate.wait(5)
        self.processed.append(f.media_time)
        self.seen.append(f)

    def hold(self, stream_id: str) -> None:
        """Hand over frame 0 of ``stream_id`` and wait until the worker holds it."""
        self.pool.submit(frame(stream_id, 0))
        wait_until(self.taken.is_set, 5, "the worker to take frame 0 (it then waits on the gate)")


def test_frames_of_one_stream_are_processed_in_order_one_at_a_time() -> None:
    seen: list[float] = []
    active: dict[str, int] = {"a": 0}
    overlap = threading.Event()
    lock = threading.Lock()

    def process(f: SampledFrame) -> None:
        with lock:
            active[f.stream_id] += 1
            if active[f.stream_id] > 1:
                overlap.set()
        time.sleep(0.005)  # work that takes a while: time for a second worker to overlap, were it allowed
        seen.append(f.media_time)
        with lock:
            active[f.stream_id] -= 1

    pool = VisionPool(process, per_stream=100, threads=4)
    for t in range(40):
        pool.submit(frame("a", float(t)))
    assert pool.drain("a", timeout=10)
    pool.close()
    assert seen == [float(t) for t in range(40)]
    assert not overlap.is_set()


def test_a_busy_stream_does_not_starve_another() -> None:
    release = threading.Event()
    done: list[str] = []

    def process(f: SampledFrame) -> None:
        if f.stream_id == "slow":
            release.wait(5)
        done.append(f.stream_id)

    pool = VisionPool(process, per_stream=10, threads=2)
    pool.submit(frame("slow", 0))
    for t in range(5):
        pool.submit(frame("fast", t))
    assert pool.drain("fast", timeout=5)
    assert done == ["fast"] * 5
    release.set()
    pool.close()


def test_when_full_the_oldest_unchanged_frame_is_dropped_first() -> None:
    gated = GatedPool(per_stream=3)
    pool = gated.pool
    gated.hold("s")
    pool.submit(frame("s", 1, changed=True))
    pool.submit(frame("s", 2, changed=False))
    pool.submit(frame("s", 3, changed=True))
    pool.submit(frame("s", 4, changed=True))  # full: drops 2 (unchanged), not 1
    pool.submit(frame("s", 5, changed=True))  # full again, nothing unchanged left: drops the oldest (1)
    gated.gate.set()
    assert pool.drain("s", timeout=5)
    pool.close()
    assert gated.processed == [0, 3, 4, 5]
    assert pool.dropped("s") == 2


def test_a_dropped_changed_frame_hands_its_change_to_the_frame_after_it() -> None:
    """What changed in a frame the detectors never saw is still looked at in the next one they see."""
    gated = GatedPool(per_stream=2)
    pool = gated.pool
    gated.hold("s")
    pool.submit(frame("s", 1, box=Box(0, 0, 10, 10)))
    pool.submit(frame("s", 2, changed=False))
    pool.submit(frame("s", 3, box=Box(50, 50, 10, 10)))  # full: drops 2 (unchanged), nothing to hand on
    pool.submit(frame("s", 4, box=Box(20, 20, 5, 5)))  # full: drops 1, its change goes to 3
    pool.submit(frame("s", 5, changed=False))  # full: drops 3 (changed), its change goes to 4
    pool.submit(frame("s", 6, changed=False))  # full: drops 5 (unchanged)
    pool.submit(frame("s", 7))  # full: drops 6 (unchanged); 4 and 7 (the whole frame changed) are left
    gated.gate.set()
    assert pool.drain("s", timeout=5)
    pool.close()
    assert gated.processed == [0, 4, 7]
    assert gated.seen[1].changed_box == Box(0, 0, 60, 60), "4 covers what 1, 3 and 4 changed"
    assert gated.seen[2].changed and gated.seen[2].changed_box is None


def test_an_ended_stream_leaves_the_round_robin_and_forgetting_it_leaves_nothing() -> None:
    gated = GatedPool(per_stream=2)
    pool = gated.pool
    gated.hold("gone")
    for t in range(1, 5):
        pool.submit(frame("gone", t))
        pool.submit(frame("live", t))
    gated.gate.set()
    assert pool.drain("gone", timeout=5)
    assert held(pool, "gone") == ["VisionPool._dropped['gone']"], "only its dropped count, shown until discarded"
    assert pool.dropped("gone") == 2
    pool.forget("gone")
    assert held(pool, "gone") == [] and pool.dropped("gone") == 0
    pool.close()


def test_frames_still_queued_when_the_drain_times_out_are_dropped() -> None:
    """A late frame would open the stream's state in the stages again after they closed it."""
    gated = GatedPool(per_stream=4)
    pool = gated.pool
    gated.hold("s")
    for t in range(1, 3):
        pool.submit(frame("s", t))
    assert not pool.drain("s", timeout=0.1)
    assert pool.dropped("s") == 2
    gated.gate.set()
    pool.close()
    assert gated.processed == [0.0], "only the frame in hand when the stream ended"
