"""AsrStage: the public face. Whisper runs in worker processes so decoding and OCR never wait.

``process`` only enqueues a chunk (bounded queue; a full queue drops the chunk and counts it)
and returns whatever text the workers have finished for that stream; ``finish`` ends a stream;
``set_degraded`` puts a stream on the cheaper decoding tier (the worker's scheduler decides).
``status`` is the scheduler's speech signal: it counts the audio still queued for a worker and
ages the wait a worker last reported, so speech waiting behind a long Whisper pass shows.
The stage is an ``events.AudioDetector``. Each stream sticks to
one worker (its VAD state lives there). A dead worker is restarted; its streams lose only
the audio in flight. Both ends are logged (died; replacement ready, after how long) and
counted (``worker_stats``). ``workers=0`` runs the same engine in the caller's process,
synchronously, for scanning recordings as fast as possible.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from typing import Any

from asr.engine import AsrEngine, AsrStatus
from asr.model import ModelInfo, load_model, resolve_model
from asr.options import AsrOptions
from asr.transcript import Transcript
from events import AudioChunk, ConfigError, Evidence
from events.malloc import trim_when_due

log = logging.getLogger(__name__)

_STATUS_EVERY_S = 0.5
_RESTART_EVERY_S = 2.0  # a worker that keeps dying is not respawned in a tight loop


@dataclass(frozen=True, slots=True)
class AsrWorkerStats:
    """Worker processes that died, how many replacements are ready, and how long a slot was empty.

    ``gap_s_*``: from noticing the death to the replacement's model being loaded. ``pids``: the
    workers' process ids now (as ``ocr.PoolStats.pids``: the soak bench weighs each kind of process).
    """

    workers: int = 0
    died: int = 0
    replaced: int = 0
    gap_s_last: float | None = None
    gap_s_total: float = 0.0
    pids: tuple[int, ...] = ()


class _HandOver:
    """Audio handed to a worker that it has not taken in yet (its inbox, oldest first).

    While the worker runs a Whisper pass its inbox fills, and its own status cannot see that
    audio: without this the back-pressure signal (``AsrStatus.lag_s``/``backlog_s``) would read
    0 through the longest passes, and the queue would overflow before anything degraded.
    The worker says how many chunks each drain took (``("accepted", n, statuses)``).
    """

    def __init__(self) -> None:
        self._chunks: deque[tuple[str, float, float]] = deque()  # (stream, wall time of its end, seconds)

    def handed(self, chunk: AudioChunk) -> None:
        self._chunks.append((chunk.stream_id, chunk.wall_time, chunk.media_end - chunk.media_start))

    def accepted(self, count: int) -> None:
        for _ in range(min(count, len(self._chunks))):
            self._chunks.popleft()

    def waiting(self, stream_id: str, now: float) -> tuple[float, float]:
        """(how long the stream's oldest chunk not taken in has waited, seconds of its audio not taken in)."""
        mine = [(wall, seconds) for sid, wall, seconds in self._chunks if sid == stream_id]
        return (max(0.0, now - mine[0][0]) if mine else 0.0), sum(seconds for _, seconds in mine)


def _live_status(reported: AsrStatus, reported_at: float, waiting: tuple[float, float], now: float) -> AsrStatus:
    """A worker's last status of a stream as of ``now``: speech it reported waiting has waited since
    (a pass may still be running), and the audio still in its inbox (``_HandOver.waiting``) waits too."""
    engine_lag = reported.lag_s + max(0.0, now - reported_at) if reported.backlog_s > 0 else 0.0
    return replace(reported, lag_s=round(max(engine_lag, waiting[0]), 3), backlog_s=round(reported.backlog_s + waiting[1], 3))


class _Worker:
    """One spawned worker process, its two queues and what it has not taken in yet."""

    def __init__(self, options: AsrOptions, info: ModelInfo, index: int, replacing_since: float | None = None) -> None:
        ctx = mp.get_context("spawn")
        self.index = index
        self.inbox = ctx.Queue(maxsize=options.queue_chunks)
        self.outbox = ctx.Queue(maxsize=1000)
        self.process = ctx.Process(
            target=_worker_main, args=(options, info, self.inbox, self.outbox), name=f"livewatch-asr-{index}", daemon=True
        )
        self.process.start()
        self.hand_over = _HandOver()
        self.started = time.monotonic()
        self.ready = False
        self.replacing_since = replacing_since  # when the worker it replaces was found dead

    def stop(self, timeout_s: float = 5.0) -> None:
        if self.process.is_alive():
            try:
                self.inbox.put(("stop",), timeout=1.0)
            except (queue.Full, ValueError, OSError):
                pass
            self.process.join(timeout_s)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout_s)
        for q in (self.inbox, self.outbox):
            q.cancel_join_thread()
            q.close()


class AsrStage:
    """Speech-to-text for any number of live streams (see module docstring)."""

    def __init__(self, options: AsrOptions | None = None, *, model: Any = None) -> None:
        """Resolve the model (ConfigError if missing) and start the workers (ready on return).

        ``model``: an already loaded WhisperModel to share, used only with ``workers=0``.
        """
        self._o = options or AsrOptions()
        if self._o.workers < 0:
            raise ConfigError(f"ASR workers={self._o.workers}: use 0 (in-process) or more")
        self.model_info = resolve_model(self._o)
        self._lock = threading.RLock()
        self._ready: dict[str, list[Evidence]] = {}
        self._status: dict[str, tuple[AsrStatus, float]] = {}  # a worker's last report and when it came
        self._dropped_s: dict[str, float] = {}
        self._finished: set[str] = set()
        self._assigned: dict[str, int] = {}
        self._restarts = 0
        self._replaced = 0
        self._gap_s_last: float | None = None
        self._gap_s_total = 0.0
        self._started = False
        self._transcript = Transcript(self._o.transcript_keep_s, self._o.transcript_max_segments)
        self._engine: AsrEngine | None = None
        self._workers: list[_Worker] = []
        if self._o.workers == 0:
            model = model if model is not None else load_model(self.model_info, self._o.cpu_threads)
            self._engine = AsrEngine(self._o, model)
        else:
            self._workers = [_Worker(self._o, self.model_info, i) for i in range(self._o.workers)]
            self._wait_ready()
        self._started = True

    # ---- public ----------------------------------------------------------------------
    def process(self, chunk: AudioChunk) -> list[Evidence]:
        """Hand over one chunk; returns the stream's text that is ready (never waits on Whisper)."""
        with self._lock:
            if self._engine is not None:
                self._engine.accept(chunk)
                while self._engine.has_pending():
                    self._collect(self._engine.step())
            else:
                self._pump()  # first: a dead worker is replaced before it is handed the chunk
                worker = self._worker_for(chunk.stream_id)
                try:
                    worker.inbox.put_nowait(("audio", chunk))
                    worker.hand_over.handed(chunk)
                except queue.Full:
                    before = self._dropped_s.get(chunk.stream_id, 0.0)
                    after = self._dropped_s[chunk.stream_id] = before + chunk.media_end - chunk.media_start
                    if int(after / 10) != int(before / 10) or before == 0:  # one line per ~10 s lost, not per chunk
                        log.warning("ASR queue full: %.1fs of audio dropped so far", after, extra={"stream_id": chunk.stream_id})
                self._pump()
            return self._ready.pop(chunk.stream_id, [])

    def poll(self, stream_id: str) -> list[Evidence]:
        """Text that became ready for ``stream_id`` since the last call, without handing over audio."""
        with self._lock:
            if self._workers:
                self._pump()
            return self._ready.pop(stream_id, [])

    def finish(self, stream_id: str, timeout_s: float | None = None) -> list[Evidence]:
        """End of ``stream_id``: transcribe what is left and return it (blocks until done)."""
        timeout_s = timeout_s if timeout_s is not None else 2 * self._o.max_backlog_s + 60
        deadline = time.monotonic() + timeout_s
        with self._lock:
            if self._engine is not None:
                self._engine.end_stream(stream_id)
                while self._engine.has_pending(stream_id):
                    self._collect(self._engine.step(stream_id))
                return self._ready.pop(stream_id, [])
            if stream_id not in self._assigned:
                return self._ready.pop(stream_id, [])
            self._finished.discard(stream_id)
            inbox = self._workers[self._assigned[stream_id]].inbox
        try:
            inbox.put(("finish", stream_id), timeout=timeout_s)
        except queue.Full:
            deadline = 0.0
        while time.monotonic() < deadline:
            with self._lock:
                self._pump()
                if stream_id in self._finished:
                    self._finished.discard(stream_id)
                    self._assigned.pop(stream_id, None)
                    return self._ready.pop(stream_id, [])
            time.sleep(0.02)
        log.warning("ASR finish gave up after %.0fs: the rest of the stream's speech is lost", timeout_s, extra={"stream_id": stream_id})
        with self._lock:
            return self._ready.pop(stream_id, [])

    def set_degraded(self, stream_id: str, degraded: bool) -> None:
        """Decode ``stream_id`` on the cheaper tier (beam 1, no fallback, stricter VAD, fitted window), or on the full one.

        The worker's scheduler says it at every reading, so this never waits: a stream not
        handed any audio yet (or already finished) is left alone, and a message that does not
        fit in a full queue is simply said again next time (also to a replacement worker).
        """
        with self._lock:
            if self._engine is not None:
                self._engine.set_degraded(stream_id, degraded)
                return
            index = self._assigned.get(stream_id)
            if index is None:
                return
            try:
                self._workers[index].inbox.put_nowait(("degrade", stream_id, degraded))
            except queue.Full:
                pass

    def status(self, stream_id: str) -> AsrStatus:
        """Lag, backlog, degraded (also when chunks had to be dropped before the worker)."""
        with self._lock:
            if self._engine is not None:
                st = self._engine.status(stream_id)
            else:
                self._pump()
                now = time.time()
                reported, at = self._status.get(stream_id, (AsrStatus(stream_id), now))
                index = self._assigned.get(stream_id)
                waiting = self._workers[index].hand_over.waiting(stream_id, now) if index is not None else (0.0, 0.0)
                st = _live_status(reported, at, waiting, now)
            dropped = self._dropped_s.get(stream_id, 0.0)
            return replace(
                st,
                degraded=st.degraded or (dropped > 0 and self._queue_nearly_full(stream_id)),
                dropped_audio_s=round(st.dropped_audio_s + dropped, 3),
                worker_restarts=self._restarts,
            )

    def transcript(self, stream_id: str, start: float, end: float) -> list[Evidence]:
        """ASR segments of ``stream_id`` overlapping media time [start, end]."""
        with self._lock:
            return self._transcript.between(stream_id, start, end)

    def forget(self, stream_id: str) -> None:
        """Drop everything kept about an ended stream (transcript, status, worker assignment).

        Call it after ``finish`` and the stream's last alert. The worker process forgot the
        stream when it finished it (its status came back with ``finished``).
        """
        with self._lock:
            self._transcript.forget(stream_id)
            self._status.pop(stream_id, None)
            self._dropped_s.pop(stream_id, None)
            self._ready.pop(stream_id, None)
            self._finished.discard(stream_id)
            self._assigned.pop(stream_id, None)  # still here when a finish gave up
            if self._engine is not None:
                self._engine.forget(stream_id)

    def worker_stats(self) -> AsrWorkerStats:
        """Deaths and replacements of the worker processes so far (all zero with ``workers=0``)."""
        with self._lock:  # as of the last process/poll/status (a scrape must not restart workers itself)
            return AsrWorkerStats(len(self._workers), self._restarts, self._replaced, self._gap_s_last,
                                  round(self._gap_s_total, 3), tuple(w.process.pid or 0 for w in self._workers))

    def close(self) -> None:
        for worker in self._workers:
            worker.stop()
        self._workers = []

    def __enter__(self) -> AsrStage:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---- internals -------------------------------------------------------------------
    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self._o.start_timeout_s
        while not all(w.ready for w in self._workers):
            if time.monotonic() > deadline:
                self.close()
                raise ConfigError(f"ASR workers did not load {self.model_info.path} within {self._o.start_timeout_s:.0f}s: check the model files")
            self._pump(restart=False)
            time.sleep(0.05)

    def _worker_for(self, stream_id: str) -> _Worker:
        index = self._assigned.get(stream_id)
        if index is None:
            load = [0] * len(self._workers)
            for i in self._assigned.values():
                load[i] += 1
            index = self._assigned[stream_id] = load.index(min(load))
        return self._workers[index]

    def _pump(self, restart: bool = True) -> None:
        """Take everything the workers sent; restart any that died."""
        for i, worker in enumerate(self._workers):
            while True:
                try:
                    msg = worker.outbox.get_nowait()
                except queue.Empty:
                    break
                self._handle(worker, msg)
            if not worker.process.is_alive() and time.monotonic() >= worker.started + _RESTART_EVERY_S:
                if not restart:
                    self.close()
                    raise ConfigError(f"ASR worker exited with code {worker.process.exitcode} while loading {self.model_info.path}")
                log.error("ASR worker %d (pid %s) died (exit code %s): starting a replacement; its streams lose audio "
                          "in flight and wait for it", i, worker.process.pid, worker.process.exitcode)
                worker.stop(timeout_s=0.5)
                self._workers[i] = _Worker(self._o, self.model_info, i, replacing_since=time.monotonic())
                self._restarts += 1
                self._finished.update(sid for sid, k in self._assigned.items() if k == i)  # no finish waits on the dead

    def _handle(self, worker: _Worker, msg: tuple[Any, ...]) -> None:
        """One message from a worker. What concerns a stream no longer assigned (its finish gave up
        and it was forgotten) is dropped: it would stay here for good."""
        kind = msg[0]
        if kind == "evidence":
            self._collect([ev for ev in msg[1] if ev.stream_id in self._assigned])
        elif kind == "status":
            self._keep_status(msg[1])
        elif kind == "accepted":
            worker.hand_over.accepted(msg[1])
            self._keep_status(msg[2])
        elif kind == "finished":
            if msg[1] in self._assigned:
                self._finished.add(msg[1])
        elif kind == "ready":
            worker.ready = True
            if worker.replacing_since is not None:
                gap = time.monotonic() - worker.replacing_since
                worker.replacing_since = None
                self._replaced += 1
                self._gap_s_last = round(gap, 3)
                self._gap_s_total += gap
                log.info("ASR worker %d replacement ready (pid %s) after %.1fs without it", worker.index,
                         worker.process.pid, gap, extra={"gap_s": round(gap, 3)})
        elif kind == "error" and not self._started:
            self.close()
            raise ConfigError(msg[1])
        elif kind == "error":
            log.error("%s", msg[1])

    def _keep_status(self, statuses: dict[str, AsrStatus]) -> None:
        now = time.time()
        self._status.update((sid, (st, now)) for sid, st in statuses.items() if sid in self._assigned)

    def _collect(self, evidence: list[Evidence]) -> None:
        for ev in evidence:
            self._ready.setdefault(ev.stream_id, []).append(ev)
            self._transcript.add(ev)

    def _queue_nearly_full(self, stream_id: str) -> bool:
        index = self._assigned.get(stream_id)
        if index is None:
            return False
        try:
            return self._workers[index].inbox.qsize() > 0.8 * self._o.queue_chunks
        except NotImplementedError:  # macOS
            return False


def _worker_main(options: AsrOptions, info: ModelInfo, inbox: Any, outbox: Any) -> None:
    """Worker process: load the model once, then VAD everything that arrives, one Whisper pass at a time."""
    try:
        engine = AsrEngine(options, load_model(info, options.cpu_threads))
    except Exception as exc:  # reported to the parent as one line
        outbox.put(("error", f"ASR model {info.path} failed to load ({type(exc).__name__}: {exc}): reinstall it or set model_path"))
        return
    outbox.put(("ready", os.getpid()))
    parent = mp.parent_process()
    last_status = last_trim = 0.0
    while parent is None or parent.is_alive():
        accepted = 0
        for msg in _drain(inbox, block=not engine.has_pending()):
            if msg[0] == "stop":
                return
            if msg[0] == "audio":
                engine.accept(msg[1])
                accepted += 1
            elif msg[0] == "degrade":
                engine.set_degraded(msg[1], msg[2])
            elif msg[0] == "finish":
                engine.end_stream(msg[1])
                while engine.has_pending(msg[1]):
                    outbox.put(("evidence", engine.step(msg[1])))
                outbox.put(("status", {msg[1]: engine.status(msg[1])}))
                outbox.put(("finished", msg[1]))
                engine.forget(msg[1])  # the parent has its last status: a worker running for days keeps no ended stream
        if accepted:  # before the pass: what waits now, and that it left the inbox
            outbox.put(("accepted", accepted, _statuses(engine)))
        evidence = engine.step()
        if evidence:
            outbox.put(("evidence", evidence))
            last_trim = trim_when_due(last_trim, now=time.monotonic())
        if evidence or time.monotonic() - last_status > _STATUS_EVERY_S:
            last_status = time.monotonic()
            outbox.put(("status", _statuses(engine)))


def _statuses(engine: AsrEngine) -> dict[str, AsrStatus]:
    return {sid: engine.status(sid) for sid in engine.stream_ids()}


def _drain(inbox: Any, *, block: bool, limit: int = 500) -> list[tuple[Any, ...]]:
    """Every message waiting (waits up to 0.5 s for the first one when ``block``)."""
    msgs: list[tuple[Any, ...]] = []
    try:
        msgs.append(inbox.get(timeout=0.5) if block else inbox.get_nowait())
        while len(msgs) < limit:
            msgs.append(inbox.get_nowait())
    except queue.Empty:
        pass
    return msgs
