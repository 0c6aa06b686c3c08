"""OcrStage with a small fake engine: which frames are read, cropping, scaling, the shared queue."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from events import Box, SampledFrame, VideoFrame
from ocr import OcrOptions, OcrStage


class FakeEngine:
    """Finds one line in the middle of an image and reads it "字幕<k> ¥99" where its pixels hold k.

    Records the shapes of the images it detected in and of the crops it recognised.
    """

    name = "fake"

    def __init__(self, delay: float = 0.0) -> None:
        self.shapes: list[tuple[int, int]] = []
        self.crops: list[tuple[int, int]] = []
        self.delay = delay

    def detect(self, image: np.ndarray) -> list[np.ndarray]:
        time.sleep(self.delay)  # simulated work: concurrent callers overlap inside the engine
        self.shapes.append(image.shape[:2])
        if int(image[0, 0, 0]) == 255:
            raise RuntimeError("unreadable")
        h, w = image.shape[:2]
        x0, y0, x1, y1 = w // 4, h // 4, w // 4 + w // 2, h // 4 + h // 4
        return [np.float32([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])]

    def recognize(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        self.crops += [crop.shape[:2] for crop in crops]
        return [(f"字幕{int(crop[0, 0, 0])} ¥99", 0.9) for crop in crops]


def frame(t: float, key: int, changed: bool = True, box: Box | None = None, stream: str = "s1", size=(720, 1280)) -> SampledFrame:
    image = np.zeros((*size, 3), np.uint8)
    image[:] = key
    return SampledFrame(VideoFrame(stream, int(t), t, 1000.0 + t, image), phash=0, changed=changed, changed_box=box)


def make_stage(engine: FakeEngine, **opts) -> OcrStage:
    return OcrStage(OcrOptions(engine="rapid", workers=0, **opts), engine_factory=lambda _options: engine)


def test_only_changed_frames_are_read_and_unchanged_ones_extend():
    engine = FakeEngine()
    with make_stage(engine) as stage:
        first = stage.process(frame(0.0, 1))
        assert [e.text for e in first] == ["字幕1 ¥99"] and first[0].details["event"] == "start"
        assert stage.process(frame(1.0, 1, changed=False)) == []
        assert stage.process(frame(2.0, 1, changed=False)) == []
        assert len(engine.shapes) == 1
        end = stage.finish("s1")
        assert [(e.details["event"], e.media_start, e.media_end) for e in end] == [("end", 0.0, 2.0)]
        stats = stage.stats()
        assert (stats.frames_read, stats.frames_unchanged) == (1, 2)


def test_without_region_tracking_a_small_changed_region_is_cropped_with_margin_and_boxes_map_back():
    engine = FakeEngine()
    with make_stage(engine, crop_margin_px=10, track_regions=False, detect_max_side_px=1280) as stage:
        ev = stage.process(frame(0.0, 2, box=Box(100, 200, 400, 80)))
    assert engine.shapes == [(100, 420)]
    assert ev[0].box == Box(90 + 420 // 4, 190 + 100 // 4, 420 // 2, 100 // 4)


def test_large_changed_region_reads_the_whole_frame_scaled_to_max_side():
    engine = FakeEngine()
    with make_stage(engine, max_side_px=640, detect_max_side_px=1280) as stage:
        ev = stage.process(frame(0.0, 3, box=Box(0, 0, 1200, 700)))
    assert engine.shapes == [(360, 640)]
    assert ev[0].box == Box(320, 180, 640, 180)


def test_lines_are_detected_on_the_scaled_frame_and_recognised_on_the_full_one():
    engine = FakeEngine()
    with make_stage(engine) as stage:  # detect_max_side_px 640
        ev = stage.process(frame(0.0, 3))
    assert engine.shapes == [(360, 640)]
    assert engine.crops == [(180, 640)], "the line cut from the 1280 px frame"
    assert ev[0].box == Box(320, 180, 640, 180), "the box found at half scale, in frame pixels"


def test_a_frame_already_at_the_detection_size_is_detected_as_it_is():
    engine = FakeEngine()
    with make_stage(engine, max_side_px=640) as stage:  # detect_max_side_px 640: never below the frame read
        stage.process(frame(0.0, 3))
    assert engine.shapes == [(360, 640)]


def test_without_region_tracking_a_changed_area_too_small_to_scale_is_detected_as_it_is():
    engine = FakeEngine()
    with make_stage(engine, detect_min_side_px=32, crop_margin_px=0, track_regions=False) as stage:
        stage.process(frame(0.0, 2, box=Box(100, 200, 400, 60)))
        stage.process(frame(1.0, 5, box=Box(100, 200, 400, 80)))
    assert engine.shapes == [(60, 400), (40, 200)]


def test_a_failed_read_is_counted_and_the_stream_goes_on():
    engine = FakeEngine()
    with make_stage(engine) as stage:
        assert stage.process(frame(0.0, 255)) == []
        assert [e.text for e in stage.process(frame(1.0, 4))] == ["字幕4 ¥99"]
        assert stage.stats().frames_failed == 1


def test_concurrent_callers_apply_each_streams_frames_in_order():
    engine = FakeEngine(delay=0.01)
    with make_stage(engine) as stage:
        results: dict[str, list] = {"a": [], "b": []}

        def run(stream: str, key: int) -> None:
            for t in range(5):
                # the picture changes visibly at 3 s (a change of a grey level or two is encoder noise)
                results[stream] += stage.process(frame(float(t), key + 40 * (t >= 3), stream=stream))

        threads = [threading.Thread(target=run, args=(s, k)) for s, k in (("a", 10), ("b", 20))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for stream, key in (("a", 10), ("b", 20)):
            starts = [(e.text, e.media_start) for e in results[stream] if e.details["event"] == "start"]
            assert starts == [(f"字幕{key} ¥99", 0.0), (f"字幕{key + 40} ¥99", 3.0)]


def test_unknown_engine_is_a_config_error():
    from events import ConfigError

    with pytest.raises(ConfigError, match="unknown"):
        OcrOptions(engine="tesseract")
