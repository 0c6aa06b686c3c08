"""Audio fingerprints of protected content: re-broadcasts usually keep the original sound.

Fingerprints are Chromaprint's (libchromaprint, through pyacoustid's ctypes
binding): one 32-bit sub-fingerprint every ~0.124 s from the chroma of the
sound. Two consecutive sub-fingerprints make a 64-bit code, indexed with the
multi-index tables of ``frames.fingerprint_index``; a stream's last
``window_s`` of audio is fingerprinted every ``hop_s``, its codes vote for a
(content, alignment), and the vote is checked over the whole window: the bit
error rate of the aligned sub-fingerprints must stay under ``max_ber``.

Why this separates a copy from a shared soundtrack (measured with synthetic
speech over music, tests/fingerprint/test_audio.py): the original mix
re-encoded to 48 kb/s AAC sits ~0.08-0.1 BER from its reference, while the
same background track under another voice, the track alone, other music and
another voice sit at 0.3-0.47. Chromaprint does not follow tempo changes: a
copy played faster or slower is left to the video fingerprint.

This module imports only ``events``, ``frames.fingerprint_index`` (its own
package) and third-party libraries.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from events import AudioChunk, ConfigError, Evidence, Modality, Observation, ObservationTracker
from frames.fingerprint_index import HashIndex

log = logging.getLogger(__name__)

ITEM_S = 4096 / 3 / 11025  # Chromaprint: one sub-fingerprint per 1365.33 samples at 11025 Hz
_OBS_NAMESPACE = uuid.UUID("0c1f6f8e-2b7d-4a51-9f2e-6a3c2d9b7e40")


@dataclass(frozen=True, slots=True)
class AudioFingerprintOptions:
    """``window_s`` of a stream's audio is matched every ``hop_s``; a window matches when its
    sub-fingerprints, aligned on the best-voted offset, differ from the reference's in at most
    ``max_ber`` of their bits over at least ``min_overlap_s``. ``min_run`` matching windows at one
    alignment (within ``offset_tolerance_s``) make evidence."""

    window_s: float = 6.0
    hop_s: float = 2.0
    search_bits: int = 12        # code (two sub-fingerprints, 64 bits) distance for a vote
    min_votes: int = 3
    max_ber: float = 0.2
    min_overlap_s: float = 3.0     # a 6 s window holds ~28 sub-fingerprints (3.5 s): Chromaprint needs ~2.5 s of context
    min_run: int = 2
    offset_tolerance_s: float = 1.0
    max_gap_s: float = 8.0
    reemit_interval_s: float = 10.0
    min_level_dbfs: float = -40.0  # quieter audio (silence, room tone) proves nothing: never matched nor indexed

    def __post_init__(self) -> None:
        if not 2.0 <= self.window_s <= 30.0 or not 0 < self.hop_s <= self.window_s or not 0 < self.max_ber < 0.5:
            raise ConfigError("audio fingerprint options: 2 <= window_s <= 30, 0 < hop_s <= window_s, 0 < max_ber < 0.5")
        if self.min_overlap_s > self.window_s or self.min_run < 1:
            raise ConfigError("audio fingerprint options: min_overlap_s <= window_s, min_run >= 1")


def chromaprint(samples: np.ndarray, rate: int) -> np.ndarray:
    """Raw Chromaprint sub-fingerprints (uint32) of mono float samples in [-1, 1]."""
    try:
        import chromaprint as cp  # pyacoustid's binding; loads libchromaprint
    except ImportError as exc:
        raise ConfigError(f"audio fingerprints need libchromaprint ({exc}); install Debian libchromaprint1 "
                          "and pyacoustid (make setup)") from exc
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    fp = cp.Fingerprinter()
    fp.start(rate, 1)
    fp.feed(pcm)
    raw, _ = cp.decode_fingerprint(fp.finish())
    return np.array(raw, np.uint32)


def level_dbfs(samples: np.ndarray) -> float:
    """RMS level of float samples in dB below full scale (-inf dB for digital silence as -200)."""
    if len(samples) == 0:
        return -200.0
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return 20.0 * np.log10(rms) if rms > 1e-10 else -200.0


def pair_codes(items: np.ndarray) -> np.ndarray:
    """64-bit codes: sub-fingerprint i in the high half, i + 1 in the low half (len(items) - 1 codes)."""
    items = items.astype(np.uint64)
    codes: np.ndarray = (items[:-1] << np.uint64(32)) | items[1:]
    return codes


def bit_error_rate(a: np.ndarray, b: np.ndarray) -> float:
    n = min(len(a), len(b))
    return float(np.bitwise_count(a[:n] ^ b[:n]).sum()) / (32.0 * n) if n else 1.0


@dataclass(frozen=True, slots=True)
class AudioMatch:
    content_id: str
    content_time: float   # content time of the window's start
    ber: float
    overlap_s: float


@dataclass
class _Copy(Observation):
    """Protected sound a stream plays along: its latest match, at ``offset`` (content time - stream time)."""

    match: AudioMatch
    offset: float


@dataclass
class _Run:
    """Windows matching one content at one alignment; a copy once it holds ``min_run`` of them."""

    content_id: str
    offset: float         # content time - stream time
    first: float
    last: float
    hits: int
    copy: _Copy | None = None


@dataclass
class _Stream:
    copies: ObservationTracker[_Copy]
    samples: list[np.ndarray] = field(default_factory=list)
    start: float = 0.0         # media time of samples[0][0]
    buffered: int = 0
    rate: int = 16000
    next_match: float = 0.0    # media time (window end) of the next match
    runs: list[_Run] = field(default_factory=list)


class AudioIndex:
    """Protected audio: per item, its sub-fingerprints; all items' pair codes in one multi-index.

    Matching streams against it, it is an ``events.AudioDetector``: ``process`` each chunk of a
    stream in order, ``finish`` the stream. A copy is one observation (``events.ObservationTracker``).
    """

    def __init__(self, options: AudioFingerprintOptions = AudioFingerprintOptions()):
        self.options = options
        self._ids: list[str] = []
        self._items: list[np.ndarray] = []         # sub-fingerprints per content
        self._starts = np.zeros(1, np.int64)       # first code of each content in the global code array
        self._index: HashIndex | None = None
        self._streams: dict[str, _Stream] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return sum(len(i) for i in self._items)

    @property
    def content_ids(self) -> tuple[str, ...]:
        return tuple(self._ids)

    # --- registration -------------------------------------------------

    def register_samples(self, content_id: str, samples: np.ndarray, rate: int) -> int:
        """Fingerprint one protected item's sound (mono float); returns its sub-fingerprint count.

        An item with nothing audible (a silent programme, room tone) is not indexed: every quiet
        stream would match it.
        """
        if level_dbfs(samples) < self.options.min_level_dbfs:
            log.info("protected audio %s is silent: not indexed", content_id)
            return 0
        return self.register_items(content_id, chromaprint(samples, rate))

    def register_items(self, content_id: str, items: np.ndarray) -> int:
        """Add raw sub-fingerprints (uint32) computed elsewhere, e.g. by :func:`chromaprint`."""
        if content_id in self._ids:
            raise ConfigError(f"protected audio {content_id!r} is already registered; use another id")
        if len(items) < 2:
            return 0
        with self._lock:
            self._ids.append(content_id)
            self._items.append(np.asarray(items, np.uint32))
            self._index = None
        return len(items)

    def _codes(self) -> HashIndex:
        with self._lock:
            if self._index is None:
                lengths = np.array([len(i) - 1 for i in self._items], np.int64)
                self._starts = np.concatenate([[0], np.cumsum(lengths)])
                codes = np.concatenate([pair_codes(i) for i in self._items]) if self._items else np.zeros(0, np.uint64)
                self._index = HashIndex(codes)
            return self._index

    def arrays(self) -> dict[str, np.ndarray]:
        """What ``FingerprintIndex.save`` stores (with the built tables)."""
        index = self._codes()
        return {"audio_ids": np.array(self._ids), "audio_lengths": np.array([len(i) for i in self._items], np.int64),
                "audio_items": np.concatenate(self._items) if self._items else np.zeros(0, np.uint32),
                "audio_codes": index.codes, "audio_order": index.order, "audio_starts": index.starts,
                "audio_checks": index.checks}

    @classmethod
    def from_arrays(cls, data: Mapping[str, np.ndarray], options: AudioFingerprintOptions = AudioFingerprintOptions()) -> AudioIndex:
        index = cls(options)
        ids, lengths, items = [str(i) for i in data["audio_ids"]], data["audio_lengths"], data["audio_items"]
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        index._ids = ids
        index._items = [items[bounds[k] : bounds[k + 1]] for k in range(len(ids))]
        index._starts = np.concatenate([[0], np.cumsum(lengths - 1)])
        index._index = HashIndex(data["audio_codes"], tables=(data["audio_order"], data["audio_starts"], data["audio_checks"]))
        return index

    # --- matching -----------------------------------------------------

    def match(self, items: np.ndarray) -> AudioMatch | None:
        """The protected content a run of sub-fingerprints (a window of a stream) is a copy of, if any."""
        o = self.options
        index = self._codes()
        if len(items) < 3 or not len(index):
            return None
        q, e, _ = index.search(pair_codes(items), o.search_bits)
        if len(q) < o.min_votes:
            return None
        content = np.searchsorted(self._starts, e, side="right") - 1
        offset = e - self._starts[content] - q  # reference item aligned with the window's first item
        key = content * (1 << 32) + offset + (1 << 31)
        keys, votes = np.unique(key, return_counts=True)
        best = None
        top = np.argsort(-votes, kind="stable")[:3]
        for k in keys[top][votes[top] >= o.min_votes].tolist():
            c, off = k >> 32, (k & 0xFFFFFFFF) - (1 << 31)
            for shift in (0, -1, 1):  # votes land within one item of the true alignment
                m = self._verify(c, off + shift, items)
                if m is not None and (best is None or m.ber < best.ber):
                    best = m
        return best

    def _verify(self, content: int, offset: int, items: np.ndarray) -> AudioMatch | None:
        ref = self._items[content]
        lo, hi = max(0, offset), min(len(ref), offset + len(items))
        if (hi - lo) * ITEM_S < self.options.min_overlap_s:
            return None
        ber = bit_error_rate(ref[lo:hi], items[lo - offset : hi - offset])
        if ber > self.options.max_ber:
            return None
        return AudioMatch(self._ids[content], offset * ITEM_S, ber, (hi - lo) * ITEM_S)

    def process(self, chunk: AudioChunk) -> list[Evidence]:
        """One audio chunk of a stream (in order); evidence once a copy has played for a run."""
        o = self.options
        with self._lock:
            st = self._streams.get(chunk.stream_id)
            if st is None:
                st = self._streams[chunk.stream_id] = _Stream(
                    ObservationTracker(o.max_gap_s, o.reemit_interval_s), start=chunk.media_start,
                    rate=chunk.sample_rate, next_match=chunk.media_start + o.window_s)
        if not self._ids:
            return []
        st.samples.append(chunk.samples)
        st.buffered += len(chunk.samples)
        end = st.start + st.buffered / st.rate
        out: list[Evidence] = []
        if end + 1e-6 >= st.next_match:
            st.next_match = end + self.options.hop_s
            out += self._match_window(chunk.stream_id, st, end, chunk.wall_time)
        keep = int(self.options.window_s * st.rate)
        if st.buffered > 2 * keep:  # keep one window of audio
            whole = np.concatenate(st.samples)[-keep:]
            st.start += (st.buffered - len(whole)) / st.rate
            st.samples, st.buffered = [whole], len(whole)
        return out

    def _match_window(self, stream_id: str, st: _Stream, end: float, wall_time: float) -> list[Evidence]:
        o = self.options
        audio = np.concatenate(st.samples)[-int(o.window_s * st.rate) :]
        t0 = end - len(audio) / st.rate
        m = self.match(chromaprint(audio, st.rate)) if level_dbfs(audio) >= o.min_level_dbfs else None
        out = []
        if m is not None:
            offset = m.content_time - t0
            run = next((r for r in st.runs if r.content_id == m.content_id and abs(r.offset - offset) <= o.offset_tolerance_s), None)
            if run is None:
                run = _Run(m.content_id, offset, t0, end, 0)
                st.runs.append(run)
            run.hits, run.last, run.offset = run.hits + 1, end, offset
            if run.hits >= o.min_run and run.copy is None:
                oid = str(uuid.uuid5(_OBS_NAMESPACE, f"{stream_id}|{m.content_id}|audio|{run.first:.3f}"))
                run.copy = st.copies.start(_Copy(oid, run.first, end, m, offset))
                out.append(self._evidence(stream_id, run.copy, wall_time, end))
                log.info("audio re-broadcast of %s", m.content_id, extra={"stream_id": stream_id})
            elif run.copy is not None:
                run.copy.match, run.copy.offset = m, offset
                if st.copies.extend(run.copy, end):
                    out.append(self._evidence(stream_id, run.copy, wall_time, end))
        st.runs = [r for r in st.runs if end - r.last <= o.max_gap_s]  # a copy's run ends with it (same last, same gap)
        return out + [self._evidence(stream_id, c, wall_time, end) for c in st.copies.expire(end)]

    def finish(self, stream_id: str) -> list[Evidence]:
        """The stream ended: final spans of copies still playing, and forget the stream."""
        with self._lock:
            st = self._streams.pop(stream_id, None)
        if st is None:
            return []
        return [self._evidence(stream_id, c, 0.0, c.last) for c in st.copies.finish()]

    def close(self) -> None:
        """Nothing to stop: matching runs in the caller's thread."""

    def _evidence(self, stream_id: str, copy: _Copy, wall_time: float, now: float) -> Evidence:
        copy.reported(now)
        m = copy.match
        return Evidence(
            stream_id=stream_id,
            modality=Modality.FINGERPRINT,
            media_start=round(copy.first, 3),
            media_end=round(copy.last, 3),
            text=m.content_id,
            confidence=round(1.0 - 2.0 * m.ber, 4),
            wall_time=wall_time,
            observation_id=copy.observation_id,
            details={"kind": "audio", "content_time": round(copy.offset + copy.last, 3), "ber": round(m.ber, 4)},  # at media_end
        )
