"""Re-broadcast detection: perceptual-hash fingerprints of protected content.

Protected content (a recorded stream, a video file) is registered as one
fingerprint every ``register_interval_s``: 64-bit DCT perceptual hashes of
the border-trimmed picture (whole and centre crops, so a cropped copy still
lines up; and its top band, the upper three quarters, so a copy whose lower
part is under a caption bar still does) and of its four quadrants (so an
overlay covering one corner leaves three intact). Hamming search goes through multi-index hash tables
(``frames.fingerprint_index``): its cost follows the bucket load, not the
size of the library.

A live frame is hashed over several candidate regions, each also mirrored:
the whole frame, the frame with uniform borders (letterbox) trimmed,
rectangles bounded by long straight edges or by the frame's own sides (the
protected picture scaled into a streamer's layout, a split screen), and
motion-consistent regions (the bounding boxes of what changed over the last
sampled frames: a picture-in-picture inset moves while the layout around it
stays still), and the top band of each region that is a 16:9 picture or its
visible upper part (a caption bar over an inset's bottom hides its lower edge:
the rectangle found ends at the bar). One frame matching proves little;
``fingerprint`` evidence is reported only when a run of ``min_run`` sampled
frames matches the same content at a consistent time offset (content time
minus stream time), i.e. the stream is playing that content along. The
offset is tracked as it drifts, so a copy played up to ~10% faster or slower
stays one run. A confirmed run is one observation (``events.ObservationTracker``):
evidence when it starts, every ``reemit_interval_s`` while it plays along, and
its final span once it has stopped for ``max_gap_s``.

The sound of protected content is fingerprinted too (``frames.audio_fingerprint``,
Chromaprint): the index's ``audio`` gives evidence with ``details["kind"] == "audio"``,
video evidence has ``"video"``. The index has two detector faces
(``events.Detector``): itself for sampled frames, ``index.audio`` for audio chunks.

Live streams can be protected while they are on air (``protect``): their sampled
frames then also yield registration hashes every ``register_interval_s`` of media
time, collected in an outbox (``drain_live``) that the top floor publishes.
Batches from any worker (``add_live``, ``events.LiveFingerprints``) go into a
small live side index, rebuilt when new rows arrived and bounded to the last
``live_window_s``, searched together with the library (which is never rebuilt
for them). Content time of live fingerprints is the source stream's media time,
so runs and offsets work as for a file; a stream never matches its own live
content, and evidence of live content says ``details["source_stream"]``.

This module imports only ``events``, its own package (``frames.fingerprint_index``,
``frames.audio_fingerprint``) and third-party libraries.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import av
import cv2
import numpy as np

from events import (
    WHOLE_HASHES,
    Box,
    ConfigError,
    Evidence,
    LiveFingerprints,
    Modality,
    Observation,
    ObservationTracker,
    SampledFrame,
    SourceError,
    live_content_id,
    live_source,
)
from frames.audio_fingerprint import AudioFingerprintOptions, AudioIndex
from frames.fingerprint_index import HashIndex

log = logging.getLogger(__name__)

_OBS_NAMESPACE = uuid.UUID("a5d0c7f4-51f2-4d7e-8e61-2c9b3b7f0d11")
# Parts of the picture hashed as "the whole picture" (top, bottom, left, right as fractions):
# centre crops at 1.0, 0.9 and 0.8, and the top band (a caption bar over the lower quarter).
_WHOLE_CROPS = ((0.0, 1.0, 0.0, 1.0), (0.05, 0.95, 0.05, 0.95), (0.1, 0.9, 0.1, 0.9), (0.0, 0.75, 0.0, 1.0))
_BAND = 0.75  # the top band's share of the picture's height
_ASPECT = 9 / 16  # a picture's height per width: the band of a region is found for 16:9 content
assert len(_WHOLE_CROPS) == WHOLE_HASHES
_FORMAT = 3
# Quadrant hashes of the four positions share one table: XOR-ing each position with its own salt
# keeps distances within a position and puts other positions ~32 bits away.
_QUAD_SALT = np.array([0x0, 0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9], np.uint64)
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
    reemit_interval_s: float = 2.0     # a run's evidence grows this often: a rule's min duration is met when reached
    mirror: bool = True
    find_pictures: bool = True
    max_pictures: int = 6
    motion_regions: bool = True
    motion_frames: int = 8             # sampled frames whose changes outline a moving picture
    min_region_area: float = 0.2       # share of the frame a candidate region must cover
    probe_bits: int = 2                # multi-index probe radius per substring: exact up to 8 bits
    matches_per_content: int = 4
    live_window_s: float = 3600.0      # live fingerprints kept per protected stream (by when they were sampled)
    audio: AudioFingerprintOptions = field(default_factory=AudioFingerprintOptions)

    def __post_init__(self) -> None:
        if self.register_interval_s <= 0 or self.min_run < 1 or not 0 < self.max_hamming < 32:
            raise ConfigError("fingerprint options: register_interval_s > 0, min_run >= 1, 0 < max_hamming < 32")
        if not 0 <= self.probe_bits <= 3 or self.motion_frames < 2 or self.live_window_s <= 0:
            raise ConfigError("fingerprint options: 0 <= probe_bits <= 3, motion_frames >= 2, live_window_s > 0")


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
class _Copy(Observation):
    """Registered content a stream is playing along (a confirmed track), with its latest match."""

    content_id: str
    match: FingerprintMatch


@dataclass
class _StreamState:
    copies: ObservationTracker[_Copy]
    tracks: list[_Track] = field(default_factory=list)
    motion: _Motion | None = None


class _LiveContent:
    """The fingerprints of one protected live stream received so far, with when each was sampled."""

    def __init__(self) -> None:
        self.times: np.ndarray = np.zeros(0, np.float64)
        self.walls: np.ndarray = np.zeros(0, np.float64)
        self.whole: np.ndarray = np.zeros((0, len(_WHOLE_CROPS)), np.uint64)
        self.quads: np.ndarray = np.zeros((0, 4), np.uint64)
        self.quad_ok = np.zeros((0, 4), bool)

    def add(self, batch: LiveFingerprints) -> None:
        self.times = np.concatenate([self.times, batch.times])
        self.walls = np.concatenate([self.walls, np.full(len(batch), batch.wall_time)])
        self.whole = np.vstack([self.whole, batch.whole.astype(np.uint64)])
        self.quads = np.vstack([self.quads, batch.quads.astype(np.uint64)])
        self.quad_ok = np.vstack([self.quad_ok, batch.quad_ok.astype(bool)])

    def trim(self, since: float) -> int:
        """Drop rows sampled before ``since`` (wall clock: media time restarts when a stream is reopened)."""
        keep = self.walls >= since
        if not keep.all():
            self.times, self.walls, self.whole, self.quads, self.quad_ok = (
                a[keep] for a in (self.times, self.walls, self.whole, self.quads, self.quad_ok))
        return len(self.times)


class _Motion:
    """What changed over the last sampled frames of one stream, as region candidates."""

    def __init__(self, frames: int):
        self.prev: np.ndarray | None = None
        self.masks: deque[np.ndarray] = deque(maxlen=frames - 1)

    def boxes(self, gray: np.ndarray, min_area: float) -> list[Box]:
        if self.prev is None or self.prev.shape != gray.shape:
            self.prev = gray
            self.masks.clear()
            return []
        diff = cv2.absdiff(cv2.GaussianBlur(gray, (5, 5), 0), cv2.GaussianBlur(self.prev, (5, 5), 0))
        self.prev = gray
        self.masks.append(cv2.medianBlur((diff > 18).astype(np.uint8), 5))
        return motion_boxes(np.bitwise_or.reduce(np.stack(self.masks)), min_area)


class FingerprintIndex:
    """Registered protected content, and per-stream matching of sampled frames and sound against it.

    Register everything first (``register_video`` reads a file's pictures and
    sound; ``register_frames`` / ``register_hashes`` / ``register_audio`` take
    them from elsewhere; or ``load`` a saved index), then call ``process`` for
    each sampled frame and ``audio.process`` for each audio chunk, in order per
    stream, and ``finish`` / ``audio.finish`` when a stream ends; different
    streams may call concurrently. Evidence says which sense matched in
    ``details["kind"]``: ``"video"`` or ``"audio"`` (``self.audio``,
    ``frames.audio_fingerprint``).
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
        self._tables: tuple[HashIndex, HashIndex, np.ndarray] | None = None
        self._pending: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self.audio = AudioIndex(options.audio)
        self._protected: set[str] = set()
        self._next_live: dict[str, float] = {}  # protected stream -> media time of its next registration
        self._outbox: dict[str, deque[tuple[float, float, np.ndarray, np.ndarray, np.ndarray]]] = {}
        self._live: dict[str, _LiveContent] = {}
        self._live_index: FingerprintIndex | None = None  # rebuilt from _live on the next query after a change

    def __len__(self) -> int:
        return len(self._times) + sum(len(p[1]) for p in self._pending)

    @property
    def content_ids(self) -> tuple[str, ...]:
        return tuple(self._content_ids)

    # --- registration -------------------------------------------------

    def register_video(self, path: str | Path, content_id: str) -> int:
        """Fingerprint a video file (anything PyAV reads): its pictures and, when it has one, its sound.
        Returns the number of picture fingerprints."""
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
        sound = _decoded_audio(path)
        items = self.audio.register_samples(content_id, sound, _AUDIO_RATE) if len(sound) else 0
        log.info("registered protected content", extra={"content_id": content_id, "fingerprints": count, "audio_items": items})
        return count

    def register_audio(self, content_id: str, samples: np.ndarray, rate: int) -> int:
        """Fingerprint a protected item's sound (mono float in [-1, 1]); returns its sub-fingerprint count."""
        return self.audio.register_samples(content_id, samples, rate)

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
            self.register_hashes(content_id, np.array(times), np.array(whole, np.uint64), np.array(quads, np.uint64),
                                 np.array(quad_ok, bool))
        return len(times)

    def register_hashes(self, content_id: str, times: np.ndarray, whole: np.ndarray, quads: np.ndarray,
                        quad_ok: np.ndarray) -> None:
        """Add fingerprints computed elsewhere (by ``region_hashes`` of the border-trimmed picture):
        ``times`` (n,), ``whole`` (n, WHOLE_HASHES) crop hashes, ``quads`` (n, 4) and ``quad_ok`` (n, 4).
        The hash tables are rebuilt on the next query."""
        if not content_id:
            raise ConfigError("protected content id is empty; give each registered video a name")
        n = len(times)
        if whole.shape != (n, len(_WHOLE_CROPS)) or quads.shape != (n, 4) or quad_ok.shape != (n, 4):
            raise ConfigError(f"fingerprints of {content_id!r}: shapes {whole.shape}, {quads.shape}, {quad_ok.shape} "
                              f"do not fit {n} times")
        with self._lock:
            if content_id in self._content_ids:
                raise ConfigError(f"protected content id {content_id!r} is already registered; use another id")
            self._content_ids.append(content_id)
            self._pending.append((len(self._content_ids) - 1, np.asarray(times, np.float64), whole.astype(np.uint64),
                                  quads.astype(np.uint64), quad_ok.astype(bool)))
            self._tables = None

    def _merge_pending(self) -> None:
        """Join registered chunks into the row arrays once (registering 1,000 items stays linear)."""
        if self._pending:
            p = self._pending
            self._content = np.concatenate([self._content, *(np.full(len(c[1]), c[0], np.int32) for c in p)])
            self._times = np.concatenate([self._times, *(c[1] for c in p)])
            self._whole = np.vstack([self._whole, *(c[2] for c in p)])
            self._quads = np.vstack([self._quads, *(c[3] for c in p)])
            self._quad_ok = np.vstack([self._quad_ok, *(c[4] for c in p)])
            self._pending = []

    def save(self, path: str | Path) -> None:
        """Store the index with its hash tables in directory ``path``: one ``.npy`` per array (no
        pickles) and ``index.json``, written last. ``load`` memory-maps the arrays, so a worker starts
        without decoding protected videos or rebuilding tables, and the workers of one machine share
        the pages."""
        whole, quads, quad_rows = self._index()
        arrays = {**self.audio.arrays(), "content": self._content, "times": self._times, "whole": self._whole,
                  "quads": self._quads, "quad_ok": self._quad_ok, "quad_codes": quads.codes, "quad_rows": quad_rows}
        for prefix, table in (("whole", whole), ("quad", quads)):
            arrays.update(zip((f"{prefix}_order", f"{prefix}_starts", f"{prefix}_checks"), table.tables))
        root = Path(path)
        root.mkdir(parents=True, exist_ok=True)
        (root / "index.json").unlink(missing_ok=True)
        for name, array in arrays.items():
            np.save(root / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)
        (root / "index.json").write_text(json.dumps({"format": _FORMAT, "content_ids": self._content_ids}))

    @classmethod
    def load(cls, path: str | Path, options: FingerprintOptions = FingerprintOptions()) -> FingerprintIndex:
        """The index ``save`` wrote, memory-mapped (read-only; registering more content copies it)."""
        root = Path(path)
        try:
            meta = json.loads((root / "index.json").read_text())
            if meta.get("format") != _FORMAT:
                raise ConfigError(f"{path}: fingerprint index format {meta.get('format')}, expected {_FORMAT}; "
                                  "register the content again")
            data = {p.stem: np.load(p, mmap_mode="r", allow_pickle=False) for p in root.glob("*.npy")}
            index = cls(options)
            index._content_ids = list(meta["content_ids"])
            index._content, index._times = data["content"], data["times"]
            index._whole, index._quads, index._quad_ok = data["whole"], data["quads"], data["quad_ok"]
            index._tables = (
                HashIndex(index._whole.reshape(-1), probe_bits=options.probe_bits,
                          tables=(data["whole_order"], data["whole_starts"], data["whole_checks"])),
                HashIndex(data["quad_codes"], probe_bits=1,
                          tables=(data["quad_order"], data["quad_starts"], data["quad_checks"])),
                np.asarray(data["quad_rows"]))  # a plain array: memmap wraps every result
            index.audio = AudioIndex.from_arrays(data, options.audio)
        except (OSError, KeyError, ValueError) as exc:
            raise ConfigError(f"{path}: not a readable fingerprint index ({exc}); register the content again") from exc
        return index

    # --- live streams ---------------------------------------------------

    def protect(self, stream_id: str, on: bool = True) -> None:
        """Mark a stream protected (or no longer): its sampled frames then feed ``drain_live``."""
        with self._lock:
            if on:
                self._protected.add(stream_id)
            else:
                self._protected.discard(stream_id)
                self._outbox.pop(stream_id, None)
                self._next_live.pop(stream_id, None)

    @property
    def protected(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._protected)

    def _register_live(self, frame: SampledFrame, gray: np.ndarray) -> None:
        """Registration hashes of a protected stream's frame, one per ``register_interval_s`` of media time."""
        sid, t = frame.stream_id, frame.media_time
        with self._lock:
            if t + 1e-6 < self._next_live.get(sid, -1e9):
                return
            self._next_live[sid] = t + self.options.register_interval_s
        whole, quads, quad_ok = region_hashes(trim_borders(gray))
        limit = max(1, int(self.options.live_window_s / self.options.register_interval_s))
        with self._lock:
            if sid in self._protected:  # a stream unprotected meanwhile publishes nothing more
                self._outbox.setdefault(sid, deque(maxlen=limit)).append((t, frame.frame.wall_time, whole, quads, quad_ok))

    def drain_live(self) -> list[LiveFingerprints]:
        """The protected streams' fingerprints computed since the last call, one batch per stream."""
        with self._lock:
            outbox, self._outbox = self._outbox, {}
        return [LiveFingerprints(sid, np.array([r[0] for r in rows]), np.array([r[2] for r in rows], np.uint64),
                                 np.array([r[3] for r in rows], np.uint64), np.array([r[4] for r in rows], bool),
                                 wall_time=max(r[1] for r in rows))
                for sid, rows in outbox.items() if rows]

    def add_live(self, batch: LiveFingerprints, now: float | None = None) -> bool:
        """Add a protected stream's fingerprints (from any worker) to the live side index; False when
        the batch is older than ``live_window_s`` (read late from the topic). Older rows of every
        live content are dropped; the library is left as it is."""
        n = len(batch)
        if batch.whole.shape != (n, len(_WHOLE_CROPS)) or batch.quads.shape != (n, 4) or batch.quad_ok.shape != (n, 4):
            raise ConfigError(f"live fingerprints of {batch.content_id!r}: shapes {batch.whole.shape}, {batch.quads.shape}, "
                              f"{batch.quad_ok.shape} do not fit {n} times")
        since = (time.time() if now is None else now) - self.options.live_window_s
        if batch.wall_time < since or not n:
            return False
        with self._lock:
            self._live.setdefault(batch.content_id, _LiveContent()).add(batch)
            for cid, content in list(self._live.items()):
                if not content.trim(since):
                    del self._live[cid]
            self._live_index = None
        return True

    @property
    def live_content_ids(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._live)

    def _live_side(self) -> FingerprintIndex | None:
        """The live side index (built here when rows arrived since the last query), None when empty."""
        with self._lock:
            if self._live_index is None and self._live:
                side = FingerprintIndex(self.options)
                for cid, c in self._live.items():
                    side.register_hashes(cid, c.times, c.whole, c.quads, c.quad_ok)
                self._live_index = side
            return self._live_index

    # --- matching -----------------------------------------------------

    def query(self, image: np.ndarray, motion: list[Box] | None = None) -> list[FingerprintMatch]:
        """Registered fingerprints that some region of one frame matches (no temporal check).
        ``motion``: regions (work-image pixels) where the stream's picture moved lately."""
        self._index()
        live = self._live_side()
        if not len(self._times) and live is None:
            return []
        o = self.options
        gray = work_gray(image)
        scale = image.shape[1] / gray.shape[1]
        variants: list[tuple[str, Box, bool]] = []
        hashes = []
        for region, box in candidate_regions(gray, o.find_pictures, o.max_pictures, motion or (), o.min_region_area):
            crop = gray[box.y : box.y + box.h, box.x : box.x + box.w]
            full_box = Box(round(box.x * scale), round(box.y * scale), round(box.w * scale), round(box.h * scale))
            for mirrored, hashed in zip((False, True), query_hashes(crop, o.mirror)):
                hashes.append(hashed)
                variants.append((region, full_box, mirrored))
        arrays = (np.array([h[0] for h in hashes], np.uint64), np.array([h[1] for h in hashes], np.uint64),
                  np.array([h[2] for h in hashes], bool))
        found = self._matches(variants, *arrays) if len(self._times) else []
        return self._best_per_content(found + (live._matches(variants, *arrays) if live is not None else []))

    def _matches(self, variants: list[tuple[str, Box, bool]], whole: np.ndarray, quads: np.ndarray,
                 quad_ok: np.ndarray) -> list[FingerprintMatch]:
        """The best match of each registered row some query variant matches."""
        found: dict[int, FingerprintMatch] = {}
        for v, row, score in self._search(whole, quads, quad_ok):
            region, full_box, mirrored = variants[v]
            if row not in found or score > found[row].score:
                found[row] = FingerprintMatch(self._content_ids[int(self._content[row])], float(self._times[row]), score,
                                              full_box, mirrored, region)
        return list(found.values())

    def _index(self) -> tuple[HashIndex, HashIndex, np.ndarray]:
        """The hash tables, built on first use after registration (or read by ``load``)."""
        with self._lock:
            if self._tables is None:
                self._merge_pending()
                rows, pos = np.nonzero(self._quad_ok)
                self._tables = (HashIndex(self._whole.reshape(-1), probe_bits=self.options.probe_bits),
                                HashIndex(self._quads[rows, pos] ^ _QUAD_SALT[pos], probe_bits=1),
                                rows.astype(np.int64))
            return self._tables

    def _search(self, whole: np.ndarray, quads: np.ndarray, quad_ok: np.ndarray) -> list[tuple[int, int, float]]:
        """(variant, registered row, score) for each query variant's whole-picture hash ``whole[v]`` and
        quadrant hashes ``quads[v]`` (``quad_ok[v]``: textured): a whole-picture match within
        ``max_hamming`` of any registered crop, or enough quadrants matching at their own position."""
        o = self.options
        whole_index, quad_index, quad_rows = self._index()
        nrows = len(self._times)
        best: dict[tuple[int, int], float] = {}
        q, e, d = whole_index.search(whole, o.max_hamming)
        for v, row, dist in zip(q.tolist(), (e // len(_WHOLE_CROPS)).tolist(), d.tolist()):
            score = 1.0 - dist / 32.0
            if best.get((v, row), -1.0) < score:
                best[(v, row)] = score
        qv, qp = np.nonzero(quad_ok)
        q, e, d = quad_index.search(quads[qv, qp] ^ _QUAD_SALT[qp], o.quadrant_max_hamming)
        if len(q):
            key = qv[q] * nrows + quad_rows[e]
            near = np.unique(key, return_counts=True)
            strict = dict(zip(*np.unique(key[d <= o.strict_quadrant_hamming], return_counts=True)))
            for k, n_near in zip(near[0].tolist(), near[1].tolist()):
                if n_near >= o.min_quadrants or strict.get(k, 0) >= o.min_strict_quadrants:
                    v, row = divmod(k, nrows)
                    best[(v, row)] = max(best.get((v, row), 0.0), 0.5 + n_near / 16.0)
        return [(v, row, score) for (v, row), score in best.items()]

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
            state = self._streams.get(frame.stream_id)
            if state is None:
                copies = ObservationTracker[_Copy](self.options.max_gap_s, self.options.reemit_interval_s)
                state = self._streams[frame.stream_id] = _StreamState(copies)
            protected = frame.stream_id in self._protected
            searchable = bool(len(self._times) or self._pending or self._live or state.tracks or state.copies.open)
        if not (protected or searchable):
            return []  # nothing protected anywhere yet: no frame work at all
        t = frame.media_time
        gray = work_gray(frame.image)
        if protected:
            self._register_live(frame, gray)
        if not searchable:
            return []
        motion = None
        if self.options.motion_regions:
            if state.motion is None:
                state.motion = _Motion(self.options.motion_frames)
            motion = state.motion.boxes(gray, self.options.min_region_area)
        own = live_content_id(frame.stream_id)
        matches = [m for m in self.query(frame.image, motion) if m.content_id != own]
        confirmed = self._update_tracks(state, matches, t)
        out = []
        for match in confirmed:  # at most one per content
            obs = next((c for c in state.copies.open if c.content_id == match.content_id), None)
            if obs is None:
                track_first = min(tr.first for tr in state.tracks if tr.content_id == match.content_id)
                oid = str(uuid.uuid5(_OBS_NAMESPACE, f"{frame.stream_id}|{match.content_id}|{track_first:.3f}"))
                obs = state.copies.start(_Copy(oid, track_first, t, match.content_id, match))
                out.append(self._evidence(frame.stream_id, obs, frame.frame.wall_time, t))
                log.info("re-broadcast of %s", match.content_id, extra={"stream_id": frame.stream_id})
            else:
                obs.match = match
                if state.copies.extend(obs, t):
                    out.append(self._evidence(frame.stream_id, obs, frame.frame.wall_time, t))
        return out + [self._evidence(frame.stream_id, o, frame.frame.wall_time, t) for o in state.copies.expire(t)]

    def finish(self, stream_id: str) -> list[Evidence]:
        """The stream ended: final spans of content still playing in the picture, and forget the stream.
        (Its sound is ``self.audio``'s, a detector of its own.)"""
        with self._lock:
            state = self._streams.pop(stream_id, None)
            self._next_live.pop(stream_id, None)  # a reopened stream's media time starts again at 0
        if state is None:
            return []
        return [self._evidence(stream_id, o, 0.0, o.last) for o in state.copies.finish()]

    def close(self) -> None:
        """Nothing to stop: matching runs in the caller's thread."""

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
            hit = touched.get(id(tr))
            if hit is not None and tr.hits >= o.min_run and (hit.content_id not in best or hit.score > best[hit.content_id].score):
                best[hit.content_id] = hit
        return list(best.values())

    def _evidence(self, stream_id: str, obs: _Copy, wall_time: float, now: float) -> Evidence:
        obs.reported(now)
        m = obs.match
        details = {"kind": "video", "content_time": round(m.content_time, 3), "mirrored": m.mirrored, "region": m.region}
        source = live_source(obs.content_id)
        if source is not None:
            details["source_stream"] = source
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
            details=details,
        )


_AUDIO_RATE = 16000


def _decoded_audio(path: str | Path) -> np.ndarray:
    """The file's first audio track as 16 kHz mono float32 (empty when it has none)."""
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return np.zeros(0, np.float32)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=_AUDIO_RATE)
        parts = [f.to_ndarray().reshape(-1) for frame in container.decode(container.streams.audio[0])
                 for f in resampler.resample(frame)]
        parts += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)


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
    return _dct_hash(_small(gray))


def _small(gray: np.ndarray) -> np.ndarray:
    return cv2.resize(gray, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)


def _dct_hash(small: np.ndarray) -> np.uint64:
    low = cv2.dct(small)[:8, :8].reshape(-1)
    bits = low > np.sort(low[1:])[31]  # the median of 63 values, without np.median's overhead
    return np.uint64(int(np.packbits(bits).view(">u8")[0]))


def query_hashes(gray: np.ndarray, mirror: bool, min_std: float = 8.0) -> list[tuple[np.uint64, np.ndarray, np.ndarray]]:
    """What a live region is looked up by: (whole-picture hash, quadrant hashes, which quadrants have
    texture), then the same for its mirror image, made from the same 32x32 copies (the copy of a
    mirror image is the mirrored copy). Registered crops stand for a copy that was cropped."""
    h, w = gray.shape
    hy, hx = h // 2, w // 2
    parts = (gray[:hy, :hx], gray[:hy, hx:], gray[hy:, :hx], gray[hy:, hx:])
    smalls = [_small(g) for g in (gray, *parts)]
    textured = np.array([float(p.std()) >= min_std for p in parts], bool)
    out = [(_dct_hash(smalls[0]), np.array([_dct_hash(x) for x in smalls[1:]], np.uint64), textured)]
    if mirror:
        flipped = [np.ascontiguousarray(x[:, ::-1]) for x in smalls]
        out.append((_dct_hash(flipped[0]), np.array([_dct_hash(flipped[i]) for i in (2, 1, 4, 3)], np.uint64),
                    textured[[1, 0, 3, 2]]))
    return out


def region_hashes(gray: np.ndarray, min_std: float = 8.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(whole-picture hashes of each of ``_WHOLE_CROPS``, quadrant hashes, which quadrants have texture)."""
    h, w = gray.shape
    whole = [phash(gray[int(h * top) : int(round(h * bottom)), int(w * left) : int(round(w * right))])
             for top, bottom, left, right in _WHOLE_CROPS]
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


def candidate_regions(gray: np.ndarray, find_pictures: bool, max_pictures: int, motion: Iterable[Box] = (),
                      min_area: float = 0.2) -> list[tuple[str, Box]]:
    """Where the protected picture may be: whole frame, border-trimmed frame, edge-bounded rectangles,
    then the given motion regions (work-image pixels), and the top band of each (``band_box``)."""
    h, w = gray.shape[:2]
    regions = [("full", Box(0, 0, w, h))]
    x, y, bw, bh = _border_box(gray, 6.0, 0.4)
    if (bw, bh) != (w, h) and bw > w // 5 and bh > h // 5:
        regions.append(("trimmed", Box(x, y, bw, bh)))
    if find_pictures:
        regions += [("picture", b) for b in find_rectangles(gray, min_area=min_area)[:max_pictures]]
    for box in motion:
        if all(_iou(box, b) < 0.85 for _, b in regions):
            regions.append(("motion", box))
    for _, box in list(regions):
        band = band_box(box, h)
        if band is not None and all(_iou(band, b) < 0.9 for _, b in regions):
            regions.append(("band", band))
    return regions


def band_box(box: Box, frame_h: int) -> Box | None:
    """The top band (``_BAND`` of the height) of the 16:9 picture whose upper part ``box`` may be.

    A region as wide as a 16:9 picture but shorter (down to the band) is a picture whose lower
    part is hidden, most often by a caption bar drawn over it (its lower edge is then not found);
    a full 16:9 region may carry a bar inside. Either way the band is what is left intact, and it
    is matched against the registered top bands. Taller regions (a stretched split screen) and
    regions showing less than the band have none.
    """
    full_h = box.w * _ASPECT
    band_h = round(full_h * _BAND)
    if not band_h - 1 <= box.h <= full_h * 1.04 + 1 or box.y + band_h > frame_h:
        return None
    return Box(box.x, box.y, box.w, band_h)


def _iou(a: Box, b: Box) -> float:
    ix = max(0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    iy = max(0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    inter = ix * iy
    return inter / float(a.w * a.h + b.w * b.h - inter)


def motion_boxes(changed: np.ndarray, min_area: float, limit: int = 2) -> list[Box]:
    """Bounding boxes of the largest connected areas that changed (``changed``: 0/1 per pixel), each
    covering at least ``min_area`` of the frame; a still layout with a moving inset gives the inset."""
    h, w = changed.shape
    closed = cv2.morphologyEx(changed, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
    n, _, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=8)
    boxes = []
    for i in np.argsort(-stats[1:, cv2.CC_STAT_AREA])[:limit] + 1:
        x, y, bw, bh, area = (int(v) for v in stats[i])
        if bw * bh >= min_area * w * h and area >= 0.3 * bw * bh and (bw, bh) != (w, h):
            boxes.append(Box(x, y, bw, bh))
    return boxes


def find_rectangles(gray: np.ndarray, min_frac: float = 0.25, min_area: float = 0.2) -> list[Box]:
    """Axis-aligned rectangles whose sides are mostly long straight edges or the frame's own sides,
    best supported first.

    A re-broadcast shown as a picture inside a streamer's layout has a hard
    border against the layout; its sides show up as long horizontal and
    vertical edge segments. A split screen or a picture against the frame's
    edge has some sides on the frame boundary instead: those count as
    covered, and a single real side must run nearly its whole length.
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
    xs = np.array(sorted({0, gw - 1, *_line_positions(vert)}))
    ys = np.array(sorted({0, gh - 1, *_line_positions(horz)}))
    # every side of every box (xs[a], ys[c]) - (xs[b], ys[d]) at once, from prefix sums
    v = _coverage(vert, xs, ys)  # [x, y0, y1]
    h = _coverage(horz, ys, xs)  # [y, x0, x1]
    ia, ib, ja, jb = np.meshgrid(*(np.arange(n) for n in (len(xs), len(xs), len(ys), len(ys))), indexing="ij")
    width, height = xs[ib] - xs[ia], ys[jb] - ys[ja]
    cov = np.stack([v[ia, ja, jb], v[ib, ja, jb], h[ja, ia, ib], h[jb, ia, ib]])
    real = ~np.stack([xs[ia] == 0, xs[ib] == gw - 1, ys[ja] == 0, ys[jb] == gh - 1])  # not the frame's own side
    n_real = real.sum(axis=0)
    support = np.where(real, cov, 0.0).sum(axis=0) / np.maximum(n_real, 1) * np.where(n_real == 1, 0.75, 1.0)
    weakest = np.where(real, cov, np.inf).min(axis=0)
    ok = ((width >= gw * min_frac) & (height >= gh * min_frac) & (width * height >= min_area * gw * gh)
          & ~((width >= gw - 4) & (height >= gh - 4)) & (n_real >= 1) & ((n_real > 1) | (weakest >= 0.8))
          & (support >= 0.45) & (weakest >= 0.3))  # a side may fade into a similar backdrop
    found = np.flatnonzero(ok)
    order = np.lexsort((-(width * height).flat[found], -n_real.flat[found], -support.flat[found]))
    return [Box(int(xs[ia.flat[f]]), int(ys[ja.flat[f]]), int(width.flat[f]), int(height.flat[f])) for f in found[order]]


def _coverage(lines: np.ndarray, at: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """``[i, a, b]``: share of [ends[a], ends[b]] covered by segments on line ``at[i]`` (or its neighbours)."""
    band = np.stack([lines[max(0, p - 2) : p + 3].any(axis=0) for p in at])
    prefix = np.concatenate([np.zeros((len(at), 1)), np.cumsum(band, axis=1)], axis=1)
    lo, hi = ends[:, None], ends[None, :]
    covered: np.ndarray = (prefix[:, hi + 1] - prefix[:, lo]) / np.maximum(hi - lo + 1, 1)[None]
    return covered


def _line_positions(lines: np.ndarray, min_px: int = 8, limit: int = 12) -> list[int]:
    """The ``limit`` longest lines' positions, merged when adjacent (a border drawn 2-3 px wide is
    one line), in order. Longest, not first: a busy layout must not hide a picture's right side."""
    length = lines.sum(axis=1)
    pos = np.flatnonzero(length >= min_px)
    merged: list[int] = []
    for p in pos:
        if merged and p - merged[-1] <= 2:
            continue
        merged.append(int(p))
    return sorted(sorted(merged, key=lambda p: -int(length[max(0, p - 2) : p + 3].max()))[:limit])
