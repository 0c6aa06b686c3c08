"""Pure decisions of the reader: which packets to decode, which frames to keep, audio chunking, ordering.

Kept apart from the PyAV plumbing in ``source.py`` so they can be tested with
plain numbers.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import deque
from typing import Any

import numpy as np

_EPS = 1e-3  # timestamps like 0.9999 belong to the grid point 1.0


class FrameGrid:
    """Keeps the first frame at or after each multiple of ``interval`` seconds.

    Only kept frames are converted to BGR arrays, the costly step after
    decoding. When frames are sparser than the grid (keyframe-only decoding),
    each frame takes the grid point it reaches, so none is emitted twice.
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.next_t = -math.inf

    def take(self, t: float) -> bool:
        if t + _EPS < self.next_t:
            return False
        self.next_t = (math.floor((t + _EPS) / self.interval) + 1) * self.interval
        return True


class KeyframeGate:
    """Says whether a video packet has to be decoded at all.

    A non-key packet is needed only to decode the frames after it in its GOP.
    Once keyframes come at most one sampling interval apart, every grid point
    can be served by a keyframe, so non-key packets are never decoded. If the
    spacing then grows past the interval, decoding of every packet resumes at
    the next keyframe (a P-frame cannot be decoded without its GOP's start).
    Packets before the very first keyframe are skipped too: they would decode
    to grey garbage.
    """

    def __init__(self, interval: float, tolerance: float | None = None, history: int = 4) -> None:
        self.interval = interval
        self.tolerance = 0.1 * interval if tolerance is None else tolerance
        self._tolerance_share = self.tolerance / interval  # kept when the interval changes
        self.spacings: deque[float] = deque(maxlen=history)
        self.last_key: float | None = None
        self.skipping = False
        self.waiting_key = True

    def retime(self, interval: float) -> None:
        """A new sampling interval (the worker lengthens it under load); the tolerance keeps its share."""
        self.interval = interval
        self.tolerance = self._tolerance_share * interval

    def restart(self) -> None:
        """A new connection or lap: wait for its first keyframe, keep what was learnt about spacing."""
        self.last_key = None
        self.waiting_key = True

    @property
    def spacing(self) -> float | None:
        """Largest recent keyframe spacing in seconds (None until two keyframes were seen)."""
        return max(self.spacings) if self.spacings else None

    def needs_decode(self, t: float, is_key: bool) -> bool:
        limit = self.interval + self.tolerance
        if is_key:
            if self.last_key is not None and t > self.last_key:
                self.spacings.append(t - self.last_key)
            self.last_key = t
            self.skipping = bool(self.spacings) and max(self.spacings) <= limit
            self.waiting_key = False
            return True
        if self.waiting_key:
            return False
        if self.skipping and self.last_key is not None and t - self.last_key > limit:
            self.skipping = False
            self.waiting_key = True
            self.spacings.clear()
        return not (self.skipping or self.waiting_key)


class AudioChunker:
    """Cuts a mono sample stream into fixed-length chunks stamped with media time.

    Time comes from the first samples and then from the sample count, so
    chunks stay contiguous; a jump of more than ``tolerance_s`` between the
    expected and the stamped time (a reconnect, a gap in the source) closes
    the current chunk early and restarts the clock.
    """

    def __init__(self, rate: int, chunk_s: float, tolerance_s: float = 0.2) -> None:
        self.rate = rate
        self.chunk_n = max(1, int(round(chunk_s * rate)))
        self.tolerance_s = tolerance_s
        self.start: float | None = None
        self.buffer = np.zeros(0, dtype=np.float32)

    @property
    def position(self) -> float | None:
        """Media time of the next sample expected (None before any)."""
        return None if self.start is None else self.start + self.buffer.size / self.rate

    def add(self, t: float, samples: np.ndarray) -> list[tuple[float, np.ndarray]]:
        out: list[tuple[float, np.ndarray]] = []
        position = self.position
        if self.start is None or position is None or abs(t - position) > self.tolerance_s:
            out.extend(self.flush())
            self.start = t
        self.buffer = np.concatenate([self.buffer, samples.astype(np.float32, copy=False)])
        while self.buffer.size >= self.chunk_n:
            out.append((self.start, self.buffer[: self.chunk_n].copy()))
            self.buffer = self.buffer[self.chunk_n :]
            self.start += self.chunk_n / self.rate
        return out

    def flush(self) -> list[tuple[float, np.ndarray]]:
        """The partial chunk, if any (end of stream or a discontinuity)."""
        out = [(self.start, self.buffer.copy())] if self.start is not None and self.buffer.size else []
        self.start = None
        self.buffer = np.zeros(0, dtype=np.float32)
        return out


class Interleaver:
    """Releases events in media-time order across tracks.

    Decoders and the audio chunker finish items at different points of the
    packet stream (an audio chunk is complete only after a later video packet
    was read), so items wait until every track has read past them, or until
    they are ``max_wait_s`` of media time behind the newest packet (a track
    that went quiet must not hold the others back).
    """

    def __init__(self, tracks: tuple[str, ...], max_wait_s: float = 2.0) -> None:
        self.progress = {track: -math.inf for track in tracks}
        self.max_wait_s = max_wait_s
        self.heap: list[tuple[float, int, Any]] = []
        self.seq = itertools.count()

    def push(self, t: float, item: Any) -> None:
        heapq.heappush(self.heap, (t, next(self.seq), item))

    def advance(self, track: str, t: float) -> list[Any]:
        """Record that ``track`` has read up to ``t``; returns the items now in order."""
        self.progress[track] = max(self.progress.get(track, -math.inf), t)
        watermark = max(min(self.progress.values()), max(self.progress.values()) - self.max_wait_s)
        out = []
        while self.heap and self.heap[0][0] <= watermark:
            out.append(heapq.heappop(self.heap)[2])
        return out

    def drain(self) -> list[Any]:
        out = [heapq.heappop(self.heap)[2] for _ in range(len(self.heap))]
        self.progress = {track: -math.inf for track in self.progress}
        return out
