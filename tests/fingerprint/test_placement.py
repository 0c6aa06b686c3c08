"""Where the copy sits in the frame (issue 13): insets down to 25% of the frame, split screens,
captions and bullet comments over the copy, a colour re-grade at low bitrate, +-10% speed.

Real H.264 files (PyAV) decoded back at one frame per second; the
protected programme is registered from its own file. Negatives: an
unrelated programme in a streamer layout, and the host's own camera.
"""

from __future__ import annotations

import pytest
from fp_media import PLACEMENTS, programme_frame, run_stream

from events import Box, Modality
from frames.fingerprint import FingerprintIndex, band_box, find_rectangles, motion_boxes, work_gray

CONTENT = "programme-1"


@pytest.fixture(scope="module")
def index(protected_clip) -> FingerprintIndex:
    idx = FingerprintIndex()
    idx.register_video(protected_clip, CONTENT)
    return idx


@pytest.mark.parametrize("name", sorted(PLACEMENTS))
def test_placed_copy_is_found(index, placed, name):
    evidence = run_stream(index, placed(name), f"placed-{name}")
    assert evidence, f"{name}: no fingerprint evidence"
    first = evidence[0]
    assert first.modality is Modality.FINGERPRINT and first.text == CONTENT
    assert first.details["kind"] == "video"
    assert first.media_start <= 6.0, f"{name}: the run should start within the first seconds"
    assert evidence[-1].media_end >= 10.0, f"{name}: the match should hold over the 12 s copy"
    assert len({e.observation_id for e in evidence}) == 1
    print(f"{name}: span {first.media_start:.1f}-{evidence[-1].media_end:.1f} s, region {first.details['region']}")


def test_quarter_inset_box_points_at_it(index, placed):
    evidence = run_stream(index, placed("pip_25"), "placed-box")
    box = evidence[-1].box
    assert abs(box.x - 640) < 40 and abs(box.y - 360) < 40 and box.w > 560 and box.h > 300, box


@pytest.mark.parametrize("negative", ["host_only", "unrelated"])
def test_negatives_stay_unmatched(index, placed, unrelated_clip, negative):
    path = unrelated_clip if negative == "unrelated" else placed("host_only")
    assert run_stream(index, path, f"negative-{negative}") == []


def test_split_screen_rectangle_uses_the_frame_sides():
    import cv2
    import numpy as np
    from fp_media import host_camera

    frame = np.empty((720, 1280, 3), np.uint8)
    frame[:, :640] = cv2.resize(programme_frame(3.0, 1), (640, 720))
    frame[:, 640:] = cv2.resize(host_camera(1.0), (640, 720))
    gray = work_gray(frame)
    boxes = find_rectangles(gray)
    assert any(b.x <= 2 and abs(b.w - 160) <= 4 and b.h >= 170 for b in boxes), boxes


def test_motion_outlines_a_moving_inset():
    import numpy as np

    changed = np.zeros((180, 320), np.uint8)
    changed[100:170, 170:310:3] = 1  # a moving picture in one corner, sparse changes
    changed[20:30, 20:30] = 1  # a small flicker elsewhere: too small to be a candidate
    boxes = motion_boxes(changed, 0.1)
    assert len(boxes) == 1 and abs(boxes[0].x - 170) <= 6 and abs(boxes[0].w - 140) <= 10, boxes


def test_band_of_a_picture_whose_lower_part_is_hidden():
    """The top band of the 16:9 picture a region shows (all of it, or its upper part down to the band)."""
    assert band_box(Box(0, 0, 320, 180), 180) == Box(0, 0, 320, 135)  # a whole 16:9 picture (a bar may sit inside)
    assert band_box(Box(6, 67, 189, 87), 180) == Box(6, 67, 189, 80)  # an inset's upper 82%, a caption bar below
    assert band_box(Box(0, 0, 160, 180), 180) is None  # taller than 16:9: a stretched split screen
    assert band_box(Box(6, 67, 189, 60), 180) is None  # less than the band shows
    assert band_box(Box(6, 120, 189, 87), 180) is None  # the band would run off the frame
