"""RegionTracker with a fake engine: what is detected where, what is recognised, what is carried forward."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from events import Box
from ocr import OcrOptions
from ocr.regions import RegionRead, RegionTracker

SIZE = (640, 360)
PRICE, TITLE, CAPTION, NEW = Box(460, 40, 120, 30), Box(460, 90, 150, 30), Box(100, 300, 300, 30), Box(40, 40, 100, 30)


class FakeEngine:
    """Lines are grey rectangles (values 40-170); a line reads "v<its value>" (a new price is a new value,
    more than encoder noise apart). The host (250) is no text.

    Records the shapes it detected in and how many crops it recognised per call.
    """

    def __init__(self) -> None:
        self.detected: list[tuple[int, int]] = []
        self.recognised: list[int] = []

    def detect(self, images: list[np.ndarray]) -> list[list[np.ndarray]]:
        return [self._detect_one(image) for image in images]

    def _detect_one(self, image: np.ndarray) -> list[np.ndarray]:
        self.detected.append(image.shape[:2])
        grey = image[:, :, 0]
        mask = ((grey >= 40) & (grey <= 170)).astype(np.uint8)
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask)
        quads = []
        for x, y, w, h, area in stats[1:]:
            if area >= 50:
                quads.append(np.float32([[x, y], [x + w, y], [x + w, y + h], [x, y + h]]))
        return quads

    def recognize(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        self.recognised.append(len(crops))
        return [(f"v{int(np.median(c[:, :, 0]))}", 0.9) for c in crops]


def scene(lines: dict[Box, int], host_x: int, noise_seed: int | None = None) -> np.ndarray:
    image = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    image[:] = 10
    for box, value in lines.items():
        image[box.y : box.y + box.h, box.x : box.x + box.w] = value
    image[150:290, host_x : host_x + 80] = 250
    if noise_seed is not None:  # encoder-like noise of a few grey levels
        noise = np.random.default_rng(noise_seed).integers(-4, 5, image.shape)
        image = np.clip(image.astype(int) + noise, 0, 255).astype(np.uint8)
    return image


def texts(read: RegionRead) -> list[tuple[str, list[int]]]:
    return [(ln.text, ln.box.to_list()) for ln in read.lines]


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def tracker() -> RegionTracker:
    return RegionTracker(OcrOptions(engine="rapid", workers=0, full_detect_interval_s=10.0))


def read(tracker: RegionTracker, engine: FakeEngine, image: np.ndarray, t: float) -> RegionRead:
    engine.detected.clear()
    engine.recognised.clear()
    return tracker.read(image, t, engine.detect, engine.recognize)


BASE = {PRICE: 99, TITLE: 120, CAPTION: 150}


def test_first_frame_is_detected_whole_and_every_line_recognised_in_one_batch(tracker, engine):
    first = read(tracker, engine, scene(BASE, 250), 0.0)
    assert first.full and first.detected_share == 1.0
    assert engine.detected == [(360, 640)] and engine.recognised == [3]
    assert texts(first) == [("v99", PRICE.to_list()), ("v120", TITLE.to_list()), ("v150", CAPTION.to_list())]
    assert (first.recognised, first.carried) == (3, 0)


def test_unchanged_lines_are_carried_forward_while_the_host_moves(tracker, engine):
    first = read(tracker, engine, scene(BASE, 250), 0.0)
    second = read(tracker, engine, scene(BASE, 290, noise_seed=1), 1.0)
    assert not second.full and 0 < second.detected_share < 0.5
    assert engine.recognised == [] and (second.recognised, second.carried) == (0, 3)
    assert all(h < 360 and w < 640 for h, w in engine.detected), "only the host's area was detected"
    assert second.lines == first.lines


def test_a_line_whose_crop_changed_is_read_again_on_the_next_frame(tracker, engine):
    read(tracker, engine, scene(BASE, 250), 0.0)
    second = read(tracker, engine, scene({**BASE, PRICE: 160}, 290), 1.0)
    assert engine.recognised == [1] and (second.recognised, second.carried) == (1, 2)
    assert ("v160", PRICE.to_list()) in texts(second) and "v99" not in [t for t, _ in texts(second)]


def test_a_new_line_is_read_and_the_others_are_carried(tracker, engine):
    read(tracker, engine, scene(BASE, 250), 0.0)
    second = read(tracker, engine, scene({**BASE, NEW: 60}, 290), 1.0)
    assert engine.recognised == [1] and (second.recognised, second.carried) == (1, 3)
    assert texts(second)[0] == ("v60", NEW.to_list())


def test_a_line_that_disappears_is_dropped(tracker, engine):
    read(tracker, engine, scene(BASE, 250), 0.0)
    second = read(tracker, engine, scene({PRICE: 99, TITLE: 120}, 290), 1.0)
    assert engine.recognised == [] and (second.recognised, second.carried) == (0, 2)
    assert [t for t, _ in texts(second)] == ["v99", "v120"]
    third = read(tracker, engine, scene({PRICE: 99, TITLE: 120}, 250), 2.0)
    assert [t for t, _ in texts(third)] == ["v99", "v120"] and third.recognised == 0


def test_a_full_sweep_is_due_after_the_interval_and_still_carries_unchanged_lines(tracker, engine):
    read(tracker, engine, scene(BASE, 250), 0.0)
    read(tracker, engine, scene(BASE, 290), 5.0)
    sweep = read(tracker, engine, scene(BASE, 250), 10.0)
    assert sweep.full and engine.detected == [(360, 640)]
    assert engine.recognised == [] and (sweep.recognised, sweep.carried) == (0, 3)


def test_a_longer_full_detect_interval_set_on_the_tracker_delays_the_sweep(tracker, engine):
    """The worker's scheduler lengthens it for a saturated stream (fewer reads of unchanged regions)."""
    read(tracker, engine, scene(BASE, 250), 0.0)
    tracker.full_detect_interval_s = 30.0
    assert not read(tracker, engine, scene(BASE, 290), 10.0).full
    assert not read(tracker, engine, scene(BASE, 250), 20.0).full
    tracker.full_detect_interval_s = 10.0
    assert read(tracker, engine, scene(BASE, 290), 21.0).full


def test_a_scene_cut_is_detected_whole(tracker, engine):
    read(tracker, engine, scene(BASE, 250), 0.0)
    cut = 255 - scene({PRICE: 200}, 100)
    assert read(tracker, engine, cut, 1.0).full


def test_nothing_changed_means_no_detector_or_recogniser_call(tracker, engine):
    read(tracker, engine, scene(BASE, 250), 0.0)
    same = read(tracker, engine, scene(BASE, 250, noise_seed=2), 1.0)
    assert (engine.detected, engine.recognised) == ([], [])
    assert (same.detected_share, same.carried) == (0.0, 3)


def test_a_failed_recognition_keeps_the_last_state(tracker, engine):
    first = read(tracker, engine, scene(BASE, 250), 0.0)

    def broken(_crops):
        raise RuntimeError("worker died")

    with pytest.raises(RuntimeError):
        tracker.read(scene({**BASE, PRICE: 160}, 290), 1.0, engine.detect, broken)
    again = read(tracker, engine, scene({**BASE, PRICE: 160}, 290), 2.0)
    assert ("v160", PRICE.to_list()) in texts(again) and len(again.lines) == len(first.lines)
