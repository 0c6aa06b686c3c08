"""The stream worker: the one place where the stages are wired together.

Threads and queues live here, not in the stages (as in Quix Streams, the
framework owns back-pressure):

- one ``StreamRunner`` thread per stream reads the source (``ingest``),
  de-duplicates frames (``frames``), feeds audio to ASR and fingerprints
  every sampled frame (both cheap to hand over);
- a ``VisionPool`` shared by all streams runs OCR and logo matching. Each
  stream has its own small bounded queue, served round-robin, so a busy
  stream cannot starve another; when a queue is full the oldest unchanged
  frame is dropped first (it carries no new text or logo);
- every piece of evidence goes to one ``EvidenceSink`` (``livewatch.sinks``):
  the rules on their own thread (``run``), on the caller's (``scan``), or the
  evidence topic (split stages). Alerts the rules raise here come back
  through ``complete``: the pipeline attaches snapshots of the frames behind
  them and the speech around them, then the sink hands them to the alert
  sink (store first, then Kafka). A snapshot that cannot be written (full
  disk) never holds an alert back: the evidence item goes out marked
  ``snapshot_missing``.

Alert ids: each ``add_stream`` opens a watch session in the sink (the rules
engine's ``open_stream``) with the session token it is given, so the id the
engine logs is the id stored and published (``scan`` passes none: ids stay
deterministic for a recording).

The CPU budget (``livewatch.scheduler``): the vision pool's threads come from
``config.scheduler``, and ``schedule()``, called by the status loop of ``run``
and ``worker``, reads every live stream's load (its vision queue, its speech,
its reader), lets the ``Scheduler`` step the stream's degrade level, logs each
step, and applies every stream's level through the stages' knobs (OCR's
whole-frame detection interval, ASR's tier, the source's sampling interval).
The level and its reason show in ``StreamStatus``; ``degrade_levels`` and
``degrade_steps`` feed Prometheus.

``scan`` uses the same wiring with ``on_caller_thread=True``: everything runs
on the calling thread, as fast as the machine allows, deterministically (at
full quality: nothing is scheduled).
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Callable, Iterable

from events import (
    Alert,
    AlertEvidence,
    AudioChunk,
    Evidence,
    LivewatchError,
    Modality,
    SampledFrame,
    StreamState,
    StreamStatus,
    VideoFrame,
)
from events.malloc import trim_when_due
from frames import FrameDeduper, RecentFrames, SnapshotStore
from ingest import IngestStats, StreamSource, validate_source
from livewatch.config import Config
from livewatch.scheduler import LEVELS, Load, Scheduler, Step
from livewatch.sinks import EvidenceSink
from livewatch.stages import Stages

log = logging.getLogger(__name__)

# Speech this long before and after an alert travels with it, so the moderator
# reads what was said around the violation, not only the matching sentence.
TRANSCRIPT_CONTEXT_S = 15.0


def new_session() -> str:
    """A watch-session token: scopes the alert ids of one start of a live stream."""
    return uuid.uuid4().hex


@dataclass
class _Counters:
    """Mutable per-stream figures behind ``StreamStatus``."""

    source: str
    state: StreamState = StreamState.STARTING
    frames_sampled: int = 0
    frames_duplicate: int = 0
    frames_dropped: int = 0
    audio_seconds: float = 0.0
    media_time: float = 0.0
    lag_s: float = 0.0
    evidence: int = 0
    alerts: int = 0
    warnings: tuple[str, ...] = ()
    error: str | None = None
    dropped_seen: int = 0  # frames dropped at the scheduler's last reading


def _with_change_of(dropped: SampledFrame, frame: SampledFrame) -> SampledFrame:
    """``frame`` changed also where ``dropped`` (the changed frame before it, never seen) changed."""
    if not frame.changed:
        return dataclasses.replace(frame, changed=True, changed_box=dropped.changed_box)
    if dropped.changed_box is None or frame.changed_box is None:
        return dataclasses.replace(frame, changed_box=None)  # None: the whole frame
    return dataclasses.replace(frame, changed_box=dropped.changed_box.bounding(frame.changed_box))


class VisionPool:
    """OCR and logo matching for all streams, with per-stream bounded queues."""

    def __init__(self, process: Callable[[SampledFrame], None], *, per_stream: int, threads: int) -> None:
        self._process = process
        self._per_stream = per_stream
        self._queues: dict[str, collections.deque[SampledFrame]] = {}
        self._order: collections.deque[str] = collections.deque()
        self._busy: collections.Counter[str] = collections.Counter()
        self._dropped: collections.Counter[str] = collections.Counter()
        self._cond = threading.Condition()
        self._closed = False
        self._threads = [threading.Thread(target=self._serve, name=f"vision-{i}", daemon=True) for i in range(threads)]
        for t in self._threads:
            t.start()

    def submit(self, frame: SampledFrame) -> None:
        with self._cond:
            q = self._queues.setdefault(frame.stream_id, collections.deque())
            if frame.stream_id not in self._order:
                self._order.append(frame.stream_id)
            if len(q) >= self._per_stream:
                frame = self._drop_one(q, frame)
            q.append(frame)
            self._cond.notify()

    def _drop_one(self, q: collections.deque[SampledFrame], incoming: SampledFrame) -> SampledFrame:
        """Drop the oldest unchanged frame, else the oldest; returns ``incoming`` (maybe marked changed).

        A dropped changed frame hands its change on to the frame after it: ``changed_box`` says
        what changed since the last frame the detectors saw, and stages that read only that
        region (logos) would otherwise never look where the dropped frame changed.
        """
        index = next((i for i, f in enumerate(q) if not f.changed), 0)
        victim = q[index]
        del q[index]
        self._dropped[incoming.stream_id] += 1
        if not victim.changed:
            return incoming
        if index < len(q):
            q[index] = _with_change_of(victim, q[index])
            return incoming
        return _with_change_of(victim, incoming)

    def dropped(self, stream_id: str) -> int:
        with self._cond:
            return self._dropped[stream_id]

    def backlog(self, stream_id: str) -> tuple[int, float]:
        """Frames of the stream waiting, and how long (wall seconds) the oldest has waited since it was decoded."""
        with self._cond:
            q = self._queues.get(stream_id)
            if not q:
                return 0, 0.0
            return len(q), max(0.0, time.time() - q[0].frame.wall_time)

    def depth(self) -> int:
        """Frames waiting, all streams together (for the queue-depth metric)."""
        with self._cond:
            return sum(len(q) for q in self._queues.values())

    def drain(self, stream_id: str, timeout: float) -> bool:
        """Wait until every frame of the ended stream has been processed; False if some were not in time.

        Frames still queued at the timeout are dropped (counted): the stages are about to close the
        stream, and a late frame would open its state again, never to be closed. Either way the
        stream leaves the round-robin, so serving costs nothing for streams that ended.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queues.get(stream_id) or self._busy[stream_id]:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            drained = not (self._queues.get(stream_id) or self._busy[stream_id])
            late = self._queues.pop(stream_id, None)
            if late:
                self._dropped[stream_id] += len(late)
            if stream_id in self._order:
                self._order.remove(stream_id)
            return drained

    def forget(self, stream_id: str) -> None:
        """Drop what is kept about a stream (its dropped count) once its status is no longer shown."""
        with self._cond:
            self._queues.pop(stream_id, None)
            self._dropped.pop(stream_id, None)
            if stream_id in self._order:
                self._order.remove(stream_id)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout=10)

    def _next(self) -> SampledFrame | None:
        with self._cond:
            while not self._closed:
                for _ in range(len(self._order)):
                    stream_id = self._order[0]
                    self._order.rotate(-1)
                    q = self._queues.get(stream_id)
                    # One frame of a stream at a time: detectors follow text and logos over
                    # time and need each stream's frames in order; other streams go on meanwhile.
                    if q and not self._busy[stream_id]:
                        self._busy[stream_id] += 1
                        return q.popleft()
                self._cond.wait()
            return None

    def _serve(self) -> None:
        while (frame := self._next()) is not None:
            try:
                self._process(frame)
            except Exception:
                log.exception("vision failed on a frame", extra={"stream_id": frame.stream_id})
            finally:
                with self._cond:
                    self._busy[frame.stream_id] -= 1
                    if not self._busy[frame.stream_id]:
                        del self._busy[frame.stream_id]  # a counter per stream ever seen would grow for days
                    self._cond.notify_all()


class Pipeline:
    """Watches any number of streams; evidence -> the evidence sink (rules -> alerts -> alert sink)."""

    def __init__(self, config: Config, stages: Stages, evidence: EvidenceSink, *, on_caller_thread: bool = False) -> None:
        """``evidence`` takes every piece of evidence, and opens and finishes each stream's alerts.

        ``on_caller_thread`` is about execution, not where evidence goes: ``add_stream`` then
        reads the stream to its end on the calling thread and the detectors run there too, with
        no vision pool (``scan``: a recording, as fast as the machine allows, and the same
        evidence in the same order every run: no frame is dropped for being late). By default
        each stream has its own thread and OCR and logos share a vision pool that keeps up with
        live streams by dropping unchanged frames (``run``, a worker).

        The pipeline owns the sink (and the stages): ``close`` closes them.
        """
        self.config = config
        self.stages = stages
        self._evidence = evidence
        self._on_caller_thread = on_caller_thread
        self._snapshots = SnapshotStore(config.snapshot_dir)
        self.snapshots_missing = 0  # evidence items raised without the snapshot that was due
        self._recent: dict[str, RecentFrames] = {}
        self._counters: dict[str, _Counters] = {}
        self._runners: dict[str, StreamRunner] = {}
        self._lock = threading.Lock()  # also guards the scheduler (status and scrapes read it)
        self._scheduler = Scheduler(config.scheduler)
        self._last_trim = 0.0  # time.monotonic() of the last malloc trim (schedule)
        self._vision = None
        if not on_caller_thread:
            threads = config.scheduler.threads(ocr_workers=config.ocr.workers, asr_workers=config.asr.workers)
            self._vision = VisionPool(self._see, per_stream=config.vision_queue_per_stream, threads=threads.vision)
        evidence.start(self._complete)

    # --- streams -------------------------------------------------------
    def add_stream(self, stream_id: str, url: str, session: str = "") -> None:
        """Start watching ``url``. A bad URL fails here; a dead source fails in its thread.

        ``session`` scopes the ids of the alerts this watch raises (a token per start of a live
        stream, so a restart does not reuse the ids of different moments); empty for ``scan``.
        """
        validate_source(url)
        with self._lock:
            if stream_id in self._runners and self._runners[stream_id].is_alive():
                raise LivewatchError(f"stream {stream_id!r} is already watched: remove it first or pick another id")
            self._evidence.open(stream_id, session)
            self._counters[stream_id] = _Counters(source=url)
            self._scheduler.forget(stream_id)  # a stream watched again starts at full quality
            self._recent[stream_id] = RecentFrames(max_age_s=self.config.recent_frames_s)
            runner = StreamRunner(self, stream_id, url, self._counters[stream_id])
            self._runners[stream_id] = runner
        if self._on_caller_thread:
            runner.run()
        else:
            runner.start()

    def remove_stream(self, stream_id: str, timeout: float = 15.0) -> None:
        runner = self._runners.get(stream_id)
        if runner is not None:
            runner.stop()
            runner.join(timeout)

    def stream_ids(self) -> list[str]:
        with self._lock:
            return list(self._runners)

    def discard_stream(self, stream_id: str) -> bool:
        """Forget a stream whose runner has finished (status, counters, recent frames, frames dropped); False if it still runs.

        A long-lived worker hands streams over and back; without this its
        bookkeeping would grow with every stream it ever watched. The memory it
        frees goes back to the system at the next trim (``schedule``).
        """
        with self._lock:
            runner = self._runners.get(stream_id)
            if runner is not None and runner.is_alive():
                return False
            self._runners.pop(stream_id, None)
            self._counters.pop(stream_id, None)
            self._recent.pop(stream_id, None)
            self._scheduler.forget(stream_id)
        if self._vision is not None:
            self._vision.forget(stream_id)
        return True

    def queue_depths(self) -> dict[str, int]:
        """Items waiting in the worker's queues: sampled frames for vision, evidence on its way (the rules)."""
        return {
            "vision": self._vision.depth() if self._vision is not None else 0,
            "evidence": self._evidence.depth(),
        }

    # --- the CPU budget ------------------------------------------------
    def schedule(self, now: float | None = None) -> list[Step]:
        """One load reading of every live stream: step its degrade level, apply every level to the stages.

        Called periodically by the status loop (``now``: a ``time.monotonic()``, for tests).
        Levels are applied at every reading, not only at a step, so a stage that did not hold
        the stream yet (or a replaced ASR worker) gets it the next time. ``scan`` (on the
        caller's thread) is never scheduled: a recording is read at full quality.

        Memory is the other budget read here: at most every 30 s the free memory inside malloc's
        arenas goes back to the system (``events.malloc.trim_when_due``, as the OCR and ASR
        workers do after their work). Each stream's threads allocate in their own arenas
        (glibc: up to 8 per core), and with streams coming and going the free space inside them
        grew from 20 to 100 MB in 12 minutes of the soak's churn; trimmed every 30 s, the
        process's RSS stayed level meanwhile (3-26 ms a trim). A trim only when a stream was
        discarded left the main process's lowest RSS climbing by ~100 MB an hour; with this,
        the hour's soak measured +3 MB/h for the main process.
        """
        if self._on_caller_thread:
            return []
        now = time.monotonic() if now is None else now
        self._last_trim = trim_when_due(self._last_trim, now=now)
        with self._lock:
            live = [(sid, runner, self._counters[sid]) for sid, runner in self._runners.items()
                    if sid in self._counters and self._counters[sid].state is StreamState.LIVE]
        steps = []
        for stream_id, runner, counters in live:
            load = self._load(stream_id, counters)
            with self._lock:
                if self._runners.get(stream_id) is not runner:
                    continue  # discarded meanwhile: nothing may be kept about it
                step = self._scheduler.observe(stream_id, load, now)
                level = self._scheduler.state(stream_id).level
            if step is not None:
                steps.append(step)
                _log_step(step)
            self._apply(stream_id, runner, level)
        return steps

    def degrade_levels(self) -> dict[str, float]:
        """Each scheduled stream's degrade level (the Prometheus gauge)."""
        with self._lock:
            return {sid: float(st.level) for sid, st in self._scheduler.states().items()}

    def degrade_steps(self) -> dict[tuple[str, ...], float]:
        """Steps so far per (stream, direction ``degrade`` | ``recover``) (the Prometheus counter)."""
        with self._lock:
            states = self._scheduler.states()
        return {key: float(n) for sid, st in states.items()
                for key, n in (((sid, "degrade"), st.degrades), ((sid, "recover"), st.recoveries))}

    def _load(self, stream_id: str, counters: _Counters) -> Load:
        waiting, wait_s = self._vision.backlog(stream_id) if self._vision is not None else (0, 0.0)
        dropped = self._vision.dropped(stream_id) if self._vision is not None else 0
        new_drops, counters.dropped_seen = dropped - counters.dropped_seen, dropped
        speech = self.stages.asr_status(stream_id)
        return Load(
            vision_fill=waiting / self.config.vision_queue_per_stream,
            vision_wait_s=wait_s,
            frames_dropped=max(0, new_drops),
            asr_lag_s=speech.lag_s,
            asr_backlog_s=speech.backlog_s,
            runner_lag_s=counters.lag_s,
        )

    def _apply(self, stream_id: str, runner: StreamRunner, level: int) -> None:
        """The stage settings of ``level`` for the stream, through each stage's knob."""
        cfg = self.config
        settings = cfg.scheduler.settings(level, full_detect_interval_s=cfg.ocr.full_detect_interval_s,
                                          sample_interval_s=cfg.ingest.sample_interval_s)
        self.stages.set_full_detect_interval(stream_id, settings.full_detect_interval_s)
        self.stages.set_speech_degraded(stream_id, settings.speech_degraded)
        runner.set_sample_interval(settings.sample_interval_s)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every stream has ended; True if they all did in time."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for runner in list(self._runners.values()):
            if runner.is_alive():
                runner.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(r.is_alive() for r in self._runners.values())

    def status(self) -> list[StreamStatus]:
        with self._lock:
            items = list(self._counters.items())
        return [self._status(stream_id, c) for stream_id, c in items]

    def close(self, timeout: float = 20.0) -> None:
        """Stop all streams, drain in-flight work, flush the evidence sink (the rules)."""
        for stream_id in list(self._runners):
            runner = self._runners[stream_id]
            runner.stop()
        self.wait(timeout)
        if self._vision is not None:
            self._vision.close()
        try:
            self._evidence.close(timeout)
        finally:
            self.stages.close()  # a broker that cannot take the last evidence leaves no OCR or ASR process behind

    # --- evidence flow -------------------------------------------------
    def emit_evidence(self, items: Iterable[Evidence]) -> None:
        for ev in items:
            counters = self._counters.get(ev.stream_id)
            if counters is not None:
                counters.evidence += 1
            self._evidence.publish(ev)

    def on_frame(self, frame: SampledFrame) -> None:
        """A sampled frame from a runner: keep it for snapshots, fingerprint it, hand it to vision."""
        self._recent[frame.stream_id].add(frame)
        self.emit_evidence(self.stages.see_every(frame))
        if self._vision is None:
            self._see(frame)
        else:
            self._vision.submit(frame)

    def on_audio(self, chunk: AudioChunk) -> None:
        """An audio chunk from a runner: ASR and the sound's fingerprints take it; whatever evidence is ready."""
        self.emit_evidence(self.stages.hear(chunk))

    def _see(self, frame: SampledFrame) -> None:
        """OCR and logos on one sampled frame (vision pool or the caller's thread)."""
        self.emit_evidence(self.stages.see(frame))

    def finish_stream(self, stream_id: str) -> None:
        """Called by a runner when its source has ended: flush what is pending."""
        if self._vision is not None and not self._vision.drain(stream_id, timeout=60):
            log.warning("vision queue not drained at stream end", extra={"stream_id": stream_id})
        self.emit_evidence(self.stages.finish_stream(stream_id))
        self._evidence.finish(stream_id)
        self.stages.forget(stream_id)  # the last alerts have their transcript: a days-long worker keeps no ended stream

    def _complete(self, alert: Alert) -> Alert:
        """An alert the sink's rules raised, made ready for the alert sink: transcript, snapshots, URL; counted."""
        alert = self._with_snapshots(self._with_transcript(alert))
        counters = self._counters.get(alert.stream_id)
        if alert.stream_url is None and counters is not None:
            alert = dataclasses.replace(alert, stream_url=counters.source)
        if counters is not None and alert.revision == 1:
            counters.alerts += 1
        log.info("alert %s %s %s", alert.rule_id, alert.category.value, alert.title,
                 extra={"stream_id": alert.stream_id, "alert_id": alert.alert_id, "revision": alert.revision})
        return alert

    def _with_transcript(self, alert: Alert) -> Alert:
        """Add the speech around the alert as context items (no matched terms), for the moderator."""
        around = self.stages.transcript(
            alert.stream_id, alert.media_start - TRANSCRIPT_CONTEXT_S, alert.media_end + TRANSCRIPT_CONTEXT_S
        )
        present = {(e.media_start, e.text) for e in alert.evidence if e.modality is Modality.ASR}
        context = tuple(AlertEvidence.from_evidence(ev) for ev in around if (ev.media_start, ev.text) not in present)
        return dataclasses.replace(alert, evidence=alert.evidence + context) if context else alert

    def _with_snapshots(self, alert: Alert) -> Alert:
        """Snapshot the frame behind each evidence item; one that cannot be written is marked missing."""
        recent = self._recent.get(alert.stream_id)
        if recent is None:
            return alert
        items, missing = [], 0
        for item in alert.evidence:
            if item.snapshot_path is None:
                jpeg = recent.at(item.media_start)
                snap = self._snapshots.try_save(jpeg) if jpeg is not None else None
                if snap is not None:
                    item = dataclasses.replace(item, snapshot_path=snap.path, snapshot_sha256=snap.sha256,
                                               snapshot_missing=False)
                elif jpeg is not None:
                    item = dataclasses.replace(item, snapshot_missing=True)
                    missing += 1
            items.append(item)
        if missing:
            self.snapshots_missing += missing
            log.warning(
                "alert %s rev %d: %d snapshot(s) not written (%s); the alert is stored and sent without them",
                alert.alert_id, alert.revision, missing, self._snapshots.failures.last_error,
                extra={"stream_id": alert.stream_id, "alert_id": alert.alert_id, "revision": alert.revision},
            )
        return dataclasses.replace(alert, evidence=tuple(items))

    def _status(self, stream_id: str, c: _Counters) -> StreamStatus:
        runner = self._runners.get(stream_id)
        stats = runner.source_stats() if runner else None
        dropped = self._vision.dropped(stream_id) if self._vision else 0
        with self._lock:
            level = self._scheduler.state(stream_id)
        return StreamStatus(
            stream_id=stream_id,
            source=c.source,
            state=c.state,
            media_time=c.media_time,
            lag_s=c.lag_s,
            frames_decoded=stats.frames_decoded if stats is not None else 0,
            frames_sampled=c.frames_sampled,
            frames_duplicate=c.frames_duplicate,
            frames_dropped=dropped,
            audio_seconds=c.audio_seconds,
            evidence=c.evidence,
            alerts=c.alerts,
            reconnects=stats.reconnects if stats is not None else 0,
            asr_degraded=self.stages.asr_status(stream_id).degraded,
            degrade_level=level.level,
            degrade_reason=level.reason,
            warnings=c.warnings,
            error=c.error,
        )


def _log_step(step: Step) -> None:
    """One structured line per step: the operator sees when and why quality changed."""
    extra = {"stream_id": step.stream_id, "degrade_level": step.level, "previous_level": step.previous,
             "reason": step.reason}
    if step.degraded:
        log.warning("degraded to level %d (%s): %s", step.level, LEVELS[step.level], step.reason, extra=extra)
    else:
        log.info("recovered to level %d (%s): %s", step.level, LEVELS[step.level], step.reason, extra=extra)


class StreamRunner(threading.Thread):
    """Reads one stream: ingest -> dedup -> (vision pool, ASR, fingerprints)."""

    def __init__(self, pipeline: Pipeline, stream_id: str, url: str, counters: _Counters) -> None:
        super().__init__(name=f"stream-{stream_id}", daemon=True)
        self._pipeline = pipeline
        self._counters = counters
        self.stream_id = stream_id
        self.url = url
        cfg = pipeline.config
        self._source = StreamSource(url, stream_id, cfg.ingest)
        self._deduper = FrameDeduper(cfg.dedup)
        self._stopped = threading.Event()

    def stop(self) -> None:
        self._stopped.set()
        self._source.close()

    def source_stats(self) -> IngestStats:
        return self._source.stats

    def set_sample_interval(self, seconds: float) -> None:
        self._source.set_sample_interval(seconds)

    def run(self) -> None:
        """Watch until the source ends, fails or is stopped; every way out finishes the stream.

        Also a source that never opened: ``add_stream`` opened the stream's rules state, which
        only ``finish_stream`` closes.
        """
        counters = self._counters
        extra = {"stream_id": self.stream_id}
        try:
            self._watch(counters)
        except LivewatchError as exc:
            counters.state, counters.error = StreamState.FAILED, str(exc)
            log.error("%s", exc, extra=extra)
        except Exception as exc:  # a bug in one stream must not stop the others
            counters.state, counters.error = StreamState.FAILED, f"{type(exc).__name__}: {exc}"
            log.exception("stream failed", extra=extra)
        finally:
            self._source.close()
            self._pipeline.finish_stream(self.stream_id)
            log.info("stream finished: %s", counters.state.value, extra=extra)

    def _watch(self, counters: _Counters) -> None:
        try:
            info = self._source.open()  # a live source not broadcasting yet is waited for, up to give_up_after_s
        except LivewatchError:
            if not self._stopped.is_set():
                raise
            counters.state = StreamState.ENDED  # stopped while waiting for the stream to go live
            return
        counters.warnings += tuple(info.warnings)  # ingest has logged them (e.g. no audio track)
        counters.state = StreamState.LIVE
        for item in self._source:
            if self._stopped.is_set():
                break
            self._handle(item, counters)
        counters.state = StreamState.ENDED

    def _handle(self, item: VideoFrame | AudioChunk, counters: _Counters) -> None:
        if isinstance(item, AudioChunk):
            counters.audio_seconds += item.media_end - item.media_start
            self._pipeline.on_audio(item)
            return
        sampled = self._deduper.process(item)
        counters.media_time = item.media_time
        counters.lag_s = max(0.0, time.time() - item.wall_time)
        counters.frames_sampled += 1
        counters.frames_duplicate += not sampled.changed
        self._pipeline.on_frame(sampled)
