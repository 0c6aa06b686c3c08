"""Fingerprints of a protected live stream, as they travel between workers.

A stream marked protected while it is live is fingerprinted by the worker that
watches it; every worker adds those fingerprints to its index, so a
re-broadcast of the show is caught while both are on air. Its content id is
``live:<stream id>``: the alert that names the content names the source
stream, and a stream never matches its own live content.

Content time is the source stream's media time. The hashes are the ones
``frames.fingerprint.FingerprintIndex.register_hashes`` takes; on the wire they
are 16-digit hex strings (JSON numbers cannot hold 64 bits exactly).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

LIVE_CONTENT_PREFIX = "live:"
WHOLE_HASHES = 4  # whole-picture hashes per fingerprint (frames.fingerprint: three centre crops and the top band)


def live_content_id(stream_id: str) -> str:
    """The protected content id of a live stream's own fingerprints."""
    return LIVE_CONTENT_PREFIX + stream_id


def live_source(content_id: str) -> str | None:
    """The stream a live content id comes from, None for library content (a protected file)."""
    return content_id[len(LIVE_CONTENT_PREFIX):] if content_id.startswith(LIVE_CONTENT_PREFIX) else None


@dataclass(frozen=True, eq=False)
class LiveFingerprints:
    """A batch of one protected stream's fingerprints: ``times`` (n,) media seconds, ``whole`` (n, WHOLE_HASHES)
    and ``quads`` (n, 4) uint64 hashes, ``quad_ok`` (n, 4) bool; ``wall_time`` is when its last
    frame was sampled (a worker that reads the batch later than the live window ignores it)."""

    source_stream: str
    times: np.ndarray
    whole: np.ndarray
    quads: np.ndarray
    quad_ok: np.ndarray
    wall_time: float

    @property
    def content_id(self) -> str:
        return live_content_id(self.source_stream)

    def __len__(self) -> int:
        return len(self.times)

    def to_dict(self) -> dict[str, Any]:
        return {
            "content_id": self.content_id,
            "source_stream": self.source_stream,
            "wall_time": self.wall_time,
            "times": [round(float(t), 3) for t in self.times],
            "whole": [[f"{int(h):016x}" for h in row] for row in self.whole],
            "quads": [[f"{int(h):016x}" for h in row] for row in self.quads],
            "quad_ok": [[int(b) for b in row] for row in self.quad_ok],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LiveFingerprints:
        """Raises ValueError (or KeyError, TypeError) on a record that is not a batch of fingerprints."""
        n = len(data["times"])
        batch = cls(
            source_stream=str(data["source_stream"]),
            times=np.array(data["times"], np.float64).reshape(n),
            whole=_hashes(data["whole"], n, WHOLE_HASHES),
            quads=_hashes(data["quads"], n, 4),
            quad_ok=np.array(data["quad_ok"], bool).reshape(n, 4),
            wall_time=float(data["wall_time"]),
        )
        if not batch.source_stream or data.get("content_id", batch.content_id) != batch.content_id:
            raise ValueError(f"live fingerprints of {data.get('content_id')!r}: content id and source stream disagree")
        return batch


def _hashes(rows: Any, n: int, width: int) -> np.ndarray:
    return np.array([[int(h, 16) for h in row] for row in rows], np.uint64).reshape(n, width)
