"""The logo stage: sampled frames in, ``logo`` evidence out.

Runs only on frames the sampler marked as changed (a near-duplicate frame
shows the same logos, so it just extends what is already in view), and only
on the part that changed (``changed_box``, with a margin and the logos in view
it touches): in a live-commerce frame the host moves while the card with its
logo stays put, and a logo outside the change is still in view. It matches
every method, keeps the best of overlapping hits across brands, and tracks
each brand's appearance as one observation (``events.ObservationTracker``):
one event when it appears, an update every ``reemit_interval_s`` while it
stays, and a last one with the final span when it has been gone for
``max_gap_s``. It is an ``events.FrameDetector``.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass, replace
from typing import Callable, Sequence

import cv2
import numpy as np

from events import Box, Brand, ConfigError, Evidence, Modality, Observation, ObservationTracker, SampledFrame, Snapshot
from logos.matcher import LogoHit, LogoMatcher, box_iou, keep_best, load_references
from logos.shape import ShapeMatcher, ShapeParams
from logos.sift import SiftMatcher, SiftParams

log = logging.getLogger(__name__)

METHODS = ("sift", "shape")
_OBS_NAMESPACE = uuid.UUID("0b3c5e0e-3f7e-4a8e-9a39-1f5d8c2b7a61")


@dataclass(frozen=True, slots=True)
class LogoOptions:
    """``max_side``: frames are downscaled to this longest side before matching (640: a quarter of
    the pixels of 720p; ``bench/bench_logos.py`` and the stored broadcasts kept every logo there;
    1280 keeps 720p as is, for logos smaller than ~40 px on a 720p frame).

    ``crop_changed``: match only the sampler's ``changed_box`` grown by ``crop_margin_px`` (frame
    pixels) and by the boxes of the logos in view it touches, unless that covers more than
    ``crop_max_fraction`` of the frame (then the whole frame, as with ``crop_changed=False``).
    """

    methods: tuple[str, ...] = METHODS
    max_side: int = 640
    reference_max_side: int = 400
    min_confidence: float = 0.5
    max_overlap: float = 0.3
    changed_only: bool = True
    crop_changed: bool = True
    crop_margin_px: int = 32
    crop_max_fraction: float = 0.5
    max_gap_s: float = 5.0
    reemit_interval_s: float = 10.0
    sift: SiftParams = SiftParams()
    shape: ShapeParams = ShapeParams()

    def __post_init__(self) -> None:
        unknown = set(self.methods) - set(METHODS)
        if unknown or not self.methods:
            raise ConfigError(f"logos.methods {list(self.methods)}: choose one or more of {list(METHODS)}")
        if self.max_side < 160 or self.reference_max_side < 64:
            raise ConfigError("logos.max_side must be >= 160 and reference_max_side >= 64 pixels")
        if not 0 <= self.min_confidence <= 1 or not 0 < self.max_overlap <= 1:
            raise ConfigError("logos.min_confidence must be in [0, 1] and max_overlap in (0, 1]")
        if self.crop_margin_px < 0 or not 0 < self.crop_max_fraction <= 1:
            raise ConfigError("logos.crop_margin_px must be >= 0 and crop_max_fraction in (0, 1]")


@dataclass
class _Sighting(Observation):
    """One brand's appearance: the best hit so far (its box follows the logo) and the frame it was first seen in."""

    hit: LogoHit
    snapshot: Snapshot | None
    in_view: bool = True


class LogoStage:
    """Finds registered brands' logos in sampled frames.

    ``snapshotter`` (optional) turns a BGR frame into a stored JPEG, or None when
    it could not store one; the top floor passes ``SnapshotStore.try_save`` so
    evidence carries its snapshot, and goes on without it on a full disk.
    Frames of one stream must be processed in order (the vision pool does);
    different streams may be processed concurrently.
    """

    def __init__(self, brands: Sequence[Brand], options: LogoOptions = LogoOptions(),
                 snapshotter: Callable[[np.ndarray], Snapshot | None] | None = None):
        self.options = options
        self._labels = {b.brand_id: b.names[0] for b in brands}
        refs = load_references(brands, options.reference_max_side)
        self.matchers: list[LogoMatcher] = []
        if "sift" in options.methods:
            self.matchers.append(SiftMatcher(refs, options.sift))
        if "shape" in options.methods:
            self.matchers.append(ShapeMatcher(refs, options.shape))
        self._snapshotter = snapshotter
        self._streams: dict[str, ObservationTracker[_Sighting]] = {}
        self._lock = threading.Lock()

    def detect(self, image: np.ndarray, region: Box | None = None) -> list[LogoHit]:
        """Hits in one BGR image (only in ``region`` of it, if given), boxes in the image's pixels,
        best of overlapping hits only. A region is scaled as the whole image would be, so a logo
        is matched at the same size either way."""
        scale = min(1.0, self.options.max_side / max(image.shape[:2]))
        crop = image if region is None else image[region.y : region.y + region.h, region.x : region.x + region.w]
        if crop.size == 0:
            return []
        work = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else crop
        gray = cv2.cvtColor(work, cv2.COLOR_BGR2GRAY)
        hits = [h for m in self.matchers for h in m.match(gray, work) if h.score >= self.options.min_confidence]
        origin = (0, 0) if region is None else (region.x, region.y)
        return [_to_image(h, 1 / scale, origin) for h in keep_best(hits, self.options.max_overlap)]

    def process(self, frame: SampledFrame) -> list[Evidence]:
        """Match a changed frame (an unchanged one only extends what is in view); the evidence due."""
        with self._lock:
            tracker = self._streams.get(frame.stream_id)
            if tracker is None:
                tracker = self._streams[frame.stream_id] = ObservationTracker(self.options.max_gap_s,
                                                                             self.options.reemit_interval_s)
        t = frame.media_time
        if self.options.changed_only and not frame.changed:
            for obs in tracker.open:
                if obs.in_view:
                    obs.last = t
            return []
        out = []
        matched: set[int] = set()
        region = self._region(frame, tracker.open)
        # a logo outside the region is known to be where it was: a hit inside is never it
        looked_at = [o for o in tracker.open if region is None or region.intersection(o.hit.box)]
        for hit in self.detect(frame.image, region):
            found = _find(looked_at, hit, matched)
            if found is None:
                obs = tracker.start(self._open(frame, hit))
                out.append(self._evidence(frame, obs))
                log.info("logo %s in view", hit.brand_id, extra={"stream_id": frame.stream_id, "score": round(hit.score, 3)})
            else:
                obs = found
                obs.hit = hit if hit.score >= obs.hit.score else replace(obs.hit, box=hit.box)
                if tracker.extend(obs, t):
                    out.append(self._evidence(frame, obs))
            matched.add(id(obs))
        for obs in tracker.open:
            if id(obs) in matched:
                obs.in_view = True
            elif region is not None and not region.intersection(obs.hit.box) and obs.in_view:
                obs.last = t  # not looked at: outside the change, so still in view
            else:
                obs.in_view = False
        return out + [self._evidence(frame, obs) for obs in tracker.expire(t)]

    def finish(self, stream_id: str) -> list[Evidence]:
        """The stream ended: final spans of logos still in view, and forget the stream."""
        with self._lock:
            tracker = self._streams.pop(stream_id, None)
        return [] if tracker is None else [self._evidence(None, obs, stream_id) for obs in tracker.finish()]

    def close(self) -> None:
        """Nothing to stop: matching runs in the caller's thread."""

    def _region(self, frame: SampledFrame, open_obs: list[_Sighting]) -> Box | None:
        """Where to match in a changed frame: the change with a margin, grown to cover the logos in
        view it touches (one cut in two by the crop would not match); None: the whole frame."""
        o = self.options
        box = frame.changed_box
        if not o.crop_changed or box is None:
            return None
        h, w = frame.image.shape[:2]
        region = box.grown(o.crop_margin_px, (w, h))
        for obs in open_obs:
            if obs.in_view and region.intersection(obs.hit.box):
                region = region.bounding(obs.hit.box).grown(0, (w, h))  # a logo box may reach past the edge
        return None if region.w * region.h > o.crop_max_fraction * w * h else region

    def _open(self, frame: SampledFrame, hit: LogoHit) -> _Sighting:
        t = frame.media_time
        oid = str(uuid.uuid5(_OBS_NAMESPACE, f"{frame.stream_id}|{hit.brand_id}|{frame.frame.index}|{t:.3f}"))
        snapshot = self._snapshotter(frame.image) if self._snapshotter else None
        return _Sighting(oid, t, t, hit, snapshot)

    def _evidence(self, frame: SampledFrame | None, obs: _Sighting, stream_id: str = "") -> Evidence:
        obs.reported(frame.media_time if frame is not None else obs.last)
        hit = obs.hit
        details = {"method": hit.method, "logo": hit.logo_path, **hit.details}
        if frame is not None:
            details["frame_index"] = frame.frame.index
        return Evidence(
            stream_id=frame.stream_id if frame is not None else stream_id,
            modality=Modality.LOGO,
            media_start=obs.first,
            media_end=obs.last,
            text=self._labels.get(hit.brand_id, hit.brand_id),
            confidence=round(float(hit.score), 4),
            wall_time=frame.frame.wall_time if frame is not None else 0.0,
            brand=hit.brand_id,
            box=hit.box,
            snapshot=obs.snapshot,
            observation_id=obs.observation_id,
            details=details,
        )


def _find(open_obs: list[_Sighting], hit: LogoHit, taken: set[int]) -> _Sighting | None:
    """The open observation this hit continues: same brand, and the box overlaps (or is the only one)."""
    same = [o for o in open_obs if o.hit.brand_id == hit.brand_id and id(o) not in taken]
    overlapping = [o for o in same if box_iou(o.hit.box, hit.box) > 0.1]
    if overlapping:
        return overlapping[0]
    return same[0] if len(same) == 1 and not any(o.hit.brand_id == hit.brand_id for o in open_obs if id(o) in taken) else None


def _to_image(hit: LogoHit, f: float, origin: tuple[int, int]) -> LogoHit:
    """A hit on the scaled (and cropped) work image, in the pixels of the image it came from."""
    if f == 1 and origin == (0, 0):
        return hit
    ox, oy = origin
    b = hit.box
    box = Box(int(round(b.x * f)) + ox, int(round(b.y * f)) + oy, int(round(b.w * f)), int(round(b.h * f)))
    details = dict(hit.details)
    if "quad" in details:
        details["quad"] = [[round(x * f + ox, 1), round(y * f + oy, 1)] for x, y in details["quad"]]
    return replace(hit, box=box, details=details)
