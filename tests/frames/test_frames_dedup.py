"""Perceptual-hash dedup and the changed region, on synthetic images and a real decoded clip."""

from __future__ import annotations

import numpy as np
import pytest

from events import ConfigError, VideoFrame
from frames import DedupOptions, FrameDeduper, hamming, phash
from ingest import StreamSource
from tests.media import busy_background, make_clip, render_card


def _bgr(rgb: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(rgb[:, :, ::-1])


def _frame(image: np.ndarray, t: float, stream_id: str = "s") -> VideoFrame:
    return VideoFrame(stream_id, int(t), t, 0.0, image)


def _with_card(text: str, position=None, size=(1280, 720)) -> np.ndarray:
    from PIL import Image

    base = Image.fromarray(busy_background(size))
    card = render_card(text, size, position)
    base.paste(card, (0, 0), card)
    return _bgr(np.asarray(base))


@pytest.fixture(scope="module")
def scene() -> np.ndarray:
    return _bgr(busy_background((1280, 720)))


def test_phash_is_64_bits_stable_under_noise_and_scale(scene: np.ndarray) -> None:
    rng = np.random.default_rng(1)
    noisy = np.clip(scene.astype(np.int16) + rng.normal(0, 4, scene.shape), 0, 255).astype(np.uint8)
    half = scene[::2, ::2].copy()
    h = phash(scene)
    assert 0 <= h < 2**64
    assert hamming(h, phash(noisy)) <= 4
    assert hamming(h, phash(half)) <= 4
    other = _bgr(busy_background((1280, 720), seed=99))
    assert hamming(h, phash(other)) > 16


def test_hamming_counts_bits() -> None:
    assert hamming(0, 0) == 0 and hamming(0b1011, 0b0001) == 2 and hamming(2**64 - 1, 0) == 64


def test_unchanged_scene_is_a_duplicate_and_new_text_is_a_change_with_its_box(scene: np.ndarray) -> None:
    dedup = FrameDeduper()
    first = dedup.process(_frame(scene, 0))
    assert first.changed and first.changed_box is None and first.phash == phash(scene)
    again = dedup.process(_frame(scene.copy(), 1))
    assert not again.changed
    # a price card appears bottom-centre: a small change the hash alone would miss
    card = _with_card("到手价 99", position=(560, 600))
    out = dedup.process(_frame(card, 2))
    assert out.changed and out.changed_box is not None
    box = out.changed_box
    assert 500 <= box.x <= 580 and 560 <= box.y <= 620 and box.x + box.w >= 680 and box.w < 400
    assert not dedup.process(_frame(card.copy(), 3)).changed


def test_scene_cut_marks_the_whole_frame(scene: np.ndarray) -> None:
    dedup = FrameDeduper()
    dedup.process(_frame(scene, 0))
    cut = dedup.process(_frame(_bgr(busy_background((1280, 720), seed=5)), 1))
    assert cut.changed and cut.changed_box is None


def test_tiny_changes_stay_duplicates_and_streams_are_independent(scene: np.ndarray) -> None:
    dedup = FrameDeduper()
    dedup.process(_frame(scene, 0, "a"))
    blink = scene.copy()
    blink[30:60, 1190:1220] = (30, 30, 220)  # a 30 px "LIVE" badge: 0.1 % of the frame
    assert not dedup.process(_frame(blink, 1, "a")).changed
    assert dedup.process(_frame(blink, 1, "b")).changed  # first frame of another stream
    dedup.reset("a")
    assert dedup.process(_frame(blink, 2, "a")).changed


def test_slow_drift_adds_up_against_the_last_changed_frame(scene: np.ndarray) -> None:
    dedup = FrameDeduper(DedupOptions(max_hamming=64, min_changed_fraction=0.05))
    dedup.process(_frame(scene, 0))
    results = []
    for step in range(1, 8):
        img = scene.copy()
        img[:, : 40 * step] = 0  # a curtain closing 40 px per frame: each step alone is < 5 %
        results.append(dedup.process(_frame(img, step)).changed)
    assert results[0] is False and any(results)


def test_options_are_checked() -> None:
    with pytest.raises(ConfigError):
        DedupOptions(max_hamming=65)
    with pytest.raises(ConfigError):
        DedupOptions(min_changed_fraction=2)


def test_decoded_clip_dedups_static_stretches(tmp_path) -> None:
    clip = make_clip(tmp_path / "c.mp4", 6, text_cards=[(2.0, 4.0, "正品保证 假一赔十")], with_audio=False, size=(640, 360))
    dedup = FrameDeduper()
    changed = [dedup.process(f).changed for f in StreamSource(str(clip), "s")]
    assert changed == [True, False, True, False, True, False]
