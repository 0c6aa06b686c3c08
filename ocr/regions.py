"""Text regions of one stream, carried from frame to frame: read only what changed.

In a live-commerce frame the host moves while the product card, the price
sticker and the captions stay put for seconds, so the sampler marks nearly
every frame changed. Reading such a frame whole re-detects and re-recognises
text that has not changed. A ``RegionTracker`` remembers each text line it
read (its quad, its text, and a small grey thumbnail of its crop) and, on the
next frame:

- detects lines only in the areas whose pixels changed since the last read
  frame (grown by a margin and by any known line they touch, so a line is
  detected whole), or on the whole frame when those areas are large or a full
  sweep is due (``full_detect_interval_s``);
- keeps a known line with its last text, without recognition, when it lies
  outside those areas, or when detection finds it again in place and its crop
  still matches the thumbnail taken when it was recognised (compared with the
  thumbnail from that read, not the previous frame, so slow drift adds up);
- recognises new lines and changed ones together in one batch: a price that
  changes in place changes the pixels of its line, so it is re-read on the
  very next read frame;
- forgets a known line that detection no longer finds where it looked;
- on a full sweep, also recognises again the lines last read below
  ``min_confidence`` (unusable as they are), in case a cleaner frame reads them.

The lines it returns describe the whole frame, whichever parts were
recognised, so the text tracker sees a carried line exactly as a re-read one.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from events import Box
from ocr.engine import TextLine, crop_line, quad_to_box
from ocr.options import OcrOptions

Detect = Callable[[list[np.ndarray]], list[list[np.ndarray]]]
Recognize = Callable[[list[np.ndarray]], list[tuple[str, float]]]

LINE_THUMB_H = 24  # px: a digit of a 50 px line spans ~10x20 thumbnail pixels, encoder noise averages out
FRAME_THUMB_W = 320  # px: 4x below 1280, fine enough to keep a new caption apart from the moving host
_SAME_BOX_IOU = 0.8  # a re-detected line in the same place (detector jitter is 1-2 px)
_MAX_AREAS = 6  # more changed areas than this are detected as one (each detector call has a fixed cost)


@dataclass(eq=False)
class _Region:
    quad: np.ndarray
    box: Box
    thumb: np.ndarray
    text: str
    score: float


@dataclass(frozen=True)
class RegionRead:
    """What one frame's read found and what it cost.

    ``lines``: every text line in the frame (carried and recognised alike);
    ``recognised`` / ``carried``: lines recognised now / kept without recognition;
    ``full``: detection ran on the whole frame; ``detected_share``: the share of the
    frame's area detection ran on (0 when nothing changed).
    """

    lines: list[TextLine]
    recognised: int
    carried: int
    full: bool
    detected_share: float


class RegionTracker:
    """The text lines of one stream's last read frame. Feed frames in media-time order."""

    def __init__(self, options: OcrOptions) -> None:
        self._opts = options
        self.full_detect_interval_s = options.full_detect_interval_s  # longer while the worker is saturated
        self._regions: list[_Region] = []
        self._ref: np.ndarray | None = None
        self._last_full: float | None = None

    def read(self, image: np.ndarray, t: float, detect: Detect, recognize: Recognize) -> RegionRead:
        """Read ``image`` (BGR, the frame at media time ``t``), detecting and recognising only what changed.

        Nothing is kept when ``detect`` or ``recognize`` raises: the next frame is compared
        with the last frame that was read.
        """
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        h, w = grey.shape
        thumb = _thumb(grey, width=FRAME_THUMB_W)
        changed = {id(r) for r in self._regions if self._crop_changed(grey, r)}
        areas = None if self._full_due(t, thumb) else self._areas(thumb, (w, h), [r.box for r in self._regions if id(r) in changed])
        full = areas is None
        if full:  # a line read too poorly to use gets another chance on each full sweep
            changed |= {id(r) for r in self._regions if r.score < self._opts.min_confidence}
        if areas is None:
            areas = [Box(0, 0, w, h)]
        quads = _detect(image, areas, detect) if areas else []
        covered = [r for r in self._regions if any(r.box.intersection(a) for a in areas)]
        found = _same_place(covered, quads, changed)
        again = set(found.values())
        kept = [r for r in self._regions if r not in covered or id(r) in again]
        to_read = [q for i, q in enumerate(quads) if i not in found]
        texts = recognize([crop_line(image, q) for q in to_read]) if to_read else []
        fresh = [_region(grey, q, text, score) for q, (text, score) in zip(to_read, texts)]
        self._regions = sorted(kept + fresh, key=lambda r: (r.box.y, r.box.x))
        self._ref = thumb
        if full:
            self._last_full = t
        lines = [TextLine(r.text, r.score, r.box) for r in self._regions if r.text.strip()]
        share = sum(a.w * a.h for a in areas) / float(w * h)
        return RegionRead(lines, len(fresh), len(kept), full, round(share, 4))

    # --- internals -------------------------------------------------------
    def _full_due(self, t: float, thumb: np.ndarray) -> bool:
        if self._ref is None or self._ref.shape != thumb.shape or self._last_full is None:
            return True
        return not 0 <= t - self._last_full < self.full_detect_interval_s

    def _crop_changed(self, grey: np.ndarray, region: _Region) -> bool:
        now = _line_thumb(grey, region.box)
        if now is None or now.shape != region.thumb.shape:
            return True
        return _differs(region.thumb, now, self._opts.change_level, self._opts.change_pixels)

    def _areas(self, thumb: np.ndarray, size: tuple[int, int], changed_lines: list[Box]) -> list[Box] | None:
        """Where to detect: changed pixels and changed lines, grown; None when that is most of the frame."""
        assert self._ref is not None
        w, h = size
        sx, sy = w / thumb.shape[1], h / thumb.shape[0]
        m = self._opts.crop_margin_px
        blobs = [Box(int(x * sx), int(y * sy), int(np.ceil(bw * sx)), int(np.ceil(bh * sy)))
                 for x, y, bw, bh in _changed_blobs(self._ref, thumb, self._opts.change_level, self._opts.change_pixels)]
        areas = _merge([b.grown(m, size) for b in blobs + changed_lines], [r.box for r in self._regions], size)
        if len(areas) > _MAX_AREAS:
            areas = [_union(areas)]
        if sum(a.w * a.h for a in areas) > self._opts.crop_max_fraction * w * h:
            return None
        return areas


def _region(grey: np.ndarray, quad: np.ndarray, text: str, score: float) -> _Region:
    box = quad_to_box(quad)
    thumb = _line_thumb(grey, box)
    return _Region(quad, box, thumb if thumb is not None else np.zeros((0, 0), np.uint8), text, score)


def _detect(image: np.ndarray, areas: list[Box], detect: Detect) -> list[np.ndarray]:
    """Quads found in ``areas`` of ``image``, in frame pixels (one detector request for all areas)."""
    crops = [np.ascontiguousarray(image[a.y : a.y + a.h, a.x : a.x + a.w]) for a in areas]
    offsets = [np.array([a.x, a.y], np.float32) for a in areas]
    return [np.asarray(q, np.float32).reshape(4, 2) + off for off, found in zip(offsets, detect(crops)) for q in found]


def _same_place(covered: list[_Region], quads: list[np.ndarray], changed: set[int]) -> dict[int, int]:
    """Quad index -> id of the unchanged known line it re-detects in place (one to one, best first)."""
    boxes = [quad_to_box(q) for q in quads]
    pairs = sorted(
        ((r.box.iou(b), i, id(r)) for r in covered if id(r) not in changed for i, b in enumerate(boxes)),
        reverse=True,
    )
    found: dict[int, int] = {}
    for iou, i, rid in pairs:
        if iou < _SAME_BOX_IOU:
            break
        if i not in found and rid not in found.values():
            found[i] = rid
    return found


def _thumb(grey: np.ndarray, *, width: int | None = None, height: int | None = None) -> np.ndarray:
    """Area-averaged grey thumbnail ``width`` wide or ``height`` high (aspect kept, never empty)."""
    h, w = grey.shape[:2]
    if width is not None:
        size = (min(width, w), max(1, round(h * min(width, w) / w)))
    else:
        assert height is not None
        size = (max(1, round(w * height / h)), height)
    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA)


def _line_thumb(grey: np.ndarray, box: Box) -> np.ndarray | None:
    x0, y0 = max(0, box.x), max(0, box.y)
    x1, y1 = min(grey.shape[1], box.x + box.w), min(grey.shape[0], box.y + box.h)
    if x1 <= x0 or y1 <= y0:
        return None
    return _thumb(grey[y0:y1, x0:x1], height=LINE_THUMB_H)


def _differs(a: np.ndarray, b: np.ndarray, level: int, pixels: int) -> bool:
    return int(np.count_nonzero(cv2.absdiff(a, b) > level)) >= pixels


def _changed_blobs(old: np.ndarray, new: np.ndarray, level: int, pixels: int) -> list[tuple[int, int, int, int]]:
    """Boxes (thumbnail pixels) of changed areas with at least ``pixels`` changed pixels each.

    Changed pixels are joined across one thumbnail pixel (the glyphs of a line become one
    area); areas with fewer changed pixels are encoder noise.
    """
    mask = (cv2.absdiff(old, new) > level).astype(np.uint8)
    if not mask.any():
        return []
    n, labels, stats, _ = cv2.connectedComponentsWithStats(cv2.dilate(mask, np.ones((3, 3), np.uint8)), connectivity=8)
    counts = np.bincount(labels[mask > 0], minlength=n)
    return [(int(stats[i, 0]), int(stats[i, 1]), int(stats[i, 2]), int(stats[i, 3])) for i in range(1, n) if counts[i] >= pixels]


def _union(boxes: list[Box]) -> Box:
    return functools.reduce(Box.bounding, boxes)


def _merge(areas: list[Box], lines: list[Box], size: tuple[int, int]) -> list[Box]:
    """Overlapping areas as one, each grown to hold whole any known line it touches."""
    areas = [a for a in areas if a.w > 0 and a.h > 0]
    lines = [ln.grown(0, size) for ln in lines]  # a line reaching past the frame edge is held whole once clipped
    merged = True
    while merged:
        merged = False
        for i, a in enumerate(areas):
            touching = [ln for ln in lines if a.intersection(ln) and a.intersection(ln) < ln.w * ln.h]
            others = [j for j, b in enumerate(areas) if j != i and a.intersection(b)]
            if touching or others:
                grown = _union([a, *touching, *(areas[j] for j in others)])
                areas = [b for j, b in enumerate(areas) if j != i and j not in others] + [grown.grown(0, size)]
                merged = True
                break
    return areas
