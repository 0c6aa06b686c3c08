"""Ingest and dedup cost on a generated 60 s 720p clip (25 fps, keyframe every 1 s, AAC audio, slow pan).

Figures (each against a baseline measured in the same run):
- the interval sampler with keyframe skipping vs decoding every frame and
  converting every frame to BGR (the naive reader);
- frames decoded vs frames in the clip, packets never decoded;
- a full ingest pass (video + 16 kHz audio chunks) against the clip's length;
- a 2 s-GOP clip, where every packet must be decoded but only grid frames
  are converted;
- dedup cost per sampled frame vs a full-resolution frame diff.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np

from bench.figures import figure
from events import VideoFrame
from frames import FrameDeduper
from ingest import IngestOptions, StreamSource
from tests.media import make_clip

CLIP_S = 60
PAN = 40.0  # px/s camera pan: inter frames cost what they cost in a real broadcast
CARDS = [(t, t + 7, f"直播间 第{t // 10 + 1}号链接 到手价{99 + t}元") for t in range(0, CLIP_S, 10)]


def decode_everything(path: Path) -> tuple[float, int]:
    """The naive reader: decode every video frame and convert each to a BGR array."""
    start = time.perf_counter()
    n = 0
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            frame.to_ndarray(format="bgr24")
            n += 1
    return time.perf_counter() - start, n


def ingest(path: Path, audio: bool) -> tuple[float, list[VideoFrame], object]:
    src = StreamSource(str(path), "bench", IngestOptions(audio=audio))
    start = time.perf_counter()
    frames = [e for e in src if isinstance(e, VideoFrame)]
    return time.perf_counter() - start, frames, src.stats


def dedup_cost(frames: list[VideoFrame], repeats: int = 5) -> tuple[float, float, int]:
    """ms per frame for FrameDeduper vs a full-resolution grey abs-diff of consecutive frames."""
    start = time.perf_counter()
    for _ in range(repeats):
        dedup = FrameDeduper()
        changed = sum(dedup.process(f).changed for f in frames)
    ours = (time.perf_counter() - start) / (repeats * len(frames)) * 1000
    start = time.perf_counter()
    for _ in range(repeats):
        prev = None
        for f in frames:
            grey = cv2.cvtColor(f.image, cv2.COLOR_BGR2GRAY)
            if prev is not None:
                int(np.count_nonzero(cv2.absdiff(grey, prev) > 28))
            prev = grey
    naive = (time.perf_counter() - start) / (repeats * len(frames)) * 1000
    return ours, naive, changed


def run() -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        clip = make_clip(Path(tmp) / "clip60.mp4", CLIP_S, text_cards=CARDS, gop_s=1.0, pan_px_s=PAN)
        gop2 = make_clip(Path(tmp) / "gop2.mp4", 20, text_cards=CARDS[:2], gop_s=2.0, with_audio=False, pan_px_s=PAN)
        naive_s, total_frames = decode_everything(clip)
        sampled_s, frames, stats = ingest(clip, audio=False)
        full_s, _, full_stats = ingest(clip, audio=True)
        gop_naive_s, gop_total = decode_everything(gop2)
        gop_s, _, gop_stats = ingest(gop2, audio=False)
        ours_ms, naive_ms, changed = dedup_cost(frames)
    return [
        figure("sampled decode time, 60 s 720p, 1 s GOP", sampled_s, "s", "decode + BGR-convert every frame",
               naive_s, f"{stats.frames_emitted} frames sampled at 1 s"),
        figure("frames decoded (sampler, 1 s GOP)", stats.frames_decoded, "frames", "frames in the clip", total_frames,
               f"{stats.packets_skipped} non-key packets never decoded; first GOP decoded while spacing is learnt"),
        figure("frames emitted per frame decoded", stats.frames_emitted / max(1, stats.frames_decoded), "ratio",
               "naive: emitted per decoded", stats.frames_emitted / total_frames),
        figure("full ingest pass (video + 16 kHz audio chunks)", full_s, "s", "clip length", CLIP_S,
               f"{full_stats.audio_chunks} audio chunks; ratio = share of real time used"),
        figure("sampled decode time, 20 s 720p, 2 s GOP", gop_s, "s", "decode + BGR-convert every frame",
               gop_naive_s, f"decoded {gop_stats.frames_decoded}/{gop_total}, converted {gop_stats.frames_emitted}"),
        figure("dedup cost per sampled frame (phash + thumbnail diff)", ours_ms, "ms/frame",
               "full-resolution grey abs-diff", naive_ms, f"{changed}/{len(frames)} frames changed"),
    ]


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2, ensure_ascii=False))
