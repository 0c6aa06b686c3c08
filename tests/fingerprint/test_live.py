"""Streams protected while they are live: the outbox of a protected stream, live batches added to the
index (matched, own stream excluded, bounded by the live window, library untouched) and their wire form."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from fp_media import TRANSFORMS, programme_frame

from events import ConfigError, LiveFingerprints, SampledFrame, VideoFrame
from frames.fingerprint import FingerprintIndex, FingerprintOptions

NOW = time.time()


def frames(stream_id: str, seed: int, times: list[float], shift: float = 0.0, transform: str | None = None,
           wall: float = NOW) -> list[SampledFrame]:
    """Sampled frames of programme ``seed`` at media ``times``, showing its content at ``t + shift``."""
    out = []
    for i, t in enumerate(times):
        image = programme_frame(t + shift, seed)
        if transform is not None:
            image = TRANSFORMS[transform][1](image, t)
        out.append(SampledFrame(VideoFrame(stream_id, i, t, wall + t, image), phash=0))
    return out


def played(index: FingerprintIndex, sampled: list[SampledFrame]) -> list:
    return [e for f in sampled for e in index.process(f)]


def live_show(stream_id: str = "showA", seed: int = 1, seconds: int = 30) -> list[LiveFingerprints]:
    """What the worker watching a protected show publishes after ``seconds`` of it."""
    source = FingerprintIndex()
    source.protect(stream_id)
    assert played(source, frames(stream_id, seed, [float(t) for t in range(seconds)])) == []
    return source.drain_live()


def test_a_protected_stream_yields_hashes_every_register_interval_and_others_none() -> None:
    index = FingerprintIndex(FingerprintOptions(register_interval_s=1.0))
    index.protect("showA")
    played(index, frames("showA", 1, [t * 0.5 for t in range(20)]))  # a frame every 0.5 s of media
    played(index, frames("other", 2, [float(t) for t in range(10)]))
    (batch,) = index.drain_live()
    assert batch.source_stream == "showA" and batch.content_id == "live:showA"
    assert batch.times.tolist() == [float(t) for t in range(10)]
    assert batch.whole.shape == (10, 4) and batch.quads.shape == (10, 4) and batch.quad_ok.shape == (10, 4)
    assert batch.wall_time == pytest.approx(NOW + 9.5)
    assert index.drain_live() == [], "drained once"

    index.protect("showA", on=False)
    played(index, frames("showA", 1, [10.0, 11.0]))
    assert index.drain_live() == [] and index.protected == frozenset()


def test_a_live_batch_from_another_worker_is_matched_and_names_the_source() -> None:
    batches = live_show()
    index = FingerprintIndex()  # no library at all: live content alone
    assert all(index.add_live(b) for b in batches) and index.live_content_ids == ("live:showA",)
    # stream B shows A's picture in a streamer layout, 5.3 s behind A's media time
    evidence = played(index, frames("copyB", 1, [float(t) for t in range(12)], shift=5.3, transform="picture"))
    assert evidence, "no fingerprint evidence for the re-broadcast of a live show"
    first = evidence[0]
    assert first.text == "live:showA" and first.details["source_stream"] == "showA"
    assert 4.0 <= first.details["content_time"] - first.media_end <= 6.5  # content time is A's media time


def test_a_stream_never_matches_its_own_live_content() -> None:
    index = FingerprintIndex()
    index.protect("showA")
    played(index, frames("showA", 1, [float(t) for t in range(20)]))
    for batch in index.drain_live():
        index.add_live(batch)
    assert played(index, frames("showA", 1, [float(t) for t in range(20, 30)], shift=-10.0)) == []
    assert played(index, frames("copyB", 1, [float(t) for t in range(8)])), "another stream showing it does match"


def test_live_content_is_bounded_by_the_live_window() -> None:
    index = FingerprintIndex(FingerprintOptions(live_window_s=60.0))
    (batch,) = live_show()
    assert not index.add_live(batch, now=batch.wall_time + 61), "read later than the window: ignored"
    assert index.add_live(batch, now=batch.wall_time)
    (other,) = live_show("showC", seed=2, seconds=4)
    later = LiveFingerprints("showC", other.times, other.whole, other.quads, other.quad_ok, wall_time=batch.wall_time + 61)
    assert index.add_live(later, now=later.wall_time)
    assert index.live_content_ids == ("live:showC",), "showA's rows aged out with the window"
    assert played(index, frames("copyB", 1, [float(t) for t in range(8)])) == []


def test_live_additions_leave_the_saved_library_as_it_was(tmp_path) -> None:
    library = FingerprintIndex()
    library.register_frames("film-2", ((t / 2, programme_frame(t / 2, 2)) for t in range(40)))
    library.save(tmp_path / "lib")
    index = FingerprintIndex.load(tmp_path / "lib")
    tables = index._tables
    for batch in live_show():
        index.add_live(batch)
    assert played(index, frames("pirate", 2, [float(t) for t in range(6)], shift=0.3))[0].text == "film-2"
    assert played(index, frames("copyB", 1, [float(t) for t in range(6)], shift=0.3))[0].text == "live:showA"
    assert index._tables is tables, "the library's tables were rebuilt for a live addition"
    assert index.content_ids == ("film-2",) and len(index) == 40


def test_live_fingerprints_round_trip_through_json() -> None:
    (batch,) = live_show(seconds=3)
    batch = LiveFingerprints(batch.source_stream, batch.times, batch.whole | np.uint64(1 << 63), batch.quads,
                             batch.quad_ok, batch.wall_time)  # the top bit survives (no float on the way)
    back = LiveFingerprints.from_dict(json.loads(json.dumps(batch.to_dict())))
    assert back.source_stream == "showA" and back.content_id == "live:showA" and back.wall_time == batch.wall_time
    for a, b in ((back.times, batch.times), (back.whole, batch.whole), (back.quads, batch.quads), (back.quad_ok, batch.quad_ok)):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    with pytest.raises(ValueError, match="disagree"):
        LiveFingerprints.from_dict({**batch.to_dict(), "content_id": "live:someone-else"})
    with pytest.raises((ValueError, KeyError)):
        LiveFingerprints.from_dict({"source_stream": "showA", "times": [1.0], "whole": [["zz"]]})
    bad = LiveFingerprints("showA", batch.times, batch.whole[:, :2], batch.quads, batch.quad_ok, batch.wall_time)
    with pytest.raises(ConfigError, match="live:showA"):
        FingerprintIndex().add_live(bad)
