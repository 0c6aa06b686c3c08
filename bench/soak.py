"""``python -m bench.soak`` (``make soak``): RSS and lag of the live pipeline over an hour of streams coming and going.

A production worker runs for days while streams are handed to it and taken away, so the soak
churns: ``--streams`` real-time, looped replays of the bench's 60 s live-commerce rooms (each
stream its own, ``bench.live_capacity.broadcast_spec``) run
through the full pipeline (OCR, logos, ASR, rules, alert store, embedded Kafka), and every
``--churn`` seconds the stream that has run longest is removed and a new one (the next id,
``soak-N``) added in its place, as a worker does when a stream moves (``remove_stream``, then
``discard_stream`` once its runner has drained, retried at every sample like the worker's
metrics loop). The number live stays ``--streams``; the schedule is the same every run and is
written into the result notes.

Every 5 s the RSS of the whole process tree (main; OCR and ASR worker processes; the
embedded broker; anything else), CPU and each stream's lag behind live
(``bench.live_capacity.sample_lags``) are sampled: often, because transient buffers (a Whisper
window, frames in flight) swing the tree by +-40 MB and a 30-minute half must resolve 10 MB/h.
The headline figures are least-squares slopes over the second half of the run (the first half
holds warm-up and first allocations): RSS in MB/hour of livewatch's own processes (the embedded
broker apart, see ``figures``) beside the mean RSS of that half, lag in s/hour beside the mean
lag of that half. Writes ``bench/results/soak.json`` (with every sample) and the README table.
Not part of ``make bench``: it takes an hour.
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from bench.figures import figure
from bench.live_capacity import (
    MEDIA_DIR,
    Rig,
    broadcast_spec,
    cpu_between,
    live_config,
    percentile,
    render_cached,
    sample_lags,
    scheduled,
    slope,
    tree_cpu,
    tree_rss_parts,
)
from livewatch.config import Detectors
from livewatch.worker import Pipeline

log = logging.getLogger(__name__)

RSS_TARGET_MB_H = 10.0  # issue 15: the whole tree may grow at most this much per hour over the second half
LAG_GROWTH_LIMIT_S = 2.0  # lag "not growing": as bench.live_capacity.KeepUp.max_growth_s, over the second half
ROLES = ("main", "ocr", "asr", "broker", "other")


@dataclass(frozen=True)
class SoakSample:
    at_s: float  # since the streams started
    rss_mb: float  # whole process tree
    cores: float  # over the interval before this sample
    lag_s: float | None  # worst stream
    lag_mean_s: float | None
    alerts_delivered: int
    rss_parts_mb: dict[str, float] = field(default_factory=dict)  # by role (ROLES)
    streams_started: int = 0  # so far, churned ones included
    streams_held: int = 0  # in the pipeline's status: live, plus removed ones not yet discarded


@dataclass
class Churn:
    """The deterministic schedule: at every multiple of ``every_s`` (0: never) the longest-running
    stream is removed and the next id started in its place."""

    streams: int
    every_s: float
    live: collections.deque[str] = field(default_factory=collections.deque)
    started: int = 0
    replaced: int = 0
    retiring: list[str] = field(default_factory=list)  # removed, waiting for their runner to drain

    @property
    def next_at_s(self) -> float:
        """Seconds into the run of the next replacement."""
        return (self.replaced + 1) * self.every_s if self.every_s > 0 else float("inf")

    def start(self, pipeline: Pipeline, rooms: Sequence[Path]) -> None:
        """The next id; ``soak-N`` plays room N mod len(rooms): with a room per stream, the replaced one's."""
        sid = f"soak-{self.started}"
        pipeline.add_stream(sid, str(rooms[self.started % len(rooms)]))
        self.live.append(sid)
        self.started += 1

    def replace_oldest(self, pipeline: Pipeline, rooms: Sequence[Path]) -> None:
        """As a worker whose stream moved away: stop reading now, discard once drained (``retire``)."""
        gone = self.live.popleft()
        pipeline.remove_stream(gone, timeout=0)
        self.retiring.append(gone)
        self.replaced += 1
        self.start(pipeline, rooms)

    def retire(self, pipeline: Pipeline) -> None:
        """Discard the removed streams whose runners have finished (the rest are tried again later)."""
        self.retiring = [sid for sid in self.retiring if not pipeline.discard_stream(sid)]

    def describe(self) -> str:
        if self.every_s <= 0:
            return f"no churn: soak-0..{self.streams - 1} for the whole run"
        return (f"churn every {self.every_s:.0f} s: the longest-running stream removed and the next id started "
                f"(soak-0..{self.streams - 1} first), {self.replaced} replaced")


def soak(
    streams: int = 4,
    minutes: float = 60.0,
    every_s: float = 5.0,
    churn_s: float = 60.0,
    *,
    rooms: Sequence[Path] = (),
    detectors: Detectors | None = None,
) -> tuple[list[SoakSample], Churn]:
    """Watch ``streams`` looped replays for ``minutes`` with churn, sampling every ``every_s``."""
    rooms = list(rooms) or render_cached([broadcast_spec(60.0, room=k) for k in range(streams)], MEDIA_DIR)
    samples: list[SoakSample] = []
    churn = Churn(streams, churn_s)
    with Rig(live_config(detectors), record=False) as rig:
        pipeline = rig.pipeline()
        try:
            with scheduled(pipeline):  # as run's status loop does
                for _ in range(streams):
                    churn.start(pipeline, rooms)
                t0 = time.monotonic()
                cpu, last, end_s = tree_cpu(), t0, minutes * 60
                while (now := time.monotonic()) - t0 < end_s:
                    time.sleep(max(0.0, min(last + every_s, t0 + churn.next_at_s) - now))
                    now = time.monotonic()
                    # sleep never wakes early, float sums might; no replacement at the very end, unsampled
                    if end_s - 1e-3 > churn.next_at_s and now - t0 >= churn.next_at_s - 1e-3:
                        churn.replace_oldest(pipeline, rooms)
                    if now - last >= every_s - 1e-3:
                        churn.retire(pipeline)
                        cpu_now = tree_cpu()
                        samples.append(_sample(rig, pipeline, churn, now - t0, cpu_between(cpu, cpu_now) / (now - last)))
                        cpu, last = cpu_now, now
                        log.info("soak %.0fs: %s", now - t0, samples[-1])
        finally:
            pipeline.close(timeout=90.0)
    return samples, churn


def _sample(rig: Rig, pipeline: Pipeline, churn: Churn, at_s: float, cores: float) -> SoakSample:
    lags = [s.lag_s for s in sample_lags(pipeline, rig.stages, at_s)]
    parts = tree_rss_parts(rig.process_roles())
    return SoakSample(
        round(at_s, 1), round(sum(parts.values()), 1), round(cores, 3),
        max(lags) if lags else None, round(sum(lags) / len(lags), 3) if lags else None,
        rig.publisher.delivered if rig.publisher else 0,
        {k: round(v, 1) for k, v in parts.items()}, churn.started, len(pipeline.status()),
    )


def figures(samples: list[SoakSample], streams: int, warmup_s: float, schedule: str = "") -> list[dict]:
    """Slopes over the second half of the run (the headline), each against the mean of that half.

    The headline weighs livewatch's own processes (main, OCR and ASR workers, anything else they
    start); the whole tree with the embedded broker is the next figure. The broker is apart
    because it is the cluster's in production: Tansu's memory engine, the embedded default, keeps
    every record it is sent (no retention, no DeleteRecords), so it grows with the alerts however
    well livewatch holds its own memory. The slopes after ``warmup_s`` over the whole run go into
    the notes, with the second half's slope of each kind of process, so a growth can be traced to
    where it happens.
    """
    if len(samples) < 2:
        return []
    end = samples[-1].at_s
    half = [s for s in samples if s.at_s >= end / 2]
    steady = [s for s in samples if s.at_s >= warmup_s] or samples
    hours = [s.at_s / 3600 for s in half]
    own = [_own_mb(s) for s in half]
    own_slope = slope(hours, own)
    tree = [s.rss_mb for s in half]
    parts = ", ".join(f"{role} {slope(hours, [s.rss_parts_mb.get(role, 0.0) for s in half]):+.0f}"
                      for role in ROLES if any(role in s.rss_parts_mb for s in half))
    lagged = [s for s in half if s.lag_s is not None]
    lags = [s.lag_s for s in lagged if s.lag_s is not None]
    lag_slope = slope([s.at_s / 3600 for s in lagged], lags)
    growth = lag_slope * (end - end / 2) / 3600
    where = (f"make soak {datetime.now(timezone.utc):%Y-%m-%d}: {streams} streams live, {end / 60:.0f} min, "
             f"sampled every {samples[1].at_s - samples[0].at_s:.0f} s; {schedule}; {samples[-1].streams_started} "
             f"streams started, {samples[-1].streams_held} held at the end")
    return [
        figure(f"soak: RSS slope, second half, livewatch's processes ({streams} streams, churn)", own_slope,
               "MB/hour", "mean RSS, second half", sum(own) / len(own),
               f"{where}; main, OCR and ASR workers and the rest of the tree but the broker, {own[0]:.0f} -> "
               f"{own[-1]:.0f} MB over the second half, target <= {RSS_TARGET_MB_H:.0f} MB/h "
               f"{'met' if own_slope <= RSS_TARGET_MB_H else 'NOT met'}; by process (MB/h): {parts}; after the "
               f"{warmup_s:.0f} s warm-up {slope([s.at_s / 3600 for s in steady], [_own_mb(s) for s in steady]):.0f}"
               " MB/h; ratio = share of RSS per hour"),
        figure(f"soak: RSS slope, second half, with the embedded broker ({streams} streams, churn)",
               slope(hours, tree), "MB/hour", "mean RSS, second half", sum(tree) / len(tree),
               f"{where}; the whole tree, {tree[0]:.0f} -> {tree[-1]:.0f} MB over the second half; the embedded "
               "broker (Tansu, memory engine) keeps every record: in production the broker is the cluster's"),
        figure(f"soak: lag slope, second half ({streams} streams, churn)", lag_slope, "s/hour",
               "mean lag, second half", sum(lags) / len(lags) if lags else None,
               f"{where}; lag grew {growth:+.1f} s over the second half (not growing: < {LAG_GROWTH_LIMIT_S:.0f} s "
               f"{'met' if growth < LAG_GROWTH_LIMIT_S else 'NOT met'}); worst-stream lag p95 "
               f"{percentile(lags, 95) or 0:.1f} s, max {max(lags, default=0):.1f} s; mean "
               f"{sum(s.cores for s in steady) / len(steady):.2f} cores; {samples[-1].alerts_delivered} alert "
               "revisions delivered"),
    ]


def _own_mb(sample: SoakSample) -> float:
    """Resident MB of the tree without the embedded broker."""
    return sum(mb for role, mb in sample.rss_parts_mb.items() if role != "broker")


def main(argv: list[str] | None = None) -> int:
    from bench.__main__ import RESULTS, machine, table, update_readme

    parser = argparse.ArgumentParser(prog="python -m bench.soak")
    parser.add_argument("--streams", type=int, default=4, help="streams live at any time")
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--every", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--churn", type=float, default=60.0,
                        help="seconds between replacing the longest-running stream with a new one (0: never)")
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds left out of the whole-run slopes in the notes")
    parser.add_argument("--no-readme", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS / "soak.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    started = time.monotonic()
    samples, churn = soak(args.streams, args.minutes, args.every, args.churn)
    meta = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "machine": machine(),
        "command": "make soak" if argv is None and len(sys.argv) == 1 else "python -m bench.soak " + " ".join(sys.argv[1:]),
    }
    result = {**meta, "area": "soak", "seconds": round(time.monotonic() - started, 1),
              "figures": figures(samples, args.streams, args.warmup, churn.describe()),
              "samples": [asdict(s) for s in samples]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    for f in result["figures"]:
        print(f"{f['figure']}: {f['value']} {f['unit']} (baseline {f['baseline']}: {f['baseline_value']}) {f['notes']}")
    if not args.no_readme:
        everything = [r for p in sorted(RESULTS.glob("*.json")) if "figures" in (r := json.loads(p.read_text()))]
        update_readme(table(everything, {**meta, "command": "make bench`; soak rows: `make soak"}))
    return 0


if __name__ == "__main__":
    from events.malloc import fix_mmap_threshold

    fix_mmap_threshold()  # as ``python -m livewatch`` does: the soak weighs what a worker runs
    sys.exit(main())
