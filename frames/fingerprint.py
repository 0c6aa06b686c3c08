"""Re-broadcast detection: perceptual-hash fingerprints of protected content.

Protected content (a recorded stream, a video file) is registered as one
fingerprint every ``register_interval_s``: 64-bit DCT perceptual hashes of
the border-trimmed picture (whole and centre crops, so a cropped copy still
lines up) and of its four quadrants (so a picture-in-picture overlay covering
one corner leaves three intact). Hamming search is a vectorised popcount
over the whole index.

A live frame is hashed the same way over several candidate regions: the
whole frame, the frame with uniform borders (letterbox) trimmed, and
rectangles bounded by long straight edges (the protected picture scaled into
a streamer's layout), each also mirrored. One frame matching proves little;
``fingerprint`` evidence is reported only when a run of ``min_run`` sampled
frames matches the same content at a consistent time offset (content time
minus stream time), i.e. the stream is playing that content along.

This module imports only ``events`` and third-party libraries.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import av
import cv2
import numpy as np

from events import Box, ConfigError, Evidence, Modality, SampledFrame, SourceError

log = logging.getLogger(__name__)

_OBS_NAMESPACE = uuid.UUID("a5d0c7f4-51f2-4d7e-8e61-2c9b3b7f0d11")
_WHOLE_CROPS = (1.0, 0.9, 0.8)  # centre crops hashed as "the whole picture"
_FORMAT = 1
_WORK_WIDTH = 320  # frames are hashed from a grayscale copy this wide: 32x32 hashes need no more


@dataclass(frozen=True, slots=True)
class FingerprintOptions:
    """``max_hamming`` bounds a whole-picture match (of 64 bits); ``quadrant_max_hamming`` and
    ``min_quadrants`` the partial match used when an overlay covers part of the picture. Flat
    quadrants (black bars, a blank wall) carry no information and never count."""

    register_interval_s: float = 0.5
    max_hamming: int = 10
    quadrant_max_hamming: int = 8
    min_quadrants: int = 3
    strict_quadrant_hamming: int = 4   # or this many bits in...
    min_strict_quadrants: int = 2      # ...this many quadrants (an overlay in one corner, motion in another)
    min_run: int = 3
    offset_tolerance_s: float = 2.0
    max_gap_s: float = 6.0
    reemit_interval_s: float = 10.0
    mirror: bool = True
    find_pictures: bool = True
    max_pictures: int = 4
    matches_per_content: int = 4

    def __post_init__(self) -> None:
        if self.register_interval_s <= 0 or self.min_run < 1 or not 0 < self.max_hamming < 32:
            raise ConfigError("fingerprint options: register_interval_s > 0, min_run >= 1, 0 < max_hamming < 32")


@dataclass(frozen=True, slots=True)
class FingerprintMatch:
    """One registered fingerprint that a frame region matches."""

    content_id: str
    content_time: float
    score: float
    box: Box
    mirrored: bool
    region: str


@dataclass
class _Track:
    content_id: str
    offset: float
    first: float
    last: float
    hits: int


@dataclass
class _Observation:
    observation_id: str
    content_id: str
    first: float
    last: float
    match: FingerprintMatch
    emitted_until: float = -1.0
    last_emit: float = 0.0


@dataclass
class _StreamState:
    tracks: list[_Track] = field(default_factory=list)
    open: dict[str, _Observation] = field(default_factory=dict)


class FingerprintIndex:
    """Registered protected content, and per-stream matching of sampled frames against it.

    Register everything first (``register_video`` / ``register_frames`` or
    ``load``), then call ``process`` for each sampled frame, in order per
    stream; different streams may call concurrently.
    """

    def __init__(self, options: FingerprintOptions = FingerprintOptions()):
        self.options = options
        self._content_ids: list[str] = []
        self._content: np.ndarray = np.zeros(0, np.int32)
        self._times: np.ndarray = np.zeros(0, np.float64)
        self._whole: np.ndarray = np.zeros((0, len(_WHOLE_CROPS)), np.uint64)
        self._quads: np.ndarray = np.zeros((0, 4), np.uint64)
        self._quad_ok: np.ndarray = np.zeros((0, 4), bool)
        self._streams: dict[str, _StreamState] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._times)

    @property
    def content_ids(self) -> tuple[str, ...]:
        return tuple(self._content_ids)

    # --- registration -------------------------------------------------

    def register_video(self, path: str | Path, content_id: str) -> int:
        """Fingerprint a video file (anything PyAV reads); returns the number of fingerprints."""
        try:
            container = av.open(str(path))
        except (av.FFmpegError, OSError) as exc:
            raise SourceError(f"{path}: cannot open protected content ({exc}); give a readable video file") from exc
        with container:
            if not container.streams.video:
                raise SourceError(f"{path}: no video track; protected content must be a video")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            count = self.register_frames(content_id, _decoded(container, stream))
        if count == 0:
            raise SourceError(f"{path}: no video frames decoded; check the file is not empty or truncated")
        log.info("registered protected content", extra={"content_id": content_id, "fingerprints": count})
        return count

    def register_frames(self, content_id: str, frames: Iterable[tuple[float, np.ndarray]]) -> int:
        """Fingerprint (time_s, BGR image) pairs, one per ``register_interval_s`` of content time."""
        if not content_id:
            raise ConfigError("protected content id is empty; give each registered video a name")
        if content_id in self._content_ids:
            raise ConfigError(f"protected content id {content_id!r} is already registered; use another id")
        times, whole, quads, quad_ok = [], [], [], []
        next_t = -1e9
        for t, image in frames:
            if t + 1e-6 < next_t:
                continue
            next_t = t + self.options.register_interval_s
            w, q, ok = region_hashes(trim_borders(work_gray(image)))
            times.append(t)
            whole.append(w)
            quads.append(q)
            quad_ok.append(ok)
        if times:
            with self._lock:
                self._content_ids.append(content_id)
                self._content = np.concatenate([self._content, np.full(len(times), len(self._content_ids) - 1, np.int32)])
                self._times = np.concatenate([self._times, times])
                self._whole = np.vstack([self._whole, np.array(whole, np.uint64)])
                self._quads = np.vstack([self._quads, np.array(quads, np.uint64)])
                self._quad_ok = np.vstack([self._quad_ok, np.array(quad_ok, bool)])
        return len(times)

    def save(self, path: str | Path) -> None:
        """Store the index (numpy .npz, no pickles) so content is registered once."""
        np.savez_compressed(path, format=np.array(_FORMAT), content_ids=np.array(json.dumps(self._content_ids)),
                            content=self._content, times=self._times, whole=self._whole, quads=self._quads,
                            quad_ok=self._quad_ok)

    @classmethod
    def load(cls, path: str | Path, options: FingerprintOptions = FingerprintOptions()) -> FingerprintIndex:
        try:
            with np.load(path, allow_pickle=False) as data:
                if int(data["format"]) != _FORMAT:
                    raise ConfigError(f"{path}: fingerprint index format {int(data['format'])}, expected {_FORMAT}; register the content again")
                index = cls(options)
                index._content_ids = list(json.loads(str(data["content_ids"])))
                index._content, index._times = data["content"], data["times"]
                index._whole, index._quads, index._quad_ok = data["whole"], data["quads"], data["quad_ok"]
        except (OSError, KeyError, ValueError) as exc:
            raise ConfigError(f"{path}: not a readable fingerprint index ({exc}); register the content again") from exc
        return index

    # --- matching -----------------------------------------------------

    def query(self, image: np.ndarray) -> list[FingerprintMatch]:
        """Registered fingerprints that some region of one frame matches (no temporal check)."""
        if not len(self._times):
            return []
        found: dict[tuple[int, int], FingerprintMatch] = {}
        gray = work_gray(image)
        scale = image.shape[1] / gray.shape[1]
        for region, box in candidate_regions(gray, self.options.find_pictures, self.options.max_pictures):
            crop = gray[box.y : box.y + box.h, box.x : box.x + box.w]
            full_box = Box(round(box.x * scale), round(box.y * scale), round(box.w * scale), round(box.h * scale))
            for mirrored in (False, True) if self.options.mirror else (False,):
                w, q, ok = region_hashes(cv2.flip(crop, 1) if mirrored else crop)
                for row, score in self._search(w, q, ok):
                    key = (int(self._content[row]), row)
                    if key not in found or score > found[key].score:
                        found[key] = FingerprintMatch(self._content_ids[key[0]], float(self._times[row]), score, full_box, mirrored, region)
        return self._best_per_content(found.values())

    def _search(self, whole: np.ndarray, quads: np.ndarray, quad_ok: np.ndarray) -> list[tuple[int, float]]:
        o = self.options
        dist = np.bitwise_count(self._whole[:, :, None] ^ whole[None, None, :]).min(axis=(1, 2))
        qd = np.where(self._quad_ok & quad_ok[None, :], np.bitwise_count(self._quads ^ quads[None, :]), 64)
        near = (qd <= o.quadrant_max_hamming).sum(axis=1)
        strict = (qd <= o.strict_quadrant_hamming).sum(axis=1)
        partial = (near >= o.min_quadrants) | (strict >= o.min_strict_quadrants)
        rows = np.flatnonzero((dist <= o.max_hamming) | partial)
        return [(int(r), max(1.0 - dist[r] / 32.0, 0.5 + near[r] / 16.0 if partial[r] else 0.0)) for r in rows]

    def _best_per_content(self, matches: Iterable[FingerprintMatch]) -> list[FingerprintMatch]:
        by_content: dict[str, list[FingerprintMatch]] = {}
        for m in matches:
            by_content.setdefault(m.content_id, []).append(m)
        out = []
        for ms in by_content.values():
            out += sorted(ms, key=lambda m: -m.score)[: self.options.matches_per_content]
        return out

    def process(self, frame: SampledFrame) -> list[Evidence]:
        """Match one sampled frame; evidence once a stream has played registered content for a run."""
        with self._lock:
            state = self._streams.setdefault(frame.stream_id, _StreamState())
        t = frame.media_time
        matches = self.query(frame.image)
        confirmed = self._update_tracks(state, matches, t)
        out = []
        for match in confirmed:
            obs = state.open.get(match.content_id)
            if obs is None:
                track_first = min(tr.first for tr in state.tracks if tr.content_id == match.content_id)
                oid = str(uuid.uuid5(_OBS_NAMESPACE, f"{frame.stream_id}|{match.content_id}|{track_first:.3f}"))
                obs = state.open[match.content_id] = _Observation(oid, match.content_id, track_first, t, match)
                out.append(self._evidence(frame.stream_id, obs, frame.frame.wall_time, t))
                log.info("re-broadcast of %s", match.content_id, extra={"stream_id": frame.stream_id})
            else:
                obs.last, obs.match = t, match
                if t - obs.last_emit >= self.options.reemit_interval_s:
                    out.append(self._evidence(frame.stream_id, obs, frame.frame.wall_time, t))
        for cid, obs in list(state.open.items()):
            if t - obs.last > self.options.max_gap_s:
                del state.open[cid]
                if obs.last > obs.emitted_until:
                    out.append(self._evidence(frame.stream_id, obs, frame.frame.wall_time, t))
        return out

    def finish(self, stream_id: str) -> list[Evidence]:
        """The stream ended: final spans of content still matching, and forget the stream."""
        with self._lock:
            state = self._streams.pop(stream_id, None)
        if state is None:
            return []
        return [self._evidence(stream_id, o, 0.0, o.last) for o in state.open.values() if o.last > o.emitted_until]

    def _update_tracks(self, state: _StreamState, matches: list[FingerprintMatch], t: float) -> list[FingerprintMatch]:
        """Vote each match into a (content, offset) track; return the best match of each content
        whose track now holds a run of ``min_run`` frames."""
        o = self.options
        touched: dict[int, FingerprintMatch] = {}
        for m in sorted(matches, key=lambda m: -m.score):
            offset = m.content_time - t
            track = next((tr for tr in state.tracks if tr.content_id == m.content_id
                          and abs(tr.offset - offset) <= o.offset_tolerance_s), None)
            if track is None:
                track = _Track(m.content_id, offset, t, t, 0)
                state.tracks.append(track)
            if id(track) not in touched:
                track.hits += 1
                track.last = t
                track.offset = 0.7 * track.offset + 0.3 * offset
                touched[id(track)] = m
        state.tracks = [tr for tr in state.tracks if t - tr.last <= o.max_gap_s]
        best: dict[str, FingerprintMatch] = {}
        for tr in state.tracks:
            m = touched.get(id(tr))
            if m is not None and tr.hits >= o.min_run and (m.content_id not in best or m.score > best[m.content_id].score):
                best[m.content_id] = m
        return list(best.values())

    def _evidence(self, stream_id: str, obs: _Observation, wall_time: float, now: float) -> Evidence:
        obs.emitted_until, obs.last_emit = obs.last, now
        m = obs.match
        return Evidence(
            stream_id=stream_id,
            modality=Modality.FINGERPRINT,
            media_start=obs.first,
            media_end=obs.last,
            text=obs.content_id,
            confidence=round(m.score, 4),
            wall_time=wall_time,
            box=m.box,
            observation_id=obs.observation_id,
            details={"content_time": round(m.content_time, 3), "mirrored": m.mirrored, "region": m.region},
        )


def _decoded(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> Iterable[tuple[float, np.ndarray]]:
    for frame in container.decode(stream):
        if frame.time is not None:
            yield float(frame.time), frame.to_ndarray(format="bgr24")


# --- hashing ------------------------------------------------------------


def work_gray(image: np.ndarray) -> np.ndarray:
    """Grayscale, downscaled to ``_WORK_WIDTH``: every hash and region search runs on this."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    h, w = gray.shape
    if w <= _WORK_WIDTH:
        return gray
    return cv2.resize(gray, (_WORK_WIDTH, max(1, round(h * _WORK_WIDTH / w))), interpolation=cv2.INTER_AREA)


def phash(gray: np.ndarray) -> np.uint64:
    """64-bit DCT perceptual hash: signs of the 8x8 lowest frequencies against their median."""
    small = cv2.resize(gray, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:8, :8].reshape(-1)
    bits = low > np.median(low[1:])
    return np.uint64(int(np.packbits(bits).view(">u8")[0]))


def region_hashes(gray: np.ndarray, min_std: float = 8.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(whole-picture hashes at each centre crop, quadrant hashes, which quadrants have texture)."""
    h, w = gray.shape
    whole = []
    for c in _WHOLE_CROPS:
        dy, dx = int(h * (1 - c) / 2), int(w * (1 - c) / 2)
        whole.append(phash(gray[dy : h - dy, dx : w - dx]))
    hy, hx = h // 2, w // 2
    parts = (gray[:hy, :hx], gray[:hy, hx:], gray[hy:, :hx], gray[hy:, hx:])
    quads = np.array([phash(p) for p in parts], np.uint64)
    textured = np.array([float(p.std()) >= min_std for p in parts], bool)
    return np.array(whole, np.uint64), quads, textured


def trim_borders(gray: np.ndarray, max_std: float = 6.0, max_frac: float = 0.4) -> np.ndarray:
    """Cut uniform bands (letterbox / pillarbox bars, solid frames) off each edge."""
    x, y, w, h = _border_box(gray, max_std, max_frac)
    return gray[y : y + h, x : x + w]


def _border_box(gray: np.ndarray, max_std: float, max_frac: float) -> tuple[int, int, int, int]:
    g = gray.astype(np.float32)
    h, w = g.shape
    row_flat, col_flat = g.std(axis=1) < max_std, g.std(axis=0) < max_std
    top = _run(row_flat, int(h * max_frac))
    bottom = _run(row_flat[::-1], int(h * max_frac))
    left = _run(col_flat, int(w * max_frac))
    right = _run(col_flat[::-1], int(w * max_frac))
    return left, top, w - left - right, h - top - bottom


def _run(flags: np.ndarray, limit: int) -> int:
    """Length of the leading run of True, capped at ``limit``."""
    stop = np.flatnonzero(~flags[:limit])
    return int(stop[0]) if len(stop) else limit


def candidate_regions(gray: np.ndarray, find_pictures: bool, max_pictures: int) -> list[tuple[str, Box]]:
    """Where the protected picture may be: whole frame, border-trimmed frame, edge-bounded rectangles."""
    h, w = gray.shape[:2]
    regions = [("full", Box(0, 0, w, h))]
    x, y, bw, bh = _border_box(gray, 6.0, 0.4)
    if (bw, bh) != (w, h) and bw > w // 5 and bh > h // 5:
        regions.append(("trimmed", Box(x, y, bw, bh)))
    if find_pictures:
        regions += [("picture", b) for b in find_rectangles(gray)[:max_pictures]]
    return regions


def find_rectangles(gray: np.ndarray, min_frac: float = 0.25) -> list[Box]:
    """Axis-aligned rectangles whose four sides are mostly long straight edges, best supported first.

    A re-broadcast shown as a picture inside a streamer's layout has a hard
    border against the layout; its sides show up as long horizontal and
    vertical edge segments.
    """
    gh, gw = gray.shape
    edges = cv2.Canny(gray, 20, 60)
    seg = cv2.HoughLinesP(edges, 1, np.pi / 180, threshold=20, minLineLength=int(min(gh, gw) * 0.2), maxLineGap=12)
    if seg is None:
        return []
    vert = np.zeros((gw, gh), bool)  # column x -> rows covered by a vertical segment
    horz = np.zeros((gh, gw), bool)
    for x0, y0, x1, y1 in seg[:, 0]:
        if abs(x0 - x1) <= 2:
            vert[(x0 + x1) // 2, min(y0, y1) : max(y0, y1) + 1] = True
        elif abs(y0 - y1) <= 2:
            horz[(y0 + y1) // 2, min(x0, x1) : max(x0, x1) + 1] = True
    xs, ys = _line_positions(vert), _line_positions(horz)
    boxes = []
    for i, xa in enumerate(xs):
        for xb in xs[i + 1 :]:
            if xb - xa < gw * min_frac:
                continue
            for j, ya in enumerate(ys):
                for yb in ys[j + 1 :]:
                    if yb - ya < gh * min_frac or (xb - xa >= gw - 4 and yb - ya >= gh - 4):
                        continue
                    sides = (_covered(vert, xa, ya, yb), _covered(vert, xb, ya, yb),
                             _covered(horz, ya, xa, xb), _covered(horz, yb, xa, xb))
                    support = sum(sides) / 4
                    if support >= 0.6 and min(sides) >= 0.35:  # a side may fade into a similar backdrop
                        boxes.append((support, Box(int(xa), int(ya), int(xb - xa), int(yb - ya))))
    boxes.sort(key=lambda sb: (-sb[0], -sb[1].w * sb[1].h))
    return [b for _, b in boxes]


def _line_positions(lines: np.ndarray, min_px: int = 8) -> list[int]:
    """Positions holding segments, merged when adjacent (a border drawn 2-3 px wide is one line)."""
    pos = np.flatnonzero(lines.sum(axis=1) >= min_px)
    merged: list[int] = []
    for p in pos:
        if merged and p - merged[-1] <= 2:
            continue
        merged.append(int(p))
    return merged[:12]


def _covered(lines: np.ndarray, at: int, lo: int, hi: int) -> float:
    """Share of [lo, hi] covered by segments on line ``at`` (or its neighbours)."""
    band = lines[max(0, at - 2) : at + 3, lo : hi + 1].any(axis=0)
    return float(band.mean()) if band.size else 0.0
