"""Evidence snapshots named by SHA-256, and the bounded ring of recent frames."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from events import SampledFrame, VideoFrame
from frames import RecentFrames, SnapshotStore, encode_jpeg


def _image(value: int) -> np.ndarray:
    img = np.full((72, 128, 3), value, np.uint8)
    img[10:20, 10:40] = (0, 0, 255)
    return img


def _sampled(t: float, value: int = 100) -> SampledFrame:
    return SampledFrame(VideoFrame("s", int(t), t, 0.0, _image(value)), phash=0)


def test_snapshot_is_named_by_sha256_and_saving_twice_is_a_noop(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "snaps")
    snap = store.save(_image(50))
    data = Path(snap.path).read_bytes()
    assert snap.sha256 == hashlib.sha256(data).hexdigest()
    assert Path(snap.path).name == f"{snap.sha256}.jpg"
    mtime = os.stat(snap.path).st_mtime_ns
    assert store.save(_image(50)) == snap and store.save(data) == snap
    assert os.stat(snap.path).st_mtime_ns == mtime
    assert sorted(p.name for p in (tmp_path / "snaps").iterdir()) == [f"{snap.sha256}.jpg"]  # no temp files left
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == (72, 128, 3) and decoded[15, 20, 2] > 200  # still BGR red


def test_snapshot_refuses_bytes_that_are_not_jpeg(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a JPEG"):
        SnapshotStore(tmp_path).save(b"\x89PNG....")


def test_concurrent_saves_of_the_same_frame_agree(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    jpeg = encode_jpeg(_image(7))
    results = []
    threads = [threading.Thread(target=lambda: results.append(store.save(jpeg))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1 and len(list(tmp_path.iterdir())) == 1


def test_recent_frames_returns_nearest_at_or_before() -> None:
    ring = RecentFrames(max_age_s=60)
    for t, v in ((0.0, 10), (1.0, 20), (2.0, 30)):
        ring.add(_sampled(t, v))
    assert ring.at(-0.5) is None
    assert ring.at(0.0) == encode_jpeg(_image(10))
    assert ring.at(1.7) == encode_jpeg(_image(20))
    assert ring.at(99) == encode_jpeg(_image(30))


def test_recent_frames_are_bounded_by_age_and_count() -> None:
    by_age = RecentFrames(max_age_s=5, max_frames=1000)
    for t in range(20):
        by_age.add(_sampled(float(t)))
    assert by_age.span() == (14.0, 19.0) and by_age.at(10) is None
    by_count = RecentFrames(max_age_s=1000, max_frames=3)
    for t in range(20):
        by_count.add(_sampled(float(t)))
    assert len(by_count) == 3 and by_count.span() == (17.0, 19.0)


def test_recent_frames_ignores_frames_older_than_the_newest() -> None:
    ring = RecentFrames(max_age_s=60)
    ring.add(_sampled(5.0, 1))
    ring.add(_sampled(3.0, 2))
    assert len(ring) == 1 and ring.at(4.0) is None


def test_try_save_returns_none_on_a_full_disk_and_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A snapshot never takes its evidence down: ENOSPC is counted and reported, not raised."""
    import errno

    store = SnapshotStore(tmp_path / "snaps")
    real_fdopen = os.fdopen

    class FullDisk:
        def __init__(self, fd: int, mode: str) -> None:
            self._f = real_fdopen(fd, mode)

        def __enter__(self):
            return self

        def __exit__(self, *exc: object) -> None:
            self._f.close()

        def write(self, data: bytes) -> int:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("frames.snapshots.os.fdopen", FullDisk)
    assert store.try_save(_image(60)) is None
    assert store.try_save(_image(61)) is None
    assert store.failures.count == 2 and store.failures.last_error == os.strerror(errno.ENOSPC)
    assert list((tmp_path / "snaps").iterdir()) == [], "no half-written or temporary file is left"
    with pytest.raises(OSError):
        store.save(_image(62))  # save itself still says what went wrong
    monkeypatch.undo()
    snap = store.try_save(_image(60))
    assert snap is not None and Path(snap.path).is_file()
    with pytest.raises(ValueError):
        store.try_save(b"not a jpeg")  # a bug is not a full disk
