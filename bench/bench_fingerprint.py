"""Re-broadcast fingerprints: lookup cost and memory as the protected library grows.

Figures at 10, 100 and 1,000 hours of protected content (synthetic hashes,
one fingerprint per 0.5 s as ``register_video`` makes them), each beside
today's linear scan measured in the same run on the same queries:
- video lookup ms per sampled frame: one frame's 12 region variants (6 candidate
  regions, each mirrored), half near a registered fingerprint (0-10 bits of
  noise), half unrelated; the multi-index tables vs the vectorised popcount over
  every registered row (``linear_scan_frame``, the code the index replaced);
- recall of the whole-picture lookup vs an exact scan at the same radius;
- memory of the registered arrays and the hash tables (bytes held);
- start-up: load of a saved index (memory-mapped) vs building its tables from the hashes;
- the whole ``query`` of a real 1280x720 frame (regions, hashing, lookup);
- audio lookup ms per second of audio (``frames.audio_fingerprint``: a 6 s window
  matched every 2 s, on synthetic Chromaprint-like sub-fingerprints) vs a scan of
  every registered code, and Chromaprint's own cost per second of audio.

Synthetic video hashes are not uniform: each programme is a random walk (a few
bits flip per fingerprint, a new shot every ~5 s), the crops of one picture sit
a few bits apart, so buckets fill as unevenly as real ones. Timings are medians
on a shared 2-core machine.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.figures import figure
from frames.audio_fingerprint import ITEM_S
from frames.fingerprint import FingerprintIndex
from frames.fingerprint_index import linear_search

TIME_LIMIT_S = 1200
HOURS = (10, 100, 1000)
PER_HOUR = 7200  # fingerprints per hour at register_interval_s = 0.5
ITEM_HOURS = 10  # one registered item per 10 hours of content
FRAMES = 40
LINEAR_FRAMES = {10: 20, 100: 6, 1000: 2}


def _flip(codes: np.ndarray, bits: np.ndarray) -> np.ndarray:
    return codes ^ np.bitwise_or.reduce(np.uint64(1) << bits.astype(np.uint64), axis=-1)


def _random_codes(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.integers(0, 2**64, shape, dtype=np.uint64)


def programme(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``n`` fingerprints of a synthetic programme: (times, whole (n,4), quads (n,4), quad_ok (n,4))."""
    base = _random_codes(rng, (n, 6))
    new_shot = rng.random(n) < 0.1  # a cut every ~10 fingerprints (5 s)
    new_shot[0] = True
    shot = np.cumsum(new_shot) - 1
    walk = base[np.flatnonzero(new_shot)][shot]  # the shot's first picture...
    steps = rng.integers(0, 64, (n, 6, 2))
    drift = np.arange(n) - np.flatnonzero(new_shot)[shot]
    moved = _flip(walk, steps) * (drift[:, None] > 0) + walk * (drift[:, None] == 0)  # ...and a little motion
    whole = np.stack([moved[:, 0], _flip(moved[:, 0], rng.integers(0, 64, (n, 3))),
                      _flip(moved[:, 0], rng.integers(0, 64, (n, 5))), moved[:, 5]], axis=1)  # the top band: its own
    quads = moved[:, 1:5]
    quad_ok = rng.random((n, 4)) < 0.9
    return np.arange(n) * 0.5, whole, quads, quad_ok


_LIBRARIES: dict[int, FingerprintIndex] = {}


def library(hours: int, seed: int = 0) -> FingerprintIndex:
    """The synthetic library of ``hours`` (kept: the full-query figure reuses it)."""
    if hours in _LIBRARIES:
        return _LIBRARIES[hours]
    rng = np.random.default_rng(seed)
    index = _LIBRARIES[hours] = FingerprintIndex()
    for item in range(max(1, hours // ITEM_HOURS)):
        index.register_hashes(f"item-{item}", *programme(rng, min(hours, ITEM_HOURS) * PER_HOUR))
    return index


def frame_queries(index: FingerprintIndex, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """12 region variants of one sampled frame: 6 near registered rows (a copy's regions), 6 unrelated."""
    rows = rng.integers(0, len(index), 6)
    noise = rng.integers(0, 11, 6)
    whole = np.array([_flip(index._whole[r, rng.integers(0, 3)], rng.integers(0, 64, k)) if k else index._whole[r, 0]
                      for r, k in zip(rows, noise)], np.uint64)
    quads = np.stack([_flip(index._quads[r], rng.integers(0, 64, (4, 3))) for r in rows])
    whole = np.concatenate([whole, _random_codes(rng, (6,))])
    quads = np.concatenate([quads, _random_codes(rng, (6, 4))])
    return whole, quads, np.ones((12, 4), bool)


def linear_scan_frame(index: FingerprintIndex, whole: np.ndarray, quads: np.ndarray, quad_ok: np.ndarray) -> int:
    """Today's search before the index: per region variant, a popcount over every registered row
    (its 3 crops against the variant's 3 crops, and the 4 quadrants)."""
    o = index.options
    found = 0
    for v in range(len(whole)):
        crops = np.array([whole[v], whole[v] ^ np.uint64(1), whole[v] ^ np.uint64(2)], np.uint64)
        dist = np.bitwise_count(index._whole[:, :, None] ^ crops[None, None, :]).min(axis=(1, 2))
        qd = np.where(index._quad_ok & quad_ok[v][None, :], np.bitwise_count(index._quads ^ quads[v][None, :]), 64)
        near = (qd <= o.quadrant_max_hamming).sum(axis=1)
        strict = (qd <= o.strict_quadrant_hamming).sum(axis=1)
        found += int(((dist <= o.max_hamming) | (near >= o.min_quadrants) | (strict >= o.min_strict_quadrants)).sum())
    return found


def _median_ms(fn, runs: list) -> float:
    times = []
    for args in runs:
        t0 = time.perf_counter()
        fn(*args)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def video_figures(hours: int, tmp: Path) -> list[dict]:
    t0 = time.perf_counter()
    index = library(hours)
    whole_index, quad_index, _ = index._index()
    build_s = time.perf_counter() - t0
    rng = np.random.default_rng(hours)
    queries = [frame_queries(index, rng) for _ in range(FRAMES)]
    index._search(*queries[0])  # warm
    ms = _median_ms(index._search, queries)
    linear_ms = _median_ms(lambda *q: linear_scan_frame(index, *q), queries[: LINEAR_FRAMES[hours]])
    # recall of the whole-picture lookup against an exact scan at the same radius
    probe = np.concatenate([q[0][:6] for q in queries[:10]])
    r = index.options.max_hamming
    got = set(zip(*[a.tolist() for a in whole_index.search(probe, r)[:2]]))
    exact = set(zip(*[a.tolist() for a in linear_search(whole_index.codes, probe, r)[:2]]))
    recall = len(got & exact) / max(1, len(exact))
    arrays = sum(a.nbytes for a in (index._times, index._content, index._whole, index._quads, index._quad_ok))
    tables = whole_index.nbytes + quad_index.nbytes - whole_index.codes.nbytes
    path = tmp / f"lib{hours}"
    index.save(path)
    t0 = time.perf_counter()
    FingerprintIndex.load(path)._index()
    load_s = time.perf_counter() - t0
    shutil.rmtree(path)
    n = len(index)
    note = f"{n:,} fingerprints in {max(1, hours // ITEM_HOURS)} items"
    return [
        figure(f"video lookup ms/frame @{hours}h", ms, "ms", "linear scan (today)", linear_ms,
               f"{note}; 12 region variants per frame, medians of {FRAMES} and {LINEAR_FRAMES[hours]} frames"),
        figure(f"video lookup recall @{hours}h", recall, "ratio", "exact scan, same radius", 1.0,
               f"whole-picture matches within {r} bits; exact up to {whole_index.exact_radius} bits by construction"),
        figure(f"video index memory @{hours}h", (arrays + tables) / 2**20, "MiB", "linear scan arrays", arrays / 2**20,
               "registered arrays + multi-index tables"),
        figure(f"video index start @{hours}h", load_s, "s", "build tables from hashes", build_s,
               "load of the saved index (arrays and tables memory-mapped: pages are read on first use) vs "
               "registering the hashes and building the tables"),
    ]


def full_query_figure() -> dict:
    """The whole ``query`` (regions, hashes, lookup) of a real 1280x720 frame against 1,000 h vs 10 h."""
    import cv2

    rng = np.random.default_rng(5)
    frame = np.full((720, 1280, 3), 60, np.uint8)
    for _ in range(30):
        x, y = int(rng.integers(0, 1200)), int(rng.integers(0, 650))
        cv2.rectangle(frame, (x, y), (x + int(rng.integers(20, 300)), y + int(rng.integers(20, 200))),
                      tuple(int(c) for c in rng.integers(0, 255, 3)), -1)
    out = []
    for hours in (10, 1000):
        index = library(hours)
        index.query(frame)
        out.append(_median_ms(index.query, [(frame,)] * 10))
    return figure("video query ms/frame @1000h (1280x720)", out[1], "ms", "same frame @10h", out[0],
                  "regions + hashes + lookup; the region search and hashing do not grow with the library")


def synthetic_items(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Chromaprint-like sub-fingerprints: neighbours share most bits (its filters overlap in time)."""
    n = max(3, int(seconds / ITEM_S))
    flips = np.bitwise_or.reduce(np.uint32(1) << rng.integers(0, 32, (n, 4)).astype(np.uint32), axis=1)
    return np.bitwise_xor.accumulate(np.concatenate([rng.integers(0, 2**32, 1, dtype=np.uint32), flips[1:]]))


def audio_figures() -> list[dict]:
    """Audio: one window match (6 s of sound, every hop_s) per library size, per second of audio."""
    from frames.audio_fingerprint import AudioIndex, pair_codes

    out = []
    options = AudioIndex().options
    for hours in HOURS:
        rng = np.random.default_rng(hours)
        index = AudioIndex(options)
        for item in range(max(1, hours // ITEM_HOURS)):
            index.register_items(f"item-{item}", synthetic_items(rng, min(hours, ITEM_HOURS) * 3600))
        codes = index._codes()
        windows = []
        for _ in range(30):  # half copies of a registered stretch (2-4 bits of noise per item), half unrelated
            item = index._items[int(rng.integers(0, len(index._items)))]
            at = int(rng.integers(0, len(item) - 30))
            noisy = item[at : at + 28] ^ np.bitwise_or.reduce(np.uint32(1) << rng.integers(0, 32, (28, 3)).astype(np.uint32), axis=1)
            windows += [noisy, synthetic_items(rng, 3.5)]
        index.match(windows[0])
        ms = _median_ms(index.match, [(w,) for w in windows]) / options.hop_s
        found = sum(index.match(w) is not None for w in windows[::2]) / len(windows[::2])
        scan = _median_ms(lambda w, codes=codes: linear_search(codes.codes, pair_codes(w), options.search_bits),
                          [(w,) for w in windows[:2]])
        out.append(figure(f"audio lookup ms per audio second @{hours}h", ms, "ms", "linear scan of every code",
                          scan / options.hop_s, f"{len(index):,} sub-fingerprints; a {options.window_s:g} s window every "
                          f"{options.hop_s:g} s; copies found {found:.0%}; {codes.nbytes / 2**20:.0f} MiB"))
    return out


def chromaprint_figure() -> dict:
    """Fingerprinting a stream's sound: Chromaprint over a 6 s window every 2 s, per second of audio."""
    from frames.audio_fingerprint import chromaprint

    rng = np.random.default_rng(3)
    t = np.arange(6 * 16000) / 16000
    sound = (0.3 * np.sin(2 * np.pi * 220 * t * (1 + 0.1 * np.sin(t))) + 0.05 * rng.normal(size=len(t))).astype(np.float32)
    chromaprint(sound, 16000)
    ms = _median_ms(lambda: chromaprint(sound, 16000), [()] * 10) / 2.0
    return figure("audio fingerprinting ms per audio second", ms, "ms", "real time", 1000.0,
                  "Chromaprint (libchromaprint 1.5.1) of a 6 s window every 2 s; does not grow with the library")


def run() -> list[dict]:
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        for hours in HOURS:
            figures += video_figures(hours, Path(tmp))
    figures.append(full_query_figure())
    figures += audio_figures()
    figures.append(chromaprint_figure())
    return figures


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=1))
