"""Frames: drop near-duplicate sampled frames and keep evidence snapshots.

Public face::

    DedupOptions, FrameDeduper, phash, hamming        # perceptual-hash dedup + changed region
    SnapshotStore, RecentFrames, encode_jpeg          # <sha256>.jpg evidence, ring of recent frames
    SnapshotFailures                                  # what SnapshotStore.try_save could not write

Sampling itself happens in ``ingest`` (it must act before decoding).
``frames.fingerprint`` (protected-content matching) is its own module.
"""

from frames.dedup import DedupOptions, FrameDeduper, hamming, phash
from frames.snapshots import RecentFrames, SnapshotFailures, SnapshotStore, encode_jpeg

__all__ = [
    "DedupOptions", "FrameDeduper", "RecentFrames", "SnapshotFailures", "SnapshotStore", "encode_jpeg", "hamming", "phash",
]
