"""The multi-index over 64-bit hashes answers like a full scan: every code within its exact radius,
nothing beyond the asked radius, whatever the library size (small tables, large tables, reloaded)."""

from __future__ import annotations

import numpy as np
import pytest

from frames.fingerprint_index import HashIndex, linear_search


def _near(rng: np.random.Generator, codes: np.ndarray, bits: int) -> np.ndarray:
    out = codes.copy()
    for i in range(len(out)):
        for b in rng.choice(64, bits, replace=False):
            out[i] ^= np.uint64(1) << np.uint64(int(b))
    return out


def _pairs(result) -> set[tuple[int, int, int]]:
    return set(zip(*(a.tolist() for a in result)))


@pytest.mark.parametrize("n", [1, 500, 200_000])
def test_finds_everything_within_the_exact_radius(n):
    rng = np.random.default_rng(n)
    codes = rng.integers(0, 2**64, n, dtype=np.uint64)
    codes[n // 2 :] = codes[: n - n // 2] ^ np.uint64(0b1011)  # near-duplicates, as consecutive frames are
    index = HashIndex(codes)
    assert index.exact_radius == 8
    queries = np.concatenate([_near(rng, codes[rng.integers(0, n, 20)], k) for k in (0, 3, 6, 8)]
                             + [rng.integers(0, 2**64, 20, dtype=np.uint64)])
    exact = _pairs(linear_search(codes, queries, 8))
    assert _pairs(index.search(queries, 8)) == exact
    wide = _pairs(index.search(queries, 12))
    assert exact <= wide <= _pairs(linear_search(codes, queries, 12))


def test_tables_reload_without_sorting():
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 2**64, 5000, dtype=np.uint64)
    index = HashIndex(codes)
    again = HashIndex(codes, tables=index.tables)
    queries = _near(rng, codes[:50], 5)
    assert _pairs(again.search(queries, 8)) == _pairs(index.search(queries, 8))


def test_empty_index_and_empty_query():
    assert all(len(a) == 0 for a in HashIndex(np.zeros(0, np.uint64)).search(np.array([1], np.uint64), 8))
    assert all(len(a) == 0 for a in HashIndex(np.array([5], np.uint64)).search(np.zeros(0, np.uint64), 8))


@pytest.mark.parametrize("radius", [0, 1, 2, 5])
def test_small_radius_is_exact(radius):
    """A radius below the probes' flips: a probe that flipped more key bits than the radius finds nothing."""
    rng = np.random.default_rng(radius)
    codes = rng.integers(0, 2**64, 20_000, dtype=np.uint64)
    codes[10_000:] = codes[:10_000] ^ np.uint64(0b110) << np.uint64(40)
    index = HashIndex(codes)
    queries = np.concatenate([_near(rng, codes[rng.integers(0, len(codes), 30)], k) for k in (0, 1, 2, 3, 6)])
    assert _pairs(index.search(queries, radius)) == _pairs(linear_search(codes, queries, radius))
