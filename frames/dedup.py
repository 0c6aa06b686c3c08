"""Near-duplicate frame detection: a 64-bit DCT perceptual hash plus a downscaled pixel diff.

The hash catches scene changes cheaply, but it is blind to a small change
such as a new price on a product card (a few percent of the picture), which
is exactly what OCR must see. So a frame also counts as changed when enough
of its downscaled picture differs from the last changed frame, and
``changed_box`` tells detectors where to look.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from events import Box, ConfigError, SampledFrame, VideoFrame

_HASH_SIZE = 8  # 8x8 low frequencies -> 64 bits
_DCT_SIZE = 32
_THUMB_WIDTH = 160


@dataclass(frozen=True, slots=True)
class DedupOptions:
    """When a sampled frame counts as "unchanged".

    ``max_hamming``: hash bits that may differ for a near-duplicate (of 64).
    ``diff_width``: width of the grey thumbnail the pixel diff runs on.
    ``pixel_threshold``: grey-level difference (0-255) that marks a thumbnail
    pixel as changed. ``min_changed_fraction``: share of changed thumbnail
    pixels that makes the frame changed even when the hash is close (a text
    line on a 720p frame is ~1%; a blinking badge ~0.1%).
    """

    max_hamming: int = 6
    diff_width: int = _THUMB_WIDTH
    pixel_threshold: int = 28
    min_changed_fraction: float = 0.004

    def __post_init__(self) -> None:
        if not 0 <= self.max_hamming <= 64:
            raise ConfigError(f"dedup max_hamming={self.max_hamming}: must be 0..64 bits")
        if self.diff_width < 16 or not 0 < self.pixel_threshold < 256 or not 0 <= self.min_changed_fraction <= 1:
            raise ConfigError("dedup options: diff_width >= 16, 0 < pixel_threshold < 256, 0 <= min_changed_fraction <= 1")


def _grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image


def phash(image: np.ndarray) -> int:
    """64-bit DCT perceptual hash of a BGR (or grey) image.

    Grey, 32x32 area-averaged, 2-D DCT; the 8x8 lowest frequencies are
    compared with their median (the DC term left out of the median, as it only
    says how bright the picture is). Bit 63 is the top-left coefficient.
    Computed from the same 160-px thumbnail as ``FrameDeduper`` (default
    options), so both give the same hash for a frame.
    """
    return _phash_thumb(_thumb(_grey(image), _THUMB_WIDTH))


def _thumb(grey: np.ndarray, width: int) -> np.ndarray:
    """Area-averaged grey thumbnail ``width`` pixels wide (aspect kept)."""
    h, w = grey.shape[:2]
    tw = min(width, w)
    return cv2.resize(grey, (tw, max(1, round(h * tw / w))), interpolation=cv2.INTER_AREA)


def _phash_thumb(thumb: np.ndarray) -> int:
    small = cv2.resize(thumb, (_DCT_SIZE, _DCT_SIZE), interpolation=cv2.INTER_AREA)
    dct = cv2.dct(small.astype(np.float32))[:_HASH_SIZE, :_HASH_SIZE].reshape(-1)
    bits = dct > np.median(dct[1:])
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two hashes."""
    return (a ^ b).bit_count()


@dataclass
class _Reference:
    phash: int
    thumb: np.ndarray  # grey thumbnail, uint8


class FrameDeduper:
    """Marks each sampled frame changed or not against the last *changed* frame of its stream.

    Comparing with the last changed frame (not simply the previous one) means
    a slow drift still adds up to a change. State is kept per ``stream_id``,
    so one deduper may serve several streams.
    """

    def __init__(self, options: DedupOptions = DedupOptions()) -> None:
        self.options = options
        self._refs: dict[str, _Reference] = {}

    def reset(self, stream_id: str) -> None:
        """Forget a stream (the next frame of it counts as changed)."""
        self._refs.pop(stream_id, None)

    def process(self, frame: VideoFrame) -> SampledFrame:
        h, w = frame.image.shape[:2]
        thumb = _thumb(_grey(frame.image), self.options.diff_width)
        code = _phash_thumb(thumb)
        ref = self._refs.get(frame.stream_id)
        if ref is None or ref.thumb.shape != thumb.shape:
            self._refs[frame.stream_id] = _Reference(code, thumb)
            return SampledFrame(frame, code, changed=True, changed_box=None)
        box, fraction = self._diff_box(ref.thumb, thumb, (w, h))
        scene_change = hamming(code, ref.phash) > self.options.max_hamming
        if not scene_change and fraction < self.options.min_changed_fraction:
            return SampledFrame(frame, code, changed=False, changed_box=None)
        self._refs[frame.stream_id] = _Reference(code, thumb)
        return SampledFrame(frame, code, changed=True, changed_box=None if scene_change else box)

    def _diff_box(self, old: np.ndarray, new: np.ndarray, full: tuple[int, int]) -> tuple[Box | None, float]:
        """Bounding box (full-frame pixels) of the changed thumbnail pixels, and their share.

        A 3x3 opening drops isolated pixels (compression noise) before
        measuring; the box is padded by one thumbnail pixel each side.
        """
        changed = (cv2.absdiff(old, new) > self.options.pixel_threshold).astype(np.uint8)
        mask = cv2.morphologyEx(changed, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        count = int(mask.sum())
        if count == 0:
            return None, 0.0
        ys, xs = np.nonzero(mask)
        th, tw = mask.shape
        sx, sy = full[0] / tw, full[1] / th
        x0, x1 = max(0, xs.min() - 1), min(tw, xs.max() + 2)
        y0, y1 = max(0, ys.min() - 1), min(th, ys.max() + 2)
        box = Box(int(x0 * sx), int(y0 * sy), int(round((x1 - x0) * sx)), int(round((y1 - y0) * sy)))
        return box, count / mask.size
