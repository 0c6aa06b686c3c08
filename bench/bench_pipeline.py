"""The whole pipeline on this machine: scan speed, live capacity, time to alert.

Each figure has a baseline measured in the same run:

- **scan speed** (issue 2): ``scan`` of a 60 s 720p live-commerce clip (cards changing every 5 s,
  Mandarin host speech, a logo) with every detector on, against the clip's length and against
  the same scan with every detector off; frames decoded vs sampled from the stream's status.
- **live capacity**: N = 1, 2, ... concurrent real-time replays, looped, each stream its own
  room (that clip's scenes in another order, ``broadcast_spec``: no two streams say the same
  sentence at once, as no two real rooms do), through
  the full live pipeline (OCR, logos, ASR, rules, store, Kafka) until the first N it does not keep
  up with (``bench.live_capacity``: p95 lag behind live < 6 s, not growing, < 10 % of changed
  frames lost before OCR/logos, no speech dropped), up to 8; CPU and RSS are also measured at 4 and
  8 streams when the sweep stopped below. CPU (cores) and RSS of the whole process tree per stream,
  and per stage: CPU seconds per stream-second of each detector on the main process's threads,
  the rest of the main process, and each worker process; the share of the work each shortcut
  skipped (unchanged frames, frames dropped before OCR/logos, text lines carried unread, frame
  area text detection did not cover). Baseline (issue 12): the same sweep with the settings the
  issue measured (every changed frame OCR-read whole, logos at 1280 px, one stream per Whisper
  window; threads and the degrade scheduler as today).
- **time to alert**: short clips replayed at real-time pace whose violation starts at a known
  media time (a card shown, a sentence spoken, a logo appearing); from that moment on the live
  clock to the alert readable on ``livewatch.alerts`` (confluent-kafka reader), p50 and p95 per
  modality. Baseline: when the detector's first evidence of it reached the rules (detector-only
  latency); the media-time delay ``scan`` would report is in the notes.

``python -m bench pipeline`` runs it (about 12 minutes, most of it real-time replay); media are
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
    Rig,
    StepResult,
    broadcast_spec,
    capacity,
    capacity_sweep,
    live_config,
    logo_path,
    percentile,
    render_cached,
    run_window,
    scheduled,
    slope,
    spoken_spans,
)
from events import StreamState
from livewatch.config import Config, Detectors
from livewatch.sinks import CollectingSink, InlineRules
from livewatch.stages import Stages
from livewatch.synth import FPS, SPEECH_OFFSET_S, ClipSpec, Scene
from livewatch.worker import Pipeline

TIME_LIMIT_S = 1080  # bench/__main__.py reads this: the live parts run on the wall clock (about 12 minutes)

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


def capacity_figures(full: list[StepResult], base: list[StepResult], idle_full: float, idle_base: float) -> list[dict]:
    n_full, n_base = capacity(full), capacity(base)
    at_cap = next((s for s in full if s.streams == n_full), full[0])
    swept = [s for s in full if s.streams <= max(n_full + 1, 1)]  # the sweep, without the extra steps beyond it
    fail = next((s for s in full if not s.kept_up), None)
    base_fail = next((s for s in base if not s.kept_up), None)
    return [
        figure("live capacity: concurrent 720p streams kept up, full pipeline", n_full, "streams",
               "same sweep, settings before issue 12 (whole-frame OCR detected at 1280 px, whole-frame logos at 1280 px, no ASR packing, "
               "full ASR windows)", n_base,
               f"now: {_why(fail, swept[-1])}; before: {_why(base_fail, base[-1])}; "
               f"{full[0].window_s:.0f} s windows"),
        figure("live capacity at full quality: streams kept up, none degraded", capacity(full, undegraded=True),
               "streams", "same sweep, settings before issue 12", capacity(base, undegraded=True),
               "as above, and every stream still at degrade level 0 at the window's end (no fewer OCR reads, "
               "no cheaper speech tier, no longer sampling interval)"),
        figure("live: CPU per stream, full pipeline (1 stream)", full[0].cores, "cores",
               "settings before issue 12 (1 stream)", base[0].cores,
               "; ".join(f"{s.streams} streams {s.cores:.2f} cores{'' if s.kept_up else ' (behind)'}" for s in full)
               + "; whole process tree incl. workers"),
        figure("live: RSS per added stream, full pipeline", rss_per_stream(full, idle_full), "MB",
               "settings before issue 12", rss_per_stream(base, idle_base),
               f"models loaded: {idle_full:.0f} MB now, {idle_base:.0f} MB before; "
               + "; ".join(f"{s.streams} streams {s.rss_mb:.0f} MB" for s in full)),
        figure(f"live: p95 lag behind live, {at_cap.streams} stream(s), full pipeline", at_cap.lag_p95_s, "s",
               "settings before issue 12, 1 stream", base[0].lag_p95_s,
               f"p50 {at_cap.lag_p50_s:.1f} s, growth {at_cap.lag_growth_s:+.1f} s over the window; p95 runner "
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

@dataclass(frozen=True)
class OnsetClip:
    """A clip whose violation starts at ``onset`` media seconds, seen or heard through ``modality``."""

    modality: str
    spec: ClipSpec
    onset: float


ASR_CLAIMS = ("这个茶喝了能治愈失眠，还能根治高血压。", "吃了这个护肝片，肝病都能治好。", "我们家的精华是全网最好的，销量第一。")


def onset_clips(clean_s: tuple[float, ...] = (3.0, 4.0, 5.0), violation_s: float = 8.0) -> list[OnsetClip]:
    """Per round: a card shown, a claim spoken, a logo appearing, each after a clean opening."""
    out = []
    for i, k in enumerate(clean_s):
        seed = 300 + 10 * i
        out.append(OnsetClip("ocr", ClipSpec(f"t2a-ocr{i}", (
            Scene(k, "秋冬新款围巾", "¥89", "新人关注领优惠券", background_seed=seed),
            Scene(violation_s, "LV 老花手袋", "¥99", "高仿 1:1 原单品质", background_seed=seed + 1))), k))
        out.append(OnsetClip("asr", ClipSpec(f"t2a-asr{i}", (
            Scene(k, "养生茶", "¥59", "冲泡方便", background_seed=seed + 2),
            Scene(violation_s, "养生茶", "¥59", "冲泡方便", speech=ASR_CLAIMS[i % len(ASR_CLAIMS)],
                  background_seed=seed + 2))), k + SPEECH_OFFSET_S))
        out.append(OnsetClip("logo", ClipSpec(f"t2a-logo{i}", (
            Scene(k, "新款斜挎包", "¥99", "A货 顶级复刻", background_seed=seed + 3),
            Scene(violation_s, "新款斜挎包", "¥99", "A货 顶级复刻", logo=logo_path("gucci"),
                  background_seed=seed + 3))), k))
    return out


@dataclass(frozen=True)
class Latency:
    modality: str
    stream_id: str
    alert_s: float | None  # onset on the live clock -> alert readable on Kafka
    detector_s: float | None  # onset -> first evidence of the modality at the rules
    heard_s: float  # speech: onset -> the end of the utterance (the issue's spoken bound runs from there)
    media_s: float | None  # alert's first media_end - onset (what scan reports)
    category: str | None


def time_to_alert(rig: Rig, cases: list[tuple[OnsetClip, Path]], *, concurrency: int, settle_s: float = 3.0) -> list[Latency]:
    """Replay every case at real-time pace (``concurrency`` at once) and time its first alert."""
    pipeline = rig.pipeline(rig.cfg.replace(ingest=replace(rig.cfg.ingest, loop=False)))
    ids: list[tuple[OnsetClip, Path, str]] = []
    try:
        pending = list(cases)
        running: list[str] = []
        run_id = f"{os.getpid()}-{int(time.time())}"
        with scheduled(pipeline):  # as run's status loop does
            origins: dict[str, float] = {}  # read while live: the rig forgets an ended stream's timings
            while pending or running:
                states = {s.stream_id: s.state for s in pipeline.status()}
                for sid in running:
                    if sid not in origins and (origin := rig.stages.origin(sid)) is not None:
                        origins[sid] = origin
                running = [sid for sid in running if states.get(sid) not in (StreamState.ENDED, StreamState.FAILED)]
                while pending and len(running) < concurrency:
                    case, path = pending.pop(0)
                    sid = f"{case.spec.name}-{run_id}"
                    pipeline.add_stream(sid, str(path))
                    running.append(sid)
                    ids.append((case, path, sid))
                time.sleep(0.2)
        if rig.publisher is not None:
            rig.publisher.flush(30.0)
        time.sleep(settle_s)
    finally:
        pipeline.close(timeout=60.0)
    return [_latency(rig, case, sid, origins.get(sid, float("nan")), _heard_s(case, path)) for case, path, sid in ids]


def _heard_s(case: OnsetClip, clip: Path) -> float:
    """Onset -> the end of the spoken violation (0 for what is seen: it counts from its appearance)."""
    if case.modality != "asr":
        return 0.0
    return max(end for start, end in spoken_spans(clip) if end > case.onset) - case.onset


def _latency(rig: Rig, case: OnsetClip, sid: str, origin: float, heard_s: float) -> Latency:
    onset_wall = origin + case.onset
    arrivals = [(t, r) for t, r in rig.reader.for_stream(sid) if r.get("media_end", 0) >= case.onset - 1.0] if rig.reader else []
    first = min(arrivals, key=lambda a: a[0], default=None)
    evidence = [t for t, ev in list(rig.evidence)
                if ev.stream_id == sid and ev.modality.value == case.modality and ev.media_start >= case.onset - 0.5]
    return Latency(
        case.modality,
        sid,
        round(first[0] - onset_wall, 3) if first else None,
        round(min(evidence) - onset_wall, 3) if evidence else None,
        heard_s,
        round(first[1]["media_end"] - case.onset, 3) if first else None,
        first[1].get("category") if first else None,
    )


def latency_figures(latencies: list[Latency], concurrency: int) -> list[dict]:
    out = []
    for modality in ("ocr", "asr", "logo"):
        rows = [r for r in latencies if r.modality == modality]
        alert = [r.alert_s for r in rows if r.alert_s is not None]
        detector = [r.detector_s for r in rows if r.detector_s is not None]
        media = [r.media_s for r in rows if r.media_s is not None]
        med = percentile(media, 50)
        notes = (f"{len(alert)}/{len(rows)} violations alerted ({', '.join(sorted({str(r.category) for r in rows}))}); "
                 f"{concurrency} stream(s) at once; media-time delay p50 {'-' if med is None else f'{med:.1f} s'}")
        for q in (50, 95):
            out.append(figure(f"time to alert, {modality}, p{q}", percentile(alert, q), "s",
                               f"detector evidence at the rules, p{q}", percentile(detector, q), notes))
        if modality == "asr" and rows:  # the issue's bound for speech: <= 3 s p95 after the utterance ends
            after = [r.alert_s - r.heard_s for r in rows if r.alert_s is not None]
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
    warmup_s: float = 8.0
    window_s: float = 40.0
    base_max_streams: int = 4
    clean_s: tuple[float, ...] = (3.0, 4.0, 5.0)
    violation_s: float = 8.0
    settle_s: float = 3.0  # after the last replay, for the alert reader to catch up
    speech: bool = True
    full: Detectors = Detectors()  # the smoke test turns the heavy ones off


def run(plan: Plan = Plan(), media_dir: Path = MEDIA_DIR) -> list[dict]:
    logging.basicConfig(level=logging.WARNING)
    import tempfile

    cases = onset_clips(plan.clean_s, plan.violation_s) if plan.speech else [
        c for c in onset_clips(plan.clean_s, plan.violation_s) if c.modality != "asr"]
    n_rooms = max((plan.max_streams, *plan.also_at))
    rooms_specs = [broadcast_spec(plan.clip_s, speech=plan.speech, room=k) for k in range(n_rooms)]
    paths = render_cached(rooms_specs + [c.spec for c in cases], media_dir)  # one TTS batch for all
    rooms, case_paths = paths[:n_rooms], paths[n_rooms:]
    clip = rooms[0]
    started, load_at_start = time.monotonic(), os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        figures = scan_figures(clip, plan.clip_s, Path(tmp), plan.full)
    scan_s = time.monotonic() - started
    with Rig(live_config(plan.full)) as rig:
        idle_full = rig.loaded_rss_mb
        full = capacity_sweep(rig, rooms, max_streams=plan.max_streams, warmup_s=plan.warmup_s, window_s=plan.window_s)
        full += [run_window(rig, rooms, n, warmup_s=plan.warmup_s, window_s=plan.window_s, prefix="at")
                 for n in plan.also_at if n > full[-1].streams]
        concurrency = max(1, min(3, capacity(full)))
        latencies = time_to_alert(rig, list(zip(cases, case_paths)), concurrency=concurrency, settle_s=plan.settle_s)
    with Rig(before_issue_12(live_config(plan.full))) as rig:
        idle_base = rig.loaded_rss_mb
        base = capacity_sweep(rig, rooms, max_streams=plan.base_max_streams, warmup_s=plan.warmup_s,
                              window_s=plan.window_s, prefix="before")
    figures += capacity_figures(full, base, idle_full, idle_base)
    figures += stage_figures(full, base)
    figures += latency_figures(latencies, concurrency)
    load = f"machine load avg {load_at_start:.1f} at start, {os.getloadavg()[1]:.1f} (5 min) at end"
    for f in figures:
        f["notes"] = f"{f['notes']}; {load}".lstrip("; ")
    log.warning("pipeline bench: scan part %.0f s, total %.0f s", scan_s, time.monotonic() - started)
    return figures


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2, ensure_ascii=False))
