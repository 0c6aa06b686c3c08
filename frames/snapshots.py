"""Evidence snapshots: JPEGs named by their SHA-256, and a short ring of recent frames to take them from.

Alerts are decided after the fact (a rule window closes seconds after the
frame was on screen), so the worker keeps the last minute of sampled frames
as JPEG bytes and snapshots the one behind each piece of evidence. Naming by
content hash makes saving idempotent and lets an alert consumer verify the
file it was pointed to.

A snapshot is a supplement to an alert, never a condition of it: ``try_save``
returns None when the file cannot be written (a full disk, a read-only
volume) and the caller raises the alert without it, marked as such.
"""

from __future__ import annotations

import bisect
import hashlib
import os
import tempfile
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from events import ConfigError, SampledFrame, Snapshot

JPEG_QUALITY = 88


def encode_jpeg(image: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    """BGR (or grey) uint8 image -> JPEG bytes (deterministic for the same pixels)."""
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError(f"cannot encode a {image.shape} {image.dtype} image as JPEG")
    return buf.tobytes()


@dataclass(frozen=True, slots=True)
class SnapshotFailures:
    """Snapshots ``try_save`` could not write so far, and the last reason (e.g. "No space left on device")."""

    count: int = 0
    last_error: str | None = None


class SnapshotStore:
    """A directory of evidence JPEGs, each named ``<sha256>.jpg``; safe to share between threads."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._failures = SnapshotFailures()
        self._lock = threading.Lock()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"snapshot directory {self.root}: cannot create it ({exc.strerror}); pick a writable path") from None

    def save(self, image: np.ndarray | bytes) -> Snapshot:
        """Store a BGR image (encoded here) or JPEG bytes as given; saving the same bytes twice is a no-op.

        The file is written to a temporary name and renamed, so a reader never
        sees a half-written snapshot.
        """
        data = encode_jpeg(image) if isinstance(image, np.ndarray) else bytes(image)
        if not data.startswith(b"\xff\xd8"):
            raise ValueError("snapshot bytes are not a JPEG (no FFD8 start marker); pass the image array instead")
        digest = hashlib.sha256(data).hexdigest()
        path = self.root / f"{digest}.jpg"
        if not path.exists():
            self._write(path, data)
        return Snapshot(path=str(path), sha256=digest)

    def try_save(self, image: np.ndarray | bytes) -> Snapshot | None:
        """``save``, or None when the file cannot be written (``OSError``: full disk, read-only volume).

        Evidence must never depend on its snapshot: the caller goes on without one and says so.
        Failures are counted (``failures``); a bad image still raises ``ValueError``.
        """
        try:
            return self.save(image)
        except OSError as exc:
            with self._lock:
                self._failures = SnapshotFailures(self._failures.count + 1, exc.strerror or str(exc) or type(exc).__name__)
            return None

    @property
    def failures(self) -> SnapshotFailures:
        return self._failures

    def _write(self, path: Path, data: bytes) -> None:
        """Write to a temporary name, then rename; a failed write leaves nothing behind."""
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=self.root)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class RecentFrames:
    """A bounded ring of one stream's recent sampled frames, JPEG-encoded, by media time.

    Bounded both by media age (``max_age_s`` behind the newest frame) and by
    count (``max_frames``), so memory stays flat whatever the sampling rate.
    Thread-safe: the stream thread adds while the rules thread looks up.
    """

    def __init__(self, max_age_s: float = 60.0, max_frames: int = 120, quality: int = JPEG_QUALITY) -> None:
        if max_age_s <= 0 or max_frames < 1:
            raise ConfigError(f"RecentFrames(max_age_s={max_age_s}, max_frames={max_frames}): both must be positive")
        self.max_age_s = max_age_s
        self.max_frames = max_frames
        self.quality = quality
        self._times: deque[float] = deque()
        self._jpegs: deque[bytes] = deque()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._times)

    def add(self, frame: SampledFrame) -> None:
        """Keep ``frame`` (encoded now); frames must come in media-time order (older ones are ignored)."""
        jpeg = encode_jpeg(frame.image, self.quality)
        t = frame.media_time
        with self._lock:
            if self._times and t < self._times[-1]:
                return
            self._times.append(t)
            self._jpegs.append(jpeg)
            while len(self._times) > self.max_frames or (self._times and self._times[0] < t - self.max_age_s):
                self._times.popleft()
                self._jpegs.popleft()

    def at(self, media_time: float) -> bytes | None:
        """JPEG of the newest frame at or before ``media_time`` (None if the ring has nothing that old)."""
        with self._lock:
            i = bisect.bisect_right(self._times, media_time + 1e-6)
            return self._jpegs[i - 1] if i > 0 else None

    def span(self) -> tuple[float, float] | None:
        """Media times of the oldest and newest frames kept."""
        with self._lock:
            return (self._times[0], self._times[-1]) if self._times else None
