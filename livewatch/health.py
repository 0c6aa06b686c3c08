"""What a livewatch process needs besides its streams: disk space, a writable alert store, its helpers.

- ``check_free_space(path, min_free_mb)``: at start, one warning line when the volume of the
  data directory is short of space (snapshots and the alert store live there). A full disk
  does not lose alerts (the publisher holds them in memory, bounded, and snapshots are
  skipped and marked missing), but it is better noticed before.
- ``watch_health(metrics, ...)``: the figures behind those promises, at every scrape:
  ``livewatch_snapshots_missing_total`` (evidence raised without the snapshot that was due),
  ``livewatch_alert_store_writable`` (0 while the store refuses writes: ``/readyz`` says not
  ready then), ``livewatch_alerts_held`` and ``livewatch_alerts_lost_total`` (memory queue),
  ``livewatch_worker_deaths_total`` / ``livewatch_worker_replacements_total`` /
  ``livewatch_worker_restart_gap_seconds`` (the last gap) / ``livewatch_worker_down_seconds_total``
  (OCR and ASR worker processes, per ``stage``); and how the CPU budget is spent:
  ``livewatch_degrade_level{stream_id}`` (the scheduler's level: 0 full, 1 fewer OCR reads, 2 cheaper
  speech, 3 longer sampling interval) and ``livewatch_degrade_steps_total{stream_id, direction}``
  (``degrade`` / ``recover``).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Callable

from alerts import AlertPublisher
from livewatch.metrics import Metrics
from livewatch.stages import Stages
from livewatch.worker import Pipeline

log = logging.getLogger(__name__)


def check_free_space(path: Path, min_free_mb: float) -> str | None:
    """Warn (one line, also returned) when the volume holding ``path`` has less than ``min_free_mb`` free."""
    probe = Path(path).absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent  # the data dir may not exist yet: ask its volume
    try:
        free_mb = shutil.disk_usage(probe).free / 2**20
    except OSError as exc:
        log.warning("cannot tell the free space of %s: %s", path, exc)
        return None
    if free_mb >= min_free_mb:
        return None
    message = (f"only {free_mb:.0f} MB free on the volume of {path} (warning below {min_free_mb:.0f} MB): "
               "snapshots may go missing and alerts wait in memory when it is full; free space there, "
               "or set LIVEWATCH_MIN_FREE_MB")
    log.warning(message, extra={"free_mb": round(free_mb), "min_free_mb": min_free_mb})
    return message


def watch_health(metrics: Metrics, *, pipeline: Pipeline | None = None, publisher: AlertPublisher | None = None,
                 stages: Stages | None = None) -> None:
    """Register the health figures of what this process runs (see the module docstring)."""
    if pipeline is not None:
        metrics.watch("snapshots_missing", "Evidence items raised without the snapshot that was due (it could not be written).",
                      lambda: pipeline.snapshots_missing, kind="counter")
        metrics.watch("degrade_level", "The scheduler's degrade level of the stream: 0 full, 1 fewer OCR reads, "
                      "2 cheaper speech, 3 longer sampling interval.", pipeline.degrade_levels, label="stream_id")
        metrics.watch("degrade_steps", "Steps of the stream's degrade level: degrade (up) or recover (down).",
                      pipeline.degrade_steps, kind="counter", label=("stream_id", "direction"))
    if publisher is not None:
        metrics.watch("alert_store_writable", "1 while the alert store takes writes, 0 while alerts wait in memory.",
                      lambda: 1.0 if publisher.store_ok else 0.0)
        metrics.watch("alerts_held", "Alerts waiting in memory for the alert store to take writes again.",
                      lambda: publisher.held)
        metrics.watch("alerts_lost", "Alerts dropped from the full memory queue while the store could not be written.",
                      lambda: publisher.dropped, kind="counter")
    if stages is not None:
        _watch_workers(metrics, stages.worker_stats)


def _watch_workers(metrics: Metrics, read: Callable[[], dict[str, dict[str, float | int | None]]]) -> None:
    def field(name: str) -> Callable[[], dict[str, float]]:
        return lambda: {stage: float(x) for stage, v in read().items() if (x := v[name]) is not None}

    metrics.watch("worker_deaths", "OCR/ASR worker processes that died, hung or failed.", field("died"),
                  kind="counter", label="stage")
    metrics.watch("worker_replacements", "Replacements of dead OCR/ASR worker processes that became ready.",
                  field("replaced"), kind="counter", label="stage")
    metrics.watch("worker_restart_gap_seconds", "Time the last dead OCR/ASR worker's slot was empty (death to replacement ready).",
                  field("gap_s_last"), label="stage")
    metrics.watch("worker_down_seconds", "Time dead OCR/ASR workers' slots were empty, summed.",
                  field("gap_s_total"), kind="counter", label="stage")
