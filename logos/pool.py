"""A bounded pool of vision workers shared by all streams.

Logo matching costs 50-600 ms a frame; a stream's sampler must never wait on
it, nor one busy stream starve another. ``submit`` never blocks: frames go to
a bounded queue, and when it is full the oldest *unchanged* frame is dropped
first (it only extends what is already in view), then the oldest frame of
any kind. Drops are counted per stream so the stream status can say so.
Frames of one stream are processed in order, one at a time; different
streams run in parallel (OpenCV releases the GIL, so threads use every core).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from typing import Callable

from events import ConfigError, Evidence, SampledFrame

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PoolOptions:
    workers: int = 2
    max_queue: int = 32

    def __post_init__(self) -> None:
        if self.workers < 1 or self.max_queue < 1:
            raise ConfigError("logo pool: workers and max_queue must be at least 1")


@dataclass(frozen=True, slots=True)
class PoolStats:
    """Per stream: frames waiting, done, dropped (unchanged / changed) and failed."""

    queued: int = 0
    processed: int = 0
    dropped_unchanged: int = 0
    dropped_changed: int = 0
    errors: int = 0

    @property
    def dropped(self) -> int:
        return self.dropped_unchanged + self.dropped_changed


class LogoPool:
    """Runs ``process`` (e.g. ``LogoStage.process``) on worker threads; results go to ``on_evidence``."""

    def __init__(self, process: Callable[[SampledFrame], list[Evidence]],
                 on_evidence: Callable[[list[Evidence]], None], options: PoolOptions = PoolOptions()):
        self._process = process
        self._on_evidence = on_evidence
        self._options = options
        self._queue: deque[SampledFrame] = deque()
        self._busy: set[str] = set()
        self._counts: dict[str, dict[str, int]] = {}
        self._cond = threading.Condition()
        self._closed = False
        self._threads = [threading.Thread(target=self._run, name=f"logo-pool-{i}", daemon=True) for i in range(options.workers)]
        for t in self._threads:
            t.start()

    def submit(self, frame: SampledFrame) -> bool:
        """Queue a frame without blocking; False when the pool is closed."""
        with self._cond:
            if self._closed:
                return False
            if len(self._queue) >= self._options.max_queue:
                self._drop_one()
            self._queue.append(frame)
            self._count(frame.stream_id, "queued", +1)
            self._cond.notify()
            return True

    def stats(self, stream_id: str) -> PoolStats:
        with self._cond:
            return PoolStats(**self._counts.get(stream_id, {}))

    def join(self, timeout: float | None = None) -> bool:
        """Wait until every queued frame is processed; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._busy, timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Stop taking frames, finish the ones in flight, drop the rest."""
        with self._cond:
            self._closed = True
            self._queue.clear()
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout)

    def _drop_one(self) -> None:
        victim = next((f for f in self._queue if not f.changed), None) or self._queue[0]
        self._queue.remove(victim)
        kind = "dropped_changed" if victim.changed else "dropped_unchanged"
        self._count(victim.stream_id, "queued", -1)
        self._count(victim.stream_id, kind, +1)
        log.warning("vision queue full: dropped a frame", extra={"stream_id": victim.stream_id, "changed": victim.changed})

    def _count(self, stream_id: str, key: str, delta: int) -> None:
        counts = self._counts.setdefault(stream_id, {k: 0 for k in PoolStats.__slots__})
        counts[key] += delta

    def _next(self) -> SampledFrame | None:
        """The oldest frame whose stream is not being processed (keeps each stream in order)."""
        with self._cond:
            while True:
                if self._closed:
                    return None
                frame = next((f for f in self._queue if f.stream_id not in self._busy), None)
                if frame is not None:
                    self._queue.remove(frame)
                    self._busy.add(frame.stream_id)
                    self._count(frame.stream_id, "queued", -1)
                    return frame
                self._cond.wait()

    def _run(self) -> None:
        while (frame := self._next()) is not None:
            ok = True
            try:
                evidence = self._process(frame)
                if evidence:
                    self._on_evidence(evidence)
            except Exception:  # one bad frame must not stop the pool or other streams
                ok = False
                log.exception("logo matching failed on a frame", extra={"stream_id": frame.stream_id})
            with self._cond:
                self._busy.discard(frame.stream_id)
                self._count(frame.stream_id, "processed" if ok else "errors", +1)
                self._cond.notify_all()
