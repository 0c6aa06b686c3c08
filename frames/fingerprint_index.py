"""Hamming search over 64-bit perceptual hashes that does not scan the whole library.

Multi-index hashing (Norouzi, Punjani, Fleet 2012): each code is cut into
``parts`` substrings and every substring keys a bucket table. Two codes within
Hamming distance ``r`` agree, by pigeonhole, within ``r // parts`` bits on at
least one substring, so probing every bucket within ``probe_bits`` of each
query substring finds **every** code within ``parts * (probe_bits + 1) - 1``
bits (8 with the defaults) and most codes a little further; each candidate is
then checked with its full code, so nothing further than the radius is
returned. A bucket table is CSR: the entries sorted by substring
(``order``) and where each substring's run starts (``starts``), so a probe is
two array reads and a whole frame's probes are one vectorised gather.

A bucket key is the top ``bits`` bits of a substring, ``bits`` ~ log2 of the
number of codes (at most the substring width): about one code per bucket, so
a small library keeps small tables and the cost grows with the bucket load,
not with a scan of the library. ``bench/bench_fingerprint.py`` measures it
against :func:`linear_search` at 10, 100 and 1,000 hours.

This module imports only numpy.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

_BITS = 64


def _flip_masks(bits: int, max_flips: int) -> np.ndarray:
    """Every ``bits``-wide mask with at most ``max_flips`` bits set (0 first)."""
    masks = [0]
    for k in range(1, max_flips + 1):
        masks += [sum(1 << b for b in c) for c in combinations(range(bits), k)]
    return np.array(masks, np.int64)


class HashIndex:
    """Immutable multi-index over ``codes`` (uint64); ``search`` returns entry positions in ``codes``."""

    def __init__(self, codes: np.ndarray, parts: int = 3, probe_bits: int = 2,
                 tables: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None):
        self.codes = np.ascontiguousarray(codes, np.uint64)
        self.parts, self.probe_bits = parts, probe_bits
        base, extra = divmod(_BITS, parts)
        widths = [base + (1 if p < extra else 0) for p in range(parts)]
        if tables is not None:
            self.bits = int(tables[1].shape[1] - 1).bit_length() - 1
        else:  # ~1 code per bucket: a small library keeps small tables
            self.bits = int(min(base, max(8, int(np.ceil(np.log2(max(len(self.codes), 2)))))))
        # a bucket is the top ``bits`` bits of a substring: probing them finds a superset of the radius
        self._shifts = [sum(widths[:p]) + widths[p] - self.bits for p in range(parts)]
        self._check_shifts = [(sum(widths[: p + 1])) % _BITS for p in range(parts)]
        self._flips = _flip_masks(self.bits, probe_bits)
        self._flipped = np.bitwise_count(self._flips).astype(np.int8)  # key bits a probe has spent of the radius
        if tables is None:
            tables = self._build()
        # (parts, N) uint32 entries in bucket order, (parts, 2**bits + 1) uint32 bucket starts, and
        # (parts, N) uint32 "checks": 32 other bits of each code in bucket order, so most candidates
        # are rejected by a sequential read instead of a cache miss into ``codes``
        # (plain arrays: a loaded table is a memmap, whose every result would be wrapped as one)
        self.order, self.starts, self.checks = (np.asarray(t) for t in tables)

    @property
    def exact_radius(self) -> int:
        """Every code within this many bits of a query is found (further ones may be)."""
        return self.parts * (self.probe_bits + 1) - 1

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def nbytes(self) -> int:
        return self.codes.nbytes + self.order.nbytes + self.starts.nbytes + self.checks.nbytes

    @property
    def tables(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What to store beside ``codes`` to rebuild this index without sorting (``tables=``)."""
        return self.order, self.starts, self.checks

    def _check(self, codes: np.ndarray, part: int) -> np.ndarray:
        """The 32 bits following part ``part``'s substring (wrapping), none of them in its key."""
        k = self._check_shifts[part]
        rotated = codes if k == 0 else (codes >> np.uint64(k)) | (codes << np.uint64(_BITS - k))
        return (rotated & np.uint64(0xFFFFFFFF)).astype(np.uint32)

    def _key(self, codes: np.ndarray, part: int) -> np.ndarray:
        mask = np.uint64((1 << self.bits) - 1)
        return ((codes >> np.uint64(self._shifts[part])) & mask).astype(np.int64)

    def _build(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = len(self.codes)
        order = np.empty((self.parts, n), np.uint32)
        checks = np.empty((self.parts, n), np.uint32)
        starts = np.zeros((self.parts, (1 << self.bits) + 1), np.uint32)
        for p in range(self.parts):
            keys = self._key(self.codes, p)
            order[p] = np.argsort(keys, kind="stable")
            checks[p] = self._check(self.codes[order[p]], p)
            starts[p, 1:] = np.cumsum(np.bincount(keys, minlength=1 << self.bits))
        return order, starts, checks

    def search(self, queries: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(query position, entry position, distance) of each distinct pair within ``radius`` bits.

        Every part's probes of every query go through one pass of each step (the tables are read as
        flat arrays, a part's rows offset by its place): at 1,000 hours a frame's whole-picture lookup
        reads ~8,000 buckets holding ~115,000 entries, and one numpy call per step over all of them
        replaced three, each with its own temporaries (-30 %). A candidate's check bits are held to
        what the probe left of the radius: key and check bits are disjoint bits of the code, so a
        probe that flipped ``f`` key bits already spent ``f`` of it; 4x fewer candidates then read
        their full code in ``codes``, a cache miss each. Both filters only drop codes further than
        ``radius``: the answer is the one the full codes give.
        """
        queries = np.ascontiguousarray(queries, np.uint64)
        empty = np.zeros(0, np.int64)
        if not len(self.codes) or not len(queries):
            return empty, empty, empty
        nq, nf, n = len(queries), len(self._flips), len(self.codes)
        parts = np.arange(self.parts, dtype=np.int64)
        keys = np.stack([self._key(queries, p) for p in range(self.parts)])  # (parts, queries)
        probes = ((keys[:, :, None] ^ self._flips) + (parts * self.starts.shape[1])[:, None, None]).reshape(-1)
        starts = self.starts.reshape(-1)
        lo = starts.take(probes).astype(np.int64)
        counts = starts.take(probes + 1).astype(np.int64) - lo
        ends = np.cumsum(counts)
        if not ends[-1]:
            return empty, empty, empty
        # entry k of the candidates sits at pos[k] of the flat (parts * n) order / checks
        lo += np.repeat(parts * n, nq * nf) - (ends - counts)
        pos = np.repeat(lo, counts)
        pos += np.arange(ends[-1], dtype=np.int64)
        check = np.stack([self._check(queries, p) for p in range(self.parts)]).reshape(-1)
        differ = self.checks.reshape(-1).take(pos) ^ np.repeat(np.repeat(check, nf), counts)
        budget = np.tile(min(radius, _BITS) - self._flipped, self.parts * nq)
        near = np.flatnonzero(np.bitwise_count(differ) <= np.repeat(budget, counts))
        q = (np.searchsorted(ends, near, side="right") // nf) % nq
        e = self.order.reshape(-1).take(pos.take(near)).astype(np.int64)
        dist = np.bitwise_count(self.codes.take(e) ^ queries.take(q)).astype(np.int64)
        keep = dist <= radius
        q, e, dist = q[keep], e[keep], dist[keep]
        pair = np.unique(q * n + e, return_index=True)[1]  # a code found through two parts once
        return q[pair], e[pair], dist[pair]


def linear_search(codes: np.ndarray, queries: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The same answer as :meth:`HashIndex.search` by scanning every code (the baseline)."""
    qs, es, ds = [], [], []
    for i, query in enumerate(np.asarray(queries, np.uint64)):
        dist = np.bitwise_count(codes ^ query)
        e = np.flatnonzero(dist <= radius)
        qs.append(np.full(len(e), i, np.int64))
        es.append(e.astype(np.int64))
        ds.append(dist[e].astype(np.int64))
    if not qs:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    return np.concatenate(qs), np.concatenate(es), np.concatenate(ds)
