"""The detectors and the rules engine of one process, built from the config.

This is where the stages' public faces meet. Every detector is an
``events.Detector`` and sits in one of three lists, by what it takes and where
the worker runs it: ``vision`` (sampled frames, in the vision pool, which may
skip an unchanged frame when behind: OCR, logos), ``every_frame`` (every sampled
frame, on the stream's own thread: the fingerprint index) and ``audio`` (audio
chunks: ASR, the fingerprint index's sound). The worker calls ``see``,
``see_every``, ``hear`` and ``finish_stream``, which run a list in order and
never ask which detector they hold. A detector turned off in the config is
simply absent.

``vision_timer``, when given, is told how long each vision detector took on each
frame (the worker's OCR latency histogram), so nothing wraps a detector to time it.

What the worker needs beyond the protocol stays reachable and typed: ``ocr``
(pool figures), ``asr`` (transcript, status, worker figures, forgetting a
stream) and ``fingerprints`` (streams protected while live); the worker's
scheduler turns its knobs through ``set_full_detect_interval`` (OCR) and
``set_speech_degraded`` (ASR). Thread counts of OCR and ASR come from the
config's CPU budget (``cfg.scheduler.threads``), not from their own options. The brand registry
is loaded once here and handed to the three stages that need it (logos, ASR hot
words, rules), which never import each other.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from asr import AsrStage, AsrStatus
from events import AudioChunk, AudioDetector, Brand, ConfigError, Evidence, FrameDetector, SampledFrame
from frames import SnapshotStore
from frames.fingerprint import FingerprintIndex
from livewatch.config import Config
from logos import LogoStage, load_brand_registry
from ocr import OcrStage
from rules import RuleEngine

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".mkv", ".flv", ".ts", ".mov", ".webm")

VisionTimer = Callable[[FrameDetector, SampledFrame, float], None]
"""Told (detector, frame, seconds) after a vision detector has processed a frame, even when it failed."""


@dataclass
class Stages:
    """Live detector instances; ``close()`` stops their worker processes."""

    brands: list[Brand]
    rules: RuleEngine
    vision: list[FrameDetector] = field(default_factory=list)
    every_frame: list[FrameDetector] = field(default_factory=list)
    audio: list[AudioDetector] = field(default_factory=list)
    ocr: OcrStage | None = None
    asr: AsrStage | None = None
    fingerprints: FingerprintIndex | None = None
    vision_timer: VisionTimer | None = None
    _closed: bool = field(default=False, repr=False)

    @classmethod
    def load(cls, cfg: Config, *, inline: bool = False, rules_only: bool = False,
             vision_timer: VisionTimer | None = None) -> Stages:
        """Build every enabled stage. ``inline`` runs ASR in this process (``scan``)."""
        brands = load_brand_registry(cfg.brands_dir)
        rules = RuleEngine(cfg.rules_dir, cfg.lexicon_dir, brands)
        stages = cls(brands=brands, rules=rules, vision_timer=vision_timer)
        if rules_only:
            return stages
        try:
            stages._load_detectors(cfg, inline)
        except BaseException:
            stages.close()
            raise
        return stages

    def _load_detectors(self, cfg: Config, inline: bool) -> None:
        on = cfg.detectors
        snapshots = SnapshotStore(cfg.snapshot_dir)
        # threads from the machine's budget, not each stage's own idea of the machine
        threads = cfg.scheduler.threads(ocr_workers=cfg.ocr.workers, asr_workers=0 if inline else cfg.asr.workers,
                                        inline=inline)
        if on.ocr:
            # OCR keeps its worker process even inline: Paddle and CTranslate2 (ASR)
            # crash when they share a process (both bring their own OpenMP/oneDNN).
            self.ocr = OcrStage(dataclasses.replace(cfg.ocr, threads_per_worker=threads.ocr))
            self.vision.append(self.ocr)
        if on.logos:
            # try_save: a logo match on a full disk is still evidence (without its picture: the worker
            # tries again when the alert is raised, and marks it missing if that fails too)
            self.vision.append(LogoStage(self.brands, cfg.logos, snapshotter=snapshots.try_save))
        if on.asr:
            names = tuple(dict.fromkeys(n for b in self.brands for n in b.names))
            asr_opts = dataclasses.replace(cfg.asr, hotwords=cfg.asr.hotwords or names, cpu_threads=threads.asr)
            if inline:
                asr_opts = dataclasses.replace(asr_opts, workers=0)
            self.asr = AsrStage(asr_opts)
            self.audio.append(self.asr)
        if on.fingerprints:  # without a library, streams protected while live (livewatch protect) fill it
            self.fingerprints = (FingerprintIndex() if cfg.protected_dir is None
                                 else load_protected(cfg.protected_dir, cfg.data_dir / "protected-index"))
            self.every_frame.append(self.fingerprints)  # cheap, and a run must not miss frames
            self.audio.append(self.fingerprints.audio)  # re-broadcasts usually keep the sound

    # --- what the worker calls ------------------------------------------
    def see(self, frame: SampledFrame) -> list[Evidence]:
        """A frame the vision pool hands over (OCR, logos)."""
        if self.vision_timer is None:
            return [ev for detector in self.vision for ev in detector.process(frame)]
        found: list[Evidence] = []
        for detector in self.vision:
            start = time.perf_counter()
            try:
                found.extend(detector.process(frame))
            finally:
                self.vision_timer(detector, frame, time.perf_counter() - start)
        return found

    def see_every(self, frame: SampledFrame) -> list[Evidence]:
        """Every sampled frame, on the stream's thread (fingerprints)."""
        return [ev for detector in self.every_frame for ev in detector.process(frame)]

    def hear(self, chunk: AudioChunk) -> list[Evidence]:
        """An audio chunk (ASR: the text that is ready; the sound's fingerprints)."""
        return [ev for detector in self.audio for ev in detector.process(chunk)]

    def finish_stream(self, stream_id: str) -> list[Evidence]:
        """The stream ended: what each detector still holds (open observations, speech)."""
        return [ev for detector in self._detectors() for ev in detector.finish(stream_id)]

    def forget(self, stream_id: str) -> None:
        """Drop what detectors keep about an ended stream after its last alert (transcript, status)."""
        if self.asr is not None:
            self.asr.forget(stream_id)

    def transcript(self, stream_id: str, start: float, end: float) -> list[Evidence]:
        """What was said in the stream between two media times (kept by ASR, bounded)."""
        return self.asr.transcript(stream_id, start, end) if self.asr is not None else []

    def asr_status(self, stream_id: str) -> AsrStatus:
        """The stream's speech figures (lag, backlog, tier); all zero without ASR."""
        return self.asr.status(stream_id) if self.asr is not None else AsrStatus(stream_id)

    # --- the scheduler's knobs (each a no-op for a stream the stage does not hold) ---
    def set_full_detect_interval(self, stream_id: str, seconds: float) -> None:
        if self.ocr is not None:
            self.ocr.set_full_detect_interval(stream_id, seconds)

    def set_speech_degraded(self, stream_id: str, degraded: bool) -> None:
        if self.asr is not None:
            self.asr.set_degraded(stream_id, degraded)

    def worker_stats(self) -> dict[str, dict[str, float | int | None]]:
        """Per detector running worker processes (``ocr``, ``asr``): deaths, ready replacements, gaps (s)."""
        found: dict[str, dict[str, float | int | None]] = {}
        if self.ocr is not None:
            pool = self.ocr.stats().pool
            found["ocr"] = {"died": pool.died, "replaced": pool.replaced, "gap_s_last": pool.gap_s_last,
                            "gap_s_total": pool.gap_s_total}
        if self.asr is not None:
            asr = self.asr.worker_stats()
            found["asr"] = {"died": asr.died, "replaced": asr.replaced, "gap_s_last": asr.gap_s_last,
                            "gap_s_total": asr.gap_s_total}
        return found

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for detector in self._detectors():
            detector.close()

    def _detectors(self) -> list[FrameDetector | AudioDetector]:
        """Every detector once, in the order their evidence comes out at the end of a stream."""
        return [*self.vision, *self.audio, *self.every_frame]


def load_protected(directory: Path, saved: Path | None = None) -> FingerprintIndex:
    """The fingerprints of every video in ``directory`` (protected content), id = file stem.

    With ``saved``, the index is loaded from there (memory-mapped, no video decoded) while it
    was built from the same files (names, sizes, modification times); otherwise it is built
    from the videos and saved there for the next start.
    """
    videos = sorted(p for p in directory.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
    stamp = json.dumps([(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in videos])
    if saved is not None and (saved / "sources.json").is_file() and (saved / "sources.json").read_text() == stamp:
        try:
            index = FingerprintIndex.load(saved)
        except ConfigError as exc:  # saved by another version (format): the videos are still there
            log.warning("protected index in %s not used (%s): registering the videos again", saved, exc)
        else:
            log.info("protected content loaded: %d item(s) from %s", len(index.content_ids), saved)
            return index
    index = FingerprintIndex()
    for path in videos:
        index.register_video(path, path.stem)
    log.info("protected content registered: %d item(s) from %s", len(index.content_ids), directory)
    if saved is not None:
        try:
            index.save(saved)
            (saved / "sources.json").write_text(stamp)
        except OSError as exc:  # a full or read-only data dir costs the next start time, nothing else
            log.warning("protected index not saved to %s: %s", saved, exc)
    return index
