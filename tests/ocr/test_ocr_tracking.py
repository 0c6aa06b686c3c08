"""TextTracker: one observation per caption over time, start/update/end events."""

from __future__ import annotations

from events import Box, Modality
from ocr import OcrOptions
from ocr.engine import TextLine
from ocr.tracking import TextTracker

CAPTION = TextLine("高仿LV包 ¥99", 0.95, Box(100, 400, 300, 50))
TITLE = TextLine("驴牌经典老花", 0.9, Box(100, 100, 400, 40))


def tracker(**opts) -> TextTracker:
    return TextTracker("s1", OcrOptions(engine="rapid", **opts), "rapid")


def events(evidence) -> list[tuple[str, str, float, float]]:
    return [(e.details["event"], e.text, e.media_start, e.media_end) for e in evidence]


def test_same_caption_over_frames_is_one_observation():
    tr = tracker()
    first = tr.observe(0.0, 100.0, [CAPTION], None)
    assert events(first) == [("start", "高仿LV包 ¥99", 0.0, 0.0)]
    ev = first[0]
    assert ev.modality is Modality.OCR and ev.box == CAPTION.box and ev.confidence == 0.95
    assert [(p.amount, p.role) for p in ev.prices] == [(99.0, "selling")]
    assert tr.observe(1.0, 101.0, [CAPTION], None) == []
    assert tr.extend(2.0, 102.0) == []
    assert tr.observe(3.0, 103.0, [CAPTION], None) == []
    end = tr.observe(4.0, 104.0, [], None) + tr.extend(5.0, 105.0) + tr.extend(6.0, 106.0)
    assert events(end) == [("end", "高仿LV包 ¥99", 0.0, 3.0)]
    assert end[0].observation_id == ev.observation_id


def test_two_misses_end_an_observation_without_waiting_for_the_grace():
    tr = tracker(end_grace_s=100.0)
    tr.observe(0.0, 0.0, [CAPTION], None)
    assert tr.observe(1.0, 0.0, [], None) == []
    assert events(tr.observe(1.5, 0.0, [], None)) == [("end", "高仿LV包 ¥99", 0.0, 0.0)]


def test_a_missed_read_followed_by_a_good_one_keeps_the_observation():
    tr = tracker()
    start = tr.observe(0.0, 0.0, [CAPTION], None)
    assert tr.observe(1.0, 0.0, [], None) == []  # blurred frame: not read
    assert tr.observe(2.0, 0.0, [CAPTION], None) == []
    assert events(tr.finish(0.0)) == [("end", "高仿LV包 ¥99", 0.0, 2.0)]
    assert tr.open_count == 0 and start


def test_ocr_jitter_is_the_same_observation_and_a_better_reading_updates_it():
    tr = tracker()
    tr.observe(0.0, 0.0, [TextLine("高仿LV包 ¥99", 0.7, Box(100, 400, 300, 50))], None)
    jitter = TextLine("高仿LV苞 ¥99", 0.6, Box(102, 401, 298, 50))
    assert tr.observe(1.0, 0.0, [jitter], None) == []
    better = TextLine("高仿LV包￥99", 0.98, Box(101, 400, 300, 50))  # same after normalisation: no update
    assert tr.observe(2.0, 0.0, [better], None) == []
    corrected = TextLine("高仿LV包包 ¥99", 0.99, Box(101, 400, 300, 50))
    assert events(tr.observe(3.0, 0.0, [corrected], None)) == [("update", "高仿LV包包 ¥99", 0.0, 3.0)]
    assert tr.open_count == 1


def test_a_new_price_is_a_new_observation():
    tr = tracker()
    a = tr.observe(0.0, 0.0, [CAPTION], None)
    b = tr.observe(1.0, 0.0, [TextLine("高仿LV包 ¥89", 0.95, CAPTION.box)], None)
    assert events(b) == [("start", "高仿LV包 ¥89", 1.0, 1.0)]
    assert b[0].observation_id != a[0].observation_id
    assert events(tr.extend(3.0, 0.0)) == [("end", "高仿LV包 ¥99", 0.0, 0.0)]


def test_text_outside_a_changed_region_continues():
    tr = tracker()
    tr.observe(0.0, 0.0, [CAPTION, TITLE], None)
    region = Box(0, 350, 1280, 150)  # only the caption's band changed, and it is gone
    out = tr.observe(1.0, 0.0, [], region) + tr.extend(4.0, 0.0)
    assert events(out) == [("end", "高仿LV包 ¥99", 0.0, 0.0)]
    assert events(tr.finish(0.0)) == [("end", "驴牌经典老花", 0.0, 4.0)]


def test_long_captions_are_refreshed_for_sliding_windows():
    tr = tracker(refresh_s=10.0)
    tr.observe(0.0, 0.0, [CAPTION], None)
    refreshed = [e for t in range(1, 25) for e in tr.extend(float(t), 0.0)]
    assert events(refreshed) == [("update", "高仿LV包 ¥99", 0.0, 10.0), ("update", "高仿LV包 ¥99", 0.0, 20.0)]


def test_low_confidence_and_single_characters_are_ignored():
    tr = tracker(min_confidence=0.6)
    assert tr.observe(0.0, 0.0, [TextLine("噪声文字", 0.3, CAPTION.box), TextLine("1", 0.99, TITLE.box)], None) == []


def test_observation_ids_are_deterministic_and_distinct_per_line():
    one = tracker().observe(0.0, 0.0, [CAPTION, TITLE], None)
    two = tracker().observe(0.0, 0.0, [CAPTION, TITLE], None)
    assert [e.observation_id for e in one] == [e.observation_id for e in two]
    assert len({e.observation_id for e in one}) == 2
