"""The recent transcript of each stream, so an alert can show what was said around it."""

from __future__ import annotations

from collections import deque

from events import Evidence


class Transcript:
    """ASR evidence per stream, bounded by age (media seconds) and by count."""

    def __init__(self, keep_s: float, max_segments: int) -> None:
        self._keep_s = keep_s
        self._max = max_segments
        self._streams: dict[str, deque[Evidence]] = {}

    def add(self, ev: Evidence) -> None:
        segs = self._streams.setdefault(ev.stream_id, deque(maxlen=self._max))
        segs.append(ev)
        while segs and segs[0].media_end < ev.media_end - self._keep_s:
            segs.popleft()

    def between(self, stream_id: str, start: float, end: float) -> list[Evidence]:
        """Segments overlapping [start, end] in media time, in order."""
        segs = self._streams.get(stream_id, ())
        return sorted((e for e in segs if e.media_end >= start and e.media_start <= end), key=lambda e: e.media_start)

    def forget(self, stream_id: str) -> None:
        self._streams.pop(stream_id, None)
