"""``python -m bench.soak`` (``make soak``): RSS and lag of the live pipeline over 30 minutes.

Several real-time, looped replays of the bench's 60 s live-commerce clip run through the full
pipeline (OCR, logos, ASR, rules, alert store, embedded Kafka) while the whole process tree's
RSS, CPU and each stream's lag behind live (``bench.live_capacity.sample_lags``) are sampled
every 10 s. Reported with their least-squares slope (MB/hour, s/hour), each against a baseline
from the same run (RSS after warm-up, mean lag). Writes ``bench/results/soak.json`` (with every
sample) and the README table. Not part of ``make bench``: it takes half an hour.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from bench.live_capacity import (
    MEDIA_DIR,
    Rig,
    broadcast_spec,
    cpu_between,
    figure,
    live_config,
    percentile,
    render_cached,
    sample_lags,
    slope,
    tree_cpu,
    tree_rss_mb,
)
from livewatch.config import Detectors

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SoakSample:
    at_s: float  # since the streams started
    rss_mb: float
    cores: float  # over the interval before this sample
    lag_s: float | None  # worst stream
    lag_mean_s: float | None
    alerts_delivered: int


def soak(
    streams: int = 2,
    minutes: float = 30.0,
    every_s: float = 10.0,
    *,
    clip: Path | None = None,
    detectors: Detectors | None = None,
) -> list[SoakSample]:
    """Watch ``streams`` looped replays for ``minutes``, sampling every ``every_s``."""
    clip = clip or render_cached([broadcast_spec(60.0)], MEDIA_DIR)[0]
    samples: list[SoakSample] = []
    with Rig(live_config(detectors), record_evidence=False) as rig:
        pipeline = rig.pipeline()
        try:
            for i in range(streams):
                pipeline.add_stream(f"soak-{i}", str(clip))
            t0 = time.monotonic()
            cpu, last = tree_cpu(), t0
            while (now := time.monotonic()) - t0 < minutes * 60:
                time.sleep(max(0.0, every_s - (now - last)))
                now = time.monotonic()
                lags = [s.lag_s for s in sample_lags(pipeline, rig.stages, now - t0)]
                cpu_now = tree_cpu()
                samples.append(SoakSample(
                    round(now - t0, 1), round(tree_rss_mb(), 1), round(cpu_between(cpu, cpu_now) / (now - last), 3),
                    max(lags) if lags else None, round(sum(lags) / len(lags), 3) if lags else None,
                    rig.publisher.delivered if rig.publisher else 0,
                ))
                cpu, last = cpu_now, now
                log.info("soak %.0fs: %s", now - t0, samples[-1])
        finally:
            pipeline.close(timeout=90.0)
    return samples


def figures(samples: list[SoakSample], streams: int, warmup_s: float) -> list[dict]:
    """Slopes after the warm-up (models warming, first allocations), each against a same-run baseline."""
    steady = [s for s in samples if s.at_s >= warmup_s] or samples
    hours = [s.at_s / 3600 for s in steady]
    rss = [s.rss_mb for s in steady]
    lagged = [s for s in steady if s.lag_s is not None]
    lag_h = [s.at_s / 3600 for s in lagged]
    lags = [s.lag_s for s in lagged]
    half = len(steady) // 2
    minutes = samples[-1].at_s / 60 if samples else 0.0
    where = (f"make soak {datetime.now(timezone.utc):%Y-%m-%d}: {streams} streams, {minutes:.0f} min, "
             f"sampled every {samples[1].at_s - samples[0].at_s:.0f} s") if len(samples) > 1 else ""
    mean_lag = sum(lags) / len(lags) if lags else None
    return [
        figure(f"soak: RSS slope ({streams} streams)", slope(hours, rss), "MB/hour", "RSS after warm-up", rss[0] if rss else None,
                f"{where}; RSS {rss[0]:.0f} -> {rss[-1]:.0f} MB; second-half slope "
                f"{slope(hours[half:], rss[half:]):.0f} MB/h; ratio = share of RSS per hour; whole process tree" if rss else where),
        figure(f"soak: lag slope ({streams} streams)", slope(lag_h, lags), "s/hour", "mean lag", mean_lag,
                f"{where}; worst-stream lag p95 {percentile(lags, 95) or 0:.1f} s, max {max(lags, default=0):.1f} s; "
                f"mean {sum(s.cores for s in steady) / len(steady):.2f} cores; "
                f"{samples[-1].alerts_delivered if samples else 0} alert revisions delivered"),
    ]


def main(argv: list[str] | None = None) -> int:
    from bench.__main__ import RESULTS, machine, table, update_readme

    parser = argparse.ArgumentParser(prog="python -m bench.soak")
    parser.add_argument("--streams", type=int, default=2)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds left out of the slopes")
    parser.add_argument("--no-readme", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS / "soak.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    started = time.monotonic()
    samples = soak(args.streams, args.minutes, args.every)
    meta = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "machine": machine(),
        "command": "make soak" if argv is None and len(sys.argv) == 1 else "python -m bench.soak " + " ".join(sys.argv[1:]),
    }
    result = {**meta, "area": "soak", "seconds": round(time.monotonic() - started, 1),
              "figures": figures(samples, args.streams, args.warmup), "samples": [asdict(s) for s in samples]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    for f in result["figures"]:
        print(f"{f['figure']}: {f['value']} {f['unit']} (baseline {f['baseline']}: {f['baseline_value']}) {f['notes']}")
    if not args.no_readme:
        everything = [r for p in sorted(RESULTS.glob("*.json")) if "figures" in (r := json.loads(p.read_text()))]
        update_readme(table(everything, {**meta, "command": "make bench`; soak rows: `make soak"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
