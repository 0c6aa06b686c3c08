"""The stage's contract: changed frames only, one observation per appearance, snapshots."""

from __future__ import annotations

import numpy as np
import pytest

from events import Box, ConfigError, Modality, SampledFrame, Snapshot, VideoFrame
from logos import LogoOptions, LogoStage
from logos.synthetic import Distortion, busy_background, render_scene


@pytest.fixture(scope="module")
def frames(marks):
    """A Chanel mark in view at 0-4 s, gone from 5 s on; frames every second."""
    bg = busy_background(1280, 720, 5)
    with_logo, _ = render_scene(bg, marks["chanel"][1][0], Distortion(0.25, 10), 1)
    without, _ = render_scene(bg, None, Distortion(), 1)
    return with_logo, without


def sf(stream: str, i: int, image: np.ndarray, changed: bool = True, box: Box | None = None) -> SampledFrame:
    return SampledFrame(VideoFrame(stream, i, float(i), 1000.0 + i, image), phash=0, changed=changed, changed_box=box)


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
    monkeypatch.setattr(stage, "detect", lambda img, region=None: calls.append(1) or [])
    stage.process(sf("s2", 0, frames[0], changed=False))
    assert calls == []
    stage.process(sf("s2", 1, frames[0], changed=True))
    assert calls == [1]


class Spy:
    """The stage's real ``detect``, noting the region of each call."""

    def __init__(self, stage: LogoStage, monkeypatch) -> None:
        self.regions: list[Box | None] = []
        real = stage.detect
        monkeypatch.setattr(stage, "detect", lambda img, region=None: self.regions.append(region) or real(img, region))


def test_a_logo_outside_the_change_stays_in_view_without_being_matched_again(brands, frames, monkeypatch):
    """The host moves in one corner; the card's logo elsewhere is carried, not matched again."""
    with_logo, _ = frames
    stage = LogoStage(brands)
    [logo] = stage.process(sf("c1", 0, with_logo))
    spy = Spy(stage, monkeypatch)
    corner = Box(0, 0, 120, 120) if logo.box.x > 300 or logo.box.y > 300 else Box(1100, 560, 120, 120)
    assert stage.process(sf("c1", 1, with_logo, box=corner)) == []
    assert spy.regions and spy.regions[0] is not None and not spy.regions[0].intersection(logo.box)
    [final] = stage.finish("c1")
    assert final.media_end == 1.0, "still in view at the frame that did not look at it"


def test_a_logo_appearing_in_the_change_is_found_where_the_whole_frame_finds_it(brands, frames, monkeypatch):
    with_logo, without = frames
    [whole] = LogoStage(brands).detect(with_logo)
    stage = LogoStage(brands)
    assert stage.process(sf("c2", 0, without)) == []
    spy = Spy(stage, monkeypatch)
    [found] = stage.process(sf("c2", 1, with_logo, box=whole.box))
    assert spy.regions[0] is not None and spy.regions[0].w * spy.regions[0].h < 0.5 * 1280 * 720
    assert found.brand == "chanel" and found.box is not None and found.box.iou(whole.box) > 0.8


def test_a_second_logo_of_a_brand_in_the_change_is_a_new_appearance(brands, frames):
    """The card's logo is carried; the same brand appearing elsewhere (in the host's hands) is not
    taken for it: it opens an observation of its own."""
    with_logo, _ = frames
    stage = LogoStage(brands)
    [card] = stage.process(sf("c4", 0, with_logo))
    b = card.box
    two = with_logo.copy()
    x = 40 if b.x > 640 else 1280 - b.w - 40
    two[b.y : b.y + b.h, x : x + b.w] = with_logo[b.y : b.y + b.h, b.x : b.x + b.w]
    [second] = stage.process(sf("c4", 1, two, box=Box(x, b.y, b.w, b.h)))
    assert second.brand == "chanel" and second.observation_id != card.observation_id
    assert second.box is not None and second.box.iou(Box(x, b.y, b.w, b.h)) > 0.5
    assert {e.media_end for e in stage.finish("c4")} == {1.0}, "both in view at the last frame"


def test_a_logo_the_change_touches_is_looked_at_whole(brands, frames, monkeypatch):
    """A change over part of a logo in view grows the crop to the whole logo: gone is gone."""
    with_logo, without = frames
    stage = LogoStage(brands, LogoOptions(max_gap_s=0.5))
    [logo] = stage.process(sf("c3", 0, with_logo))
    spy = Spy(stage, monkeypatch)
    part = Box(logo.box.x, logo.box.y, max(8, logo.box.w // 3), max(8, logo.box.h // 3))
    out = stage.process(sf("c3", 2, without, box=part))
    region = spy.regions[0]
    assert region is not None and region.intersection(logo.box) == logo.box.w * logo.box.h
    assert out == [] and stage.finish("c3") == [], "not found where it was: closed, nothing left in view"


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
