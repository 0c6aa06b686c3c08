"""The OCR stage: sampled frames in, OCR evidence out, for any number of streams.

``process(frame)`` reads the frame now (in a worker process) and returns the
evidence it produced; ``finish(stream_id)`` ends the stream's observations. The
stage is an ``events.FrameDetector``. Safe to call from several threads at once; each stream's
frames are read and applied to its text tracker one at a time, in the order
they came in (a read builds on the stream's previous one). Queueing and
back-pressure are the worker's (``livewatch.worker.VisionPool``), not the stage's.

Only frames the sampler marked as changed are read; an unchanged frame just
extends what is in view. A read frame goes through the stream's
``RegionTracker`` (``ocr/regions.py``): text is detected where pixels changed
and recognised only where lines are new or changed. With
``track_regions=False`` every read frame is detected and recognised whole, or
only the sampler's changed box (plus a margin) when that is small.
"""

from __future__ import annotations

import collections
import functools
import logging
import threading
import time
from dataclasses import dataclass

import cv2
import numpy as np

from events import Box, Evidence, LivewatchError, SampledFrame
from ocr.engine import ModelInfo, TextLine, crop_line, quad_to_box, resolve_model
from ocr.options import OcrOptions
from ocr.regions import RegionTracker
from ocr.tracking import TextTracker
from ocr.workers import EngineFactory, PoolStats, WorkerPool

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OcrStats:
    """Figures for stream status and benches.

    Of the lines in read frames, ``boxes_recognised`` were recognised and ``boxes_carried``
    kept their last text unread. Of the read frames, ``detections_full`` were detected whole
    and ``detections_region`` only in their changed areas (the rest needed no detection);
    ``detected_area`` adds up the share of each read frame detection ran on, so
    ``detected_area / frames_read`` is the detection work left.
    """

    frames_read: int
    frames_unchanged: int
    frames_failed: int
    frames_stale: int
    open_observations: int
    pool: PoolStats
    boxes_recognised: int = 0
    boxes_carried: int = 0
    detections_full: int = 0
    detections_region: int = 0
    detected_area: float = 0.0


class _Stream:
    """Per-stream state: tracker, the order frames must be applied in, counters."""

    def __init__(self, tracker: TextTracker, regions: RegionTracker) -> None:
        self.tracker = tracker
        self.regions = regions
        self.cond = threading.Condition()
        self.next_ticket = 0
        self.next_apply = 0
        self.in_flight = 0

    def take_ticket(self) -> int:
        with self.cond:
            ticket = self.next_ticket
            self.next_ticket += 1
            self.in_flight += 1
            return ticket


class OcrStage:
    """Reads on-screen text of sampled frames and follows it over time, per stream."""

    def __init__(self, options: OcrOptions | None = None, *, engine_factory: EngineFactory | None = None) -> None:
        """Start the OCR workers (seconds). ``engine_factory`` replaces the real engine (tests)."""
        self.options = options or OcrOptions()
        self.model: ModelInfo | None = None if engine_factory else resolve_model(self.options)
        self._engine_name = self.options.engine if engine_factory is None else "custom"
        self._pool = WorkerPool(self.options, engine_factory)
        self._streams: dict[str, _Stream] = {}
        self._lock = threading.Lock()
        self._counts = collections.Counter[str]()
        self._detected_area = 0.0
        log.info("OCR ready: engine %s, %d worker(s)", self._engine_name, self.options.workers)

    def process(self, frame: SampledFrame) -> list[Evidence]:
        """Read ``frame`` if it changed, update the stream's observations, return new evidence."""
        stream = self._stream(frame.stream_id)
        return self._run(frame, stream, stream.take_ticket())

    def finish(self, stream_id: str, timeout: float = 60.0) -> list[Evidence]:
        """End of stream: wait for its queued frames, then end every open observation."""
        self.drain(stream_id, timeout)
        with self._lock:
            stream = self._streams.pop(stream_id, None)
        if stream is None:
            return []
        with stream.cond:
            return stream.tracker.finish(time.time())

    def drain(self, stream_id: str | None = None, timeout: float = 60.0) -> bool:
        """Wait until the stream's (or every stream's) in-flight frames are applied."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                streams = [s for sid, s in self._streams.items() if stream_id in (None, sid)]
            if all(s.in_flight == 0 for s in streams):
                return True
            time.sleep(0.01)
        return False

    def set_full_detect_interval(self, stream_id: str, seconds: float) -> None:
        """Detect text on ``stream_id``'s whole frame every ``seconds`` of media time (between, only changed areas).

        The worker's scheduler lengthens it first when the machine is saturated (fewer reads of
        unchanged regions) and says it at every reading, so a stream not seen yet (or finished)
        is left alone: an ended stream must leave nothing behind.
        """
        with self._lock:
            stream = self._streams.get(stream_id)
        if stream is not None:
            stream.regions.full_detect_interval_s = seconds

    def stats(self) -> OcrStats:
        with self._lock:
            counts = dict(self._counts)
            open_obs = sum(s.tracker.open_count for s in self._streams.values())
            detected_area = self._detected_area
        return OcrStats(
            frames_read=counts.get("read", 0),
            frames_unchanged=counts.get("unchanged", 0),
            frames_failed=counts.get("failed", 0),
            frames_stale=counts.get("stale", 0),
            open_observations=open_obs,
            pool=self._pool.stats(),
            boxes_recognised=counts.get("recognised", 0),
            boxes_carried=counts.get("carried", 0),
            detections_full=counts.get("full", 0),
            detections_region=counts.get("region", 0),
            detected_area=round(detected_area, 3),
        )

    def close(self) -> None:
        """Stop the worker processes."""
        self._pool.close()

    def __enter__(self) -> OcrStage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- internals ---------------------------------------------------
    def _stream(self, stream_id: str) -> _Stream:
        with self._lock:
            stream = self._streams.get(stream_id)
            if stream is None:
                stream = _Stream(TextTracker(stream_id, self.options, self._engine_name), RegionTracker(self.options))
                self._streams[stream_id] = stream
            return stream

    def _count(self, key: str) -> None:
        with self._lock:
            self._counts[key] += 1

    def _run(self, frame: SampledFrame, stream: _Stream, ticket: int) -> list[Evidence]:
        """Wait for the stream's turn, read (outside any lock), apply to the tracker, pass the turn on."""
        with stream.cond:
            while stream.next_apply != ticket:
                stream.cond.wait()
        try:
            lines: list[TextLine] | None = None
            region: Box | None = None
            try:
                if frame.changed:
                    lines, region = self._read(frame, stream.regions)
            except LivewatchError as exc:
                self._count("failed")
                log.warning("OCR failed on frame at %.1f s: %s", frame.media_time, exc, extra={"stream_id": frame.stream_id})
            except Exception:
                self._count("failed")
                log.exception("OCR failed on frame at %.1f s", frame.media_time, extra={"stream_id": frame.stream_id})
            with stream.cond:
                return self._apply(frame, stream.tracker, lines, region)
        finally:
            with stream.cond:
                stream.next_apply += 1
                stream.in_flight -= 1
                stream.cond.notify_all()

    def _apply(self, frame: SampledFrame, tracker: TextTracker, lines: list[TextLine] | None, region: Box | None) -> list[Evidence]:
        t, wall = frame.media_time, frame.frame.wall_time
        if tracker.last_time is not None and t < tracker.last_time:
            self._count("stale")  # two callers raced; an older frame adds nothing after a newer one
            return []
        if lines is None:  # unchanged, or the read failed: what was in view stays in view
            if not frame.changed:
                self._count("unchanged")
            return tracker.extend(t, wall)
        self._count("read")
        return tracker.observe(t, wall, lines, region)

    def _read(self, frame: SampledFrame, regions: RegionTracker) -> tuple[list[TextLine], Box | None]:
        """OCR the frame; lines in frame pixels, and the area they describe (None = the whole frame)."""
        if not self.options.track_regions:
            return self._read_whole(frame)
        image, scale = _fit(frame.image, self.options.max_side_px)
        detect = functools.partial(self._detect, scale=min(1.0, self.options.detect_max_side_px / max(image.shape[:2])))
        read = regions.read(image, frame.media_time, detect, self._pool.recognize)
        self._tally(read.recognised, read.carried, read.full, read.detected_share)
        return [_unscale_line(ln, scale, 0, 0) for ln in read.lines], None

    def _read_whole(self, frame: SampledFrame) -> tuple[list[TextLine], Box | None]:
        """Detect and recognise everything in the frame, or in the sampler's changed box when that is small."""
        region = self._crop_region(frame)
        image = frame.image
        if region is not None:
            image = image[region.y : region.y + region.h, region.x : region.x + region.w]
        image, scale = _fit(image, self.options.max_side_px)
        (quads,) = self._detect([image], scale=min(1.0, self.options.detect_max_side_px / (scale * max(frame.image.shape[:2]))))
        texts = self._pool.recognize([crop_line(image, q) for q in quads]) if quads else []
        h, w = frame.image.shape[:2]
        self._tally(len(quads), 0, region is None, 1.0 if region is None else region.w * region.h / (w * h))
        ox, oy = (region.x, region.y) if region is not None else (0, 0)
        lines = [TextLine(text, score, quad_to_box(q)) for q, (text, score) in zip(quads, texts) if text.strip()]
        return [_unscale_line(ln, scale, ox, oy) for ln in lines], region

    def _detect(self, images: list[np.ndarray], *, scale: float) -> list[list[np.ndarray]]:
        """The detector's quads for each image, in its pixels, found on it scaled by ``scale`` (see OcrOptions)."""
        scales = [scale if min(im.shape[:2]) * scale >= self.options.detect_min_side_px else 1.0 for im in images]
        found = self._pool.detect([im if s >= 1.0 else _scaled(im, s) for im, s in zip(images, scales)])
        return [[np.asarray(q, np.float32).reshape(4, 2) / s for q in quads] for s, quads in zip(scales, found)]

    def _tally(self, recognised: int, carried: int, full: bool, detected_share: float) -> None:
        with self._lock:
            self._counts["recognised"] += recognised
            self._counts["carried"] += carried
            if full:
                self._counts["full"] += 1
            elif detected_share > 0:
                self._counts["region"] += 1
            self._detected_area += detected_share

    def _crop_region(self, frame: SampledFrame) -> Box | None:
        box = frame.changed_box
        h, w = frame.image.shape[:2]
        if not self.options.crop_changed or box is None or box.w * box.h > self.options.crop_max_fraction * w * h:
            return None
        region = box.grown(self.options.crop_margin_px, (w, h))
        return None if region.w < 8 or region.h < 8 else region


def _fit(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Scale down so the longer side is at most ``max_side`` (never up)."""
    h, w = image.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale >= 1.0:
        return image, 1.0
    return _scaled(image, scale), scale


def _scaled(image: np.ndarray, scale: float) -> np.ndarray:
    h, w = image.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA))


def _unscale_line(line: TextLine, scale: float, ox: int, oy: int) -> TextLine:
    """A line read on a scaled (and cropped) image, with its box in frame pixels."""
    b = line.box
    box = Box(round(b.x / scale) + ox, round(b.y / scale) + oy, round(b.w / scale), round(b.h / scale))
    return TextLine(line.text, line.score, box)
