"""The whole pipeline on this machine: scan speed, live capacity, time to alert.

Each figure has a baseline measured in the same run:

- **scan speed** (issue 2): ``scan`` of a 60 s 720p live-commerce clip (cards changing every 5 s,
  Mandarin host speech, a logo) with every detector on, against the clip's length and against
  the same scan with every detector off; frames decoded vs sampled from the stream's status.
- **live capacity** (issue 12's test): real-time replays, looped, each stream its own room (that
  clip's scenes in another order, ``broadcast_spec``: no two streams say the same sentence at
  once, as no two real rooms do), joining 3 s apart, through the full live pipeline (OCR, logos,
  ASR, rules, store, Kafka). First a screening: N = 1, 2, ... up to 8 over 40 s windows until
  the first N whose lag it does not keep up with (``bench.live_capacity``: p95 lag behind live
  < 6 s, not growing, < 10 % of changed frames lost before OCR/logos, no speech dropped; no
  stream at the longer sampling interval at the end). Then the screening's largest N, and if it
  fails the next ones down (three at most), over a 5-minute window after a
  60 s warm-up, a quarter of the streams (at least one) being probe lanes: short clips whose
  violation starts at a known media time (a card shown, a claim spoken, a logo appearing), one
  after another. That N keeps up if, beyond the lag, those violations alert p95 <= 2 s after
  they appear on screen and <= 3 s after the utterance ends, and every one ``scan`` alerts is
  alerted. CPU (cores) and RSS of the whole process tree per stream (also at 4 and 8 streams
  when the screening stopped below), and per stage: CPU seconds per stream-second of each
  detector on the main process's threads, the rest of the main process, and each worker
  process; the share of the work each shortcut skipped (unchanged frames, frames dropped before
  OCR/logos, text lines carried unread, frame area text detection did not cover); the share of
  stream-time at full quality (degrade level 0). Baseline: the same screening and long windows
  with the settings the issue measured (every changed frame OCR-read whole, logos at 1280 px,
  full Whisper windows; threads and the degrade scheduler as today).
- **time to alert** at that N: the probe lanes' violations, from the moment they start on the
  live clock to the alert readable on ``livewatch.alerts`` (confluent-kafka reader), p50 and p95
  per modality, and for speech p95 from the end of the utterance. Baseline: when the detector's
  first evidence of it reached the rules (detector-only latency); the media-time delay ``scan``
  would report is in the notes.

``python -m bench pipeline`` runs it (about 40 minutes, most of it real-time replay); media are
rendered once into ``var/bench-media/``.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

from bench.figures import figure
from bench.live_capacity import (
    MEDIA_DIR,
    OnsetClip,
    Rig,
    StepResult,
    broadcast_spec,
    capacity,
    capacity_sweep,
    confirm,
    confirmed,
    live_config,
    onset_clips,
    percentile,
    render_cached,
    run_window,
    slope,
)
from events import StreamState
from livewatch.config import Config, Detectors
from livewatch.sinks import CollectingSink, InlineRules
from livewatch.stages import Stages
from livewatch.synth import FPS
from livewatch.worker import Pipeline

TIME_LIMIT_S = 3000  # bench/__main__.py reads this: the live parts run on the wall clock (about 40 minutes)

log = logging.getLogger(__name__)

ALL_OFF = Detectors(ocr=False, logos=False, asr=False, fingerprints=False)


# --- 1. scan speed -----------------------------------------------------------------------

@dataclass(frozen=True)
class ScanRun:
    seconds: float
    load_s: float
    frames_decoded: int
    frames_sampled: int
    frames_duplicate: int
    alerts: int


def scan_once(cfg: Config, clip: Path) -> ScanRun:
    """``scan`` of one clip (the wiring of ``livewatch.service.scan_file``), timed apart from loading."""
    started = time.perf_counter()
    stages = Stages.load(cfg, inline=True)
    load_s = time.perf_counter() - started
    sink = CollectingSink()
    pipeline = Pipeline(cfg, stages, InlineRules(stages.rules, sink), on_caller_thread=True)
    try:
        started = time.perf_counter()
        pipeline.add_stream(clip.stem, str(clip))
        seconds = time.perf_counter() - started
        [status] = pipeline.status()
        if status.state is StreamState.FAILED:
            raise RuntimeError(f"scan of {clip} failed: {status.error}")
    finally:
        pipeline.close()
    return ScanRun(seconds, load_s, status.frames_decoded, status.frames_sampled, status.frames_duplicate, len(sink.alerts))


def scan_figures(clip: Path, clip_s: float, data_dir: Path, detectors: Detectors = Detectors()) -> list[dict]:
    cfg = Config(data_dir=data_dir, detectors=detectors)
    on = scan_once(cfg, clip)
    off = scan_once(cfg.replace(detectors=ALL_OFF), clip)
    frames = int(clip_s * FPS)
    return [
        figure(f"scan {clip_s:.0f} s 720p clip, all detectors", on.seconds, "s", "clip length", clip_s,
                f"ratio = scan time / clip length; {on.alerts} alert(s); detectors loaded in {on.load_s:.1f} s (not counted)"),
        figure(f"scan {clip_s:.0f} s 720p clip, all detectors vs off", on.seconds, "s",
                "same scan, detectors off (decode, dedup, rules)", off.seconds,
                f"off: {off.seconds / clip_s:.3f} x clip length"),
        figure("scan: frames decoded", on.frames_decoded, "frames", "frames in the clip", frames,
                f"{on.frames_sampled} sampled (1 s grid), {on.frames_duplicate} of them unchanged; "
                f"detectors off: {off.frames_decoded} decoded, {off.frames_sampled} sampled"),
    ]


# --- 2. live capacity ----------------------------------------------------------------------

def rss_per_stream(steps: list[StepResult], idle_mb: float) -> float:
    """MB each added stream costs: the slope over the steps, or (first step - models loaded) for one step."""
    if len(steps) >= 2:
        return slope([float(s.streams) for s in steps], [s.rss_mb for s in steps])
    return steps[0].rss_mb - idle_mb


def _why(step: StepResult | None, last: StepResult) -> str:
    if step is None:
        return f"kept up to the largest step tried ({last.streams}; degrade levels at its end {_levels(last)})"
    return (f"falls behind at {step.streams}: {'; '.join(step.reasons)} (p95 runner {step.runner_p95_s:.1f} s, "
            f"vision {step.vision_p95_s:.1f} s, ASR {step.asr_p95_s:.1f} s; degrade levels at its end {_levels(step)})")


def _levels(step: StepResult) -> str:
    return "/".join(str(level) for level in sorted(step.degrade_levels)) or "-"


def before_issue_12(cfg: Config) -> Config:
    """The settings issue 12 measured (the capacity baseline): every changed frame OCR-read whole (no region
    tracking), lines detected at 1280 px, logos matched at 1280 px on the whole changed frame, one
    stream's speech per Whisper window, encoded in the full 30 s, 120 tokens a window.
    Threads and the degrade scheduler are today's in both runs."""
    return cfg.replace(ocr=replace(cfg.ocr, track_regions=False, detect_max_side_px=1280),
                       logos=replace(cfg.logos, max_side=1280, crop_changed=False),
                       asr=replace(cfg.asr, pack_streams=False, fit_window=False, degraded_fit_window=False,
                                   fit_tail_window=False, brief_tail=False, max_tokens_per_window=120))


def _tried(steps: list[StepResult]) -> str:
    """What each long window found, from the candidate down."""
    return "; ".join(f"{s.streams} streams {'kept up' if s.kept_up else 'not: ' + '; '.join(s.reasons)} "
                     f"(p95 lag {s.lag_p95_s or 0:.1f} s, growth {s.lag_growth_s:+.1f} s, {s.cores:.2f} cores, "
                     f"{100 * s.full_quality_share:.0f} % of stream-time at full quality, "
                     f"{100 * s.longer_sampling_share:.0f} % of the rooms' at the longer sampling interval, OCR worker recycled "
                     f"{s.ocr_recycled}x)" for s in steps) or "none tried"


def capacity_figures(screen: list[StepResult], long: list[StepResult], base_screen: list[StepResult],
                     base_long: list[StepResult], idle_full: float, idle_base: float) -> list[dict]:
    at, base_at = confirmed(long), confirmed(base_long)
    at_cap = at or long[-1] if long else screen[0]
    base_cap = base_at or base_long[-1] if base_long else base_screen[0]
    n_screen = capacity(screen)
    swept = [s for s in screen if s.streams <= max(n_screen + 1, 1)]  # the sweep, without the extra steps beyond it
    fail = next((s for s in screen if not s.kept_up), None)
    base_fail = next((s for s in base_screen if not s.kept_up), None)
    window = f"{at_cap.window_s:.0f} s"
    return [
        figure(f"live capacity: 720p streams kept up over {window}, violations alerted in time", at.streams if at else 0,
               "streams", "same test, settings before issue 12 (whole-frame OCR detected at 1280 px, whole-frame logos "
               "at 1280 px, full ASR windows)", base_at.streams if base_at else 0,
               f"issue 12's test: lag not growing, nothing dropped, and the violations of the probe lanes alerted "
               f"p95 <= 2 s after they appear / 3 s after the utterance ends; now: {_tried(long)}; before: "
               f"{_tried(base_long)}; each count tried from the screening's candidate down"),
        figure("live capacity, screening: streams kept up over a short window (lag only)", n_screen, "streams",
               "same sweep, settings before issue 12", capacity(base_screen),
               f"now: {_why(fail, swept[-1])}; before: {_why(base_fail, base_screen[-1])}; "
               f"{screen[0].window_s:.0f} s windows, streams joining a few seconds apart"),
        figure(f"live: share of stream-time at full quality, {at_cap.streams} stream(s), {window}",
               at_cap.full_quality_share, "ratio", f"settings before issue 12, {base_cap.streams} stream(s)",
               base_cap.full_quality_share,
               f"degrade level 0 (no fewer OCR reads, no cheaper speech tier, no longer sampling interval); "
               f"levels at the window's end {_levels(at_cap)}, before {_levels(base_cap)}"),
        figure("live: CPU per stream, full pipeline (1 stream)", screen[0].cores, "cores",
               "settings before issue 12 (1 stream)", base_screen[0].cores,
               "; ".join(f"{s.streams} streams {s.cores:.2f} cores{'' if s.kept_up else ' (behind)'}" for s in screen)
               + "; whole process tree incl. workers"),
        figure("live: RSS per added stream, full pipeline", rss_per_stream(screen, idle_full), "MB",
               "settings before issue 12", rss_per_stream(base_screen, idle_base),
               f"models loaded: {idle_full:.0f} MB now, {idle_base:.0f} MB before; "
               + "; ".join(f"{s.streams} streams {s.rss_mb:.0f} MB" for s in screen)),
        figure(f"live: p95 lag behind live, {at_cap.streams} stream(s), {window}, full pipeline", at_cap.lag_p95_s, "s",
               f"settings before issue 12, {base_cap.streams} stream(s)", base_cap.lag_p95_s,
               f"p50 {at_cap.lag_p50_s or 0:.1f} s, growth {at_cap.lag_growth_s:+.1f} s over the window; p95 runner "
               f"{at_cap.runner_p95_s:.1f} / vision {at_cap.vision_p95_s:.1f} / ASR {at_cap.asr_p95_s:.1f} s; "
               "includes the 1 s sampling grid"),
    ]


def stage_figures(full: list[StepResult], base: list[StepResult]) -> list[dict]:
    """Per stage, CPU seconds per stream-second at 1 stream, and what each shortcut skipped, beside the
    settings before issue 12 in the same run; the notes give the other steps' values."""
    now, before = full[0], base[0]
    out = []
    for stage in sorted(set(now.stage_cores) | set(before.stage_cores)):
        others = "; ".join(f"{s.streams} streams {s.stage_cores.get(stage, 0.0):.3f}" for s in full[1:])
        out.append(figure(f"live: CPU per stream-second, {stage} (1 stream)", now.stage_cores.get(stage, 0.0), "cores",
                          "settings before issue 12", before.stage_cores.get(stage, 0.0),
                          f"{others or 'one step'}; CPU seconds per second of one stream"))
    for shortcut in sorted(set(now.skipped) | set(before.skipped)):
        out.append(figure(f"live: share skipped, {shortcut} (1 stream)", now.skipped.get(shortcut), "ratio",
                          "settings before issue 12", before.skipped.get(shortcut),
                          "; ".join(f"{s.streams} streams {s.skipped.get(shortcut, 0.0):.2f}" for s in full[1:])))
    return out


# --- 3. time to alert ----------------------------------------------------------------------

def scan_alerted(cfg: Config, cases: list[tuple[OnsetClip, Path]]) -> frozenset[str]:
    """The onset clips whose violation ``scan`` alerts: live must alert these too (issue 12)."""
    sink = CollectingSink()
    stages = Stages.load(cfg, inline=True)
    pipeline = Pipeline(cfg, stages, InlineRules(stages.rules, sink), on_caller_thread=True)
    try:
        for case, clip in cases:  # on the caller's thread: one clip after the other
            pipeline.add_stream(case.spec.name, str(clip))
    finally:
        pipeline.close()
    onsets = {case.spec.name: case.onset for case, _ in cases}
    return frozenset(a.stream_id for a in sink.alerts if a.media_end >= onsets[a.stream_id] - 1.0)


def latency_figures(step: StepResult, must_alert: frozenset[str]) -> list[dict]:
    """Time to alert of the probe lanes' violations in ``step`` (the long window at capacity)."""
    out = []
    for modality in ("ocr", "asr", "logo"):
        rows = [r for r in step.latencies if r.modality == modality]
        alert = [r.alert_s for r in rows if r.alert_s is not None]
        detector = [r.detector_s for r in rows if r.detector_s is not None]
        media = [r.media_s for r in rows if r.media_s is not None]
        med = percentile(media, 50)
        scanned = sorted({r.clip for r in rows if r.clip in must_alert})
        notes = (f"{len(alert)}/{len(rows)} violations alerted ({', '.join(sorted({str(r.category) for r in rows}))}); "
                 f"scan alerts {len(scanned)} of the {len({r.clip for r in rows})} clips; among {step.streams} live "
                 f"streams ({max(1, step.streams // 4)} of them playing these clips) over {step.window_s:.0f} s; "
                 f"media-time delay p50 {'-' if med is None else f'{med:.1f} s'}")
        for q in (50, 95):
            out.append(figure(f"time to alert, {modality}, p{q}", percentile(alert, q), "s",
                               f"detector evidence at the rules, p{q}", percentile(detector, q), notes))
        if modality == "asr" and rows:  # the issue's bound for speech: <= 3 s p95 after the utterance ends
            after = [r.late_s for r in rows if r.late_s is not None]
            evidence_after = [r.detector_s - r.heard_s for r in rows if r.detector_s is not None]
            heard = [r.heard_s for r in rows]
            out.append(figure("time to alert, asr, p95 after the utterance ends", percentile(after, 95), "s",
                              "detector evidence at the rules, p95 after the utterance ends",
                              percentile(evidence_after, 95),
                              f"{notes}; the rows above count from the utterance's start; utterances "
                              f"{min(heard):.1f}-{max(heard):.1f} s long (the synthesised sentence, trailing silence included)"))
    return out


# --- run ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Plan:
    """Sizes of one run; ``run()`` uses the defaults, the smoke test tiny ones."""

    clip_s: float = 60.0
    max_streams: int = 8
    also_at: tuple[int, ...] = (4, 8)  # CPU and RSS measured at these too, even beyond capacity
    stagger_s: float = 3.0  # between two streams joining
    screen_warmup_s: float = 20.0
    screen_window_s: float = 40.0
    warmup_s: float = 60.0  # of the long windows
    window_s: float = 300.0  # the issue's 5 minutes
    tries: int = 3  # long windows per settings, from the screening's candidate down
    base_max_streams: int = 4
    clean_s: tuple[float, ...] = (3.0, 4.0, 5.0)
    violation_s: float = 8.0
    settle_s: float = 5.0  # a probe stays this long after its clip's end, for its alert
    speech: bool = True
    full: Detectors = Detectors()  # the smoke test turns the heavy ones off


def sweep(rig: Rig, plan: Plan, rooms: list[Path], probes: list[tuple[OnsetClip, Path]], must_alert: frozenset[str],
          *, max_streams: int, prefix: str, also_at: tuple[int, ...] = ()) -> tuple[list[StepResult], list[StepResult]]:
    """Screen 1..``max_streams`` on short windows (plus CPU/RSS steps at ``also_at``), then judge the candidate
    over long windows with probe lanes."""
    screen = capacity_sweep(rig, rooms, max_streams=max_streams, warmup_s=plan.screen_warmup_s,
                            window_s=plan.screen_window_s, stagger_s=plan.stagger_s, prefix=prefix)
    screen += [run_window(rig, rooms, n, warmup_s=plan.screen_warmup_s, window_s=plan.screen_window_s,
                          stagger_s=plan.stagger_s, prefix=f"{prefix}-at") for n in also_at if n > screen[-1].streams]
    long = confirm(rig, rooms, probes, capacity(screen), must_alert=must_alert, tries=plan.tries,
                   warmup_s=plan.warmup_s, window_s=plan.window_s, stagger_s=plan.stagger_s,
                   settle_s=plan.settle_s, prefix=f"{prefix}-long")
    return screen, long


def run(plan: Plan = Plan(), media_dir: Path = MEDIA_DIR) -> list[dict]:
    logging.basicConfig(level=logging.WARNING)
    import tempfile

    cases = onset_clips(plan.clean_s, plan.violation_s, speech=plan.speech)
    n_rooms = max((plan.max_streams, *plan.also_at))
    rooms_specs = [broadcast_spec(plan.clip_s, speech=plan.speech, room=k) for k in range(n_rooms)]
    paths = render_cached(rooms_specs + [c.spec for c in cases], media_dir)  # one TTS batch for all
    rooms, probes = paths[:n_rooms], list(zip(cases, paths[n_rooms:]))
    started, load_at_start = time.monotonic(), os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        figures = scan_figures(rooms[0], plan.clip_s, Path(tmp), plan.full)
        must_alert = scan_alerted(Config(data_dir=Path(tmp), detectors=plan.full), probes)
    scan_s = time.monotonic() - started
    with Rig(live_config(plan.full)) as rig:
        idle_full = rig.loaded_rss_mb
        screen, long = sweep(rig, plan, rooms, probes, must_alert, max_streams=plan.max_streams, prefix="cap",
                             also_at=plan.also_at)
    with Rig(before_issue_12(live_config(plan.full))) as rig:
        idle_base = rig.loaded_rss_mb
        base_screen, base_long = sweep(rig, plan, rooms, probes, must_alert, max_streams=plan.base_max_streams,
                                       prefix="before")
    figures += capacity_figures(screen, long, base_screen, base_long, idle_full, idle_base)
    figures += stage_figures(screen, base_screen)
    figures += latency_figures(confirmed(long) or (long or screen)[-1], must_alert)
    load = f"machine load avg {load_at_start:.1f} at start, {os.getloadavg()[1]:.1f} (5 min) at end"
    for f in figures:
        f["notes"] = f"{f['notes']}; {load}".lstrip("; ")
    log.warning("pipeline bench: scan part %.0f s, total %.0f s", scan_s, time.monotonic() - started)
    return figures


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2, ensure_ascii=False))
