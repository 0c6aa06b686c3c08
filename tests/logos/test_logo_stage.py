"""The stage's contract: changed frames only, one observation per appearance, snapshots, and the pool."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from events import ConfigError, Modality, SampledFrame, Snapshot, VideoFrame
from logos import LogoOptions, LogoPool, LogoStage, PoolOptions
from logos.synthetic import Distortion, busy_background, render_scene


@pytest.fixture(scope="module")
def frames(marks):
    """A Chanel mark in view at 0-4 s, gone from 5 s on; frames every second."""
    bg = busy_background(1280, 720, 5)
    with_logo, _ = render_scene(bg, marks["chanel"][1][0], Distortion(0.25, 10), 1)
    without, _ = render_scene(bg, None, Distortion(), 1)
    return with_logo, without


def sf(stream: str, i: int, image: np.ndarray, changed: bool = True) -> SampledFrame:
    return SampledFrame(VideoFrame(stream, i, float(i), 1000.0 + i, image), phash=0, changed=changed)


def test_one_observation_per_appearance(brands, frames):
    with_logo, without = frames
    snaps = []
    stage = LogoStage(brands, LogoOptions(max_gap_s=2.0, reemit_interval_s=3.0),
                      snapshotter=lambda img: snaps.append(img.shape) or Snapshot("/s/x.jpg", "ab" * 32))
    seq = [(with_logo, True), (with_logo, False), (with_logo, False), (with_logo, True), (with_logo, True),
           (without, True), (without, True), (without, True), (without, True)]
    out = [stage.process(sf("s1", i, img, ch)) for i, (img, ch) in enumerate(seq)]
    flat = [e for evs in out for e in evs]
    assert out[0] and out[0][0].modality is Modality.LOGO
    first = out[0][0]
    assert first.brand == "chanel" and first.text == "Chanel" and first.box is not None and 0.5 <= first.confidence <= 1
    assert first.snapshot == Snapshot("/s/x.jpg", "ab" * 32) and snaps == [(720, 1280, 3)]  # one snapshot per observation
    assert not out[1] and not out[2], "unchanged frames only extend the span"
    assert out[3] and out[3][0].media_end == 3.0, "re-emitted after reemit_interval_s"
    assert len({e.observation_id for e in flat}) == 1
    assert flat[-1].media_start == 0.0 and flat[-1].media_end == 4.0, "final span once the logo is gone for max_gap_s"
    assert stage.finish("s1") == []


def test_unchanged_frames_are_not_matched(brands, frames, monkeypatch):
    stage = LogoStage(brands)
    calls = []
    monkeypatch.setattr(stage, "detect", lambda img: calls.append(1) or [])
    stage.process(sf("s2", 0, frames[0], changed=False))
    assert calls == []
    stage.process(sf("s2", 1, frames[0], changed=True))
    assert calls == [1]


def test_finish_reports_logos_still_in_view(brands, frames):
    stage = LogoStage(brands)
    assert stage.process(sf("s3", 0, frames[0]))
    stage.process(sf("s3", 1, frames[0], changed=False))
    final = stage.finish("s3")
    assert len(final) == 1 and final[0].media_end == 1.0


def test_options_are_checked():
    with pytest.raises(ConfigError, match="methods"):
        LogoOptions(methods=("orb",))
    with pytest.raises(ConfigError):
        LogoOptions(max_side=10)


def test_pool_drops_oldest_unchanged_first_and_counts():
    gate = threading.Event()
    done = []

    def slow(frame):
        gate.wait(5)
        done.append((frame.stream_id, frame.frame.index))
        return []

    pool = LogoPool(slow, lambda ev: None, PoolOptions(workers=1, max_queue=3))
    img = np.zeros((8, 8, 3), np.uint8)
    pool.submit(sf("a", 0, img))  # taken by the worker at once
    time.sleep(0.2)
    for i, changed in [(1, True), (2, False), (3, True), (4, True), (5, True)]:
        assert pool.submit(sf("a", i, img, changed))
    stats = pool.stats("a")
    assert stats.dropped_unchanged == 1 and stats.dropped_changed == 1 and stats.queued == 3
    gate.set()
    assert pool.join(5)
    assert done == [("a", 0), ("a", 3), ("a", 4), ("a", 5)], "frame 2 (unchanged) went first, then the oldest changed"
    pool.close()


def test_pool_keeps_each_stream_in_order_and_survives_errors():
    seen: dict[str, list[int]] = {"x": [], "y": []}
    lock = threading.Lock()

    def work(frame):
        if frame.frame.index == 3 and frame.stream_id == "y":
            raise RuntimeError("boom")
        time.sleep(0.002)
        with lock:
            seen[frame.stream_id].append(frame.frame.index)
        return []

    pool = LogoPool(work, lambda ev: None, PoolOptions(workers=2, max_queue=100))
    img = np.zeros((8, 8, 3), np.uint8)
    for i in range(20):
        pool.submit(sf("x", i, img))
        pool.submit(sf("y", i, img))
    assert pool.join(10)
    pool.close()
    assert seen["x"] == list(range(20)) and seen["y"] == [i for i in range(20) if i != 3]
    assert pool.stats("y").errors == 1 and pool.stats("y").processed == 19


def test_pool_runs_the_real_stage(brands, frames):
    stage = LogoStage(brands)
    got = []
    pool = LogoPool(stage.process, got.extend, PoolOptions(workers=2))
    pool.submit(sf("p1", 0, frames[0]))
    pool.submit(sf("p2", 0, frames[1]))
    assert pool.join(60)
    pool.close()
    assert [(e.stream_id, e.brand) for e in got] == [("p1", "chanel")]
