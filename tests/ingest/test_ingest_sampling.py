"""The reader's pure decisions: sampling grid, keyframe gate, audio chunking, ordering."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from ingest.sampling import AudioChunker, FrameGrid, Interleaver, KeyframeGate


def test_grid_keeps_one_frame_per_interval() -> None:
    grid = FrameGrid(1.0)
    times = [i / 25 for i in range(25 * 5)]
    kept = [t for t in times if grid.take(t)]
    assert kept == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_grid_with_sparse_frames_never_emits_a_point_twice() -> None:
    grid = FrameGrid(1.0)
    assert [t for t in (0.0, 0.8, 1.6, 2.4, 3.2, 3.3) if grid.take(t)] == [0.0, 1.6, 2.4, 3.2]


@given(st.lists(st.floats(0, 1000, allow_nan=False), min_size=1, max_size=200), st.sampled_from([0.5, 1.0, 2.0]))
def test_grid_kept_frames_are_at_least_almost_an_interval_apart(times, interval) -> None:
    grid = FrameGrid(interval)
    kept = [t for t in sorted(times) if grid.take(t)]
    assert all(b - a > 0 for a, b in zip(kept, kept[1:]))
    assert len(kept) <= (max(times) - min(times)) / interval + 2


def test_grid_takes_a_new_interval_from_its_next_point() -> None:
    """The worker's scheduler lengthens the interval under load and shortens it again (after the point due)."""
    grid = FrameGrid(1.0)
    kept = [t for t in (0.0, 1.0) if grid.take(t)]
    grid.interval = 2.0
    kept += [t for t in (2.0, 3.0, 4.0, 5.0, 6.0) if grid.take(t)]
    grid.interval = 1.0
    kept += [t for t in (7.0, 8.0) if grid.take(t)]
    assert kept == [0.0, 1.0, 2.0, 4.0, 6.0, 8.0]


def test_gate_retimed_keeps_its_tolerance_share_and_skips_once_gop_fits() -> None:
    gate = KeyframeGate(0.5)
    packets = [(i / 25, i % 25 == 0) for i in range(100)]  # keyframe every 1 s: longer than 0.5 s
    assert all(_run_gate(gate, packets[:50]))
    gate.retime(1.0)
    assert gate.tolerance == 0.1
    assert sum(_run_gate(gate, packets[50:])) == 2  # keyframes only, now that the GOP fits
    for _ in range(10):
        gate.retime(1.5)
        gate.retime(1.0)
    assert (gate.interval, gate.tolerance) == (1.0, 0.1)


def _run_gate(gate: KeyframeGate, packets: list[tuple[float, bool]]) -> list[bool]:
    return [gate.needs_decode(t, key) for t, key in packets]


def test_gate_skips_non_key_packets_once_gop_fits_the_interval() -> None:
    packets = [(i / 25, i % 25 == 0) for i in range(100)]  # keyframe every 1 s
    decoded = _run_gate(KeyframeGate(1.0), packets)
    assert all(decoded[:26])                               # first GOP: spacing unknown yet
    assert sum(decoded[26:]) == 2                          # then keyframes only (at 2 s and 3 s)


def test_gate_decodes_everything_when_gop_is_longer_than_interval() -> None:
    packets = [(i / 25, i % 50 == 0) for i in range(200)]  # keyframe every 2 s
    assert all(_run_gate(KeyframeGate(1.0), packets))


def test_gate_skips_until_the_first_keyframe_and_recovers_when_gop_grows() -> None:
    gate = KeyframeGate(1.0)
    assert not gate.needs_decode(0.0, False)               # joined mid-GOP: garbage until a keyframe
    assert gate.needs_decode(0.5, True)
    assert gate.needs_decode(1.5, True) and gate.skipping
    assert not gate.needs_decode(1.6, False)
    assert not gate.needs_decode(2.7, False)               # no keyframe for > interval: wait for the next
    assert not gate.skipping and gate.waiting_key
    assert gate.needs_decode(3.5, True)
    assert gate.needs_decode(3.6, False)                   # spacing 2 s now: decode all again


def test_audio_chunker_cuts_fixed_chunks_and_restarts_on_gaps() -> None:
    ch = AudioChunker(rate=100, chunk_s=0.5)
    out = ch.add(0.0, np.ones(120, np.float32))
    assert [(s, len(x)) for s, x in out] == [(0.0, 50), (0.5, 50)]
    out = ch.add(1.2, np.ones(40, np.float32))             # contiguous (1.2 expected)
    assert [(s, len(x)) for s, x in out] == [(1.0, 50)]
    out = ch.add(5.0, np.ones(10, np.float32))             # a gap: the partial chunk closes early
    assert [(round(s, 3), len(x)) for s, x in out] == [(1.5, 10)]
    assert [(s, len(x)) for s, x in ch.flush()] == [(5.0, 10)]
    assert ch.flush() == []


def test_interleaver_releases_in_media_time_order() -> None:
    il = Interleaver(("video", "audio"))
    il.push(1.0, "v1")
    assert il.advance("video", 1.0) == []                  # audio may still bring something earlier
    il.push(0.5, "a0.5")
    assert il.advance("audio", 1.0) == ["a0.5", "v1"]
    il.push(5.0, "v5")
    assert il.advance("video", 7.5) == ["v5"]              # a quiet track holds others back 2 s at most
    il.push(9.0, "v9")
    assert il.drain() == ["v9"]
