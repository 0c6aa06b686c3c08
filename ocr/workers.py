"""OCR engines in worker processes that are replaced before they grow.

CPU PaddleOCR keeps growing over hours of frames (PaddleOCR issues 12150,
11639, 15631), so a 24-hour stream would end with gigabytes of resident
memory. Its oneDNN kernel cache is kept to one input shape
(``ocr/paddle_engine.py``); what is left is malloc keeping the blocks that
reads of ever new sizes freed: a worker hands them back after a read at most
every 30 s (``events.malloc.trim_when_due``; after every read it cost 30-40%
more CPU per frame), and recycling bounds whatever a trim cannot give back.
Each engine lives in its own spawned process; after
``recycle_after_frames`` reads or above ``recycle_above_mb`` resident MB a
fresh one is started in the background while the old one keeps reading, and
the old one is stopped once its successor is ready (make before break: a
worker usually runs one OCR process, and loading PaddleOCR takes seconds in
which every stream's frames would wait and the scheduler would degrade them
all). A worker that dies or hangs is replaced too (there is nothing left to
read with meanwhile) and the frame it held counts as failed. Both ends of a
replacement are logged (the worker is down or recycled; its successor is
ready, after how long) and counted in ``PoolStats`` (``died``, ``replaced``,
``gap_s_last``, ``gap_s_total``).

``workers=0`` runs the engine in the calling process behind a lock: the same
calls, no processes (tests with fake engines, quick scans).

A worker answers two messages: ``("detect", images)`` with each image's line
quads, and ``("recognize", crops)`` with each crop's (text, score). Crops are cut
by the caller, so only the lines that need reading cross the pipe, not frames.
One detection request is one frame for recycling, and the recycling limits are
checked after it (not after recognition, so a frame's two requests may land on
two workers but a worker is never replaced twice for one frame).
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import queue
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnContext
from typing import Any, Callable, cast

import numpy as np

from events import ConfigError, LivewatchError
from events.malloc import trim_when_due
from ocr.engine import Engine, resolve_model
from ocr.options import OcrOptions

log = logging.getLogger(__name__)

EngineFactory = Callable[[OcrOptions], Engine]
_READ_TIMEOUT_S = 120.0


def load_engine(options: OcrOptions) -> Engine:
    """Load the chosen engine with its weights (seconds: do it once per process)."""
    model = resolve_model(options)
    if options.engine == "rapid":
        from ocr.rapid_engine import RapidEngine

        return RapidEngine(model, options)
    from ocr.paddle_engine import PaddleEngine

    return PaddleEngine(model, options)


@dataclass(frozen=True)
class PoolStats:
    """What the pool has done so far (for stream status, metrics and benches).

    ``frames`` counts detection requests (one per frame read, of one or more images) and
    ``recognitions`` recognition requests. ``recycled`` counts every replacement that became
    ready (planned or not); ``died`` the workers that died, hung or failed, ``replaced`` those
    of them whose successor is ready, and ``gap_s_*`` how long such a slot went without a
    worker (detection to ready).
    """

    frames: int
    recognitions: int
    failures: int
    recycled: int
    workers: int
    rss_mb: tuple[float, ...]
    pids: tuple[int, ...]
    died: int = 0
    replaced: int = 0
    gap_s_last: float | None = None
    gap_s_total: float = 0.0


class WorkerPool:
    """``detect(images)`` and ``recognize(crops)`` on whichever OCR worker is free; block while all are busy."""

    def __init__(self, options: OcrOptions, engine_factory: EngineFactory | None = None) -> None:
        self._opts = options
        self._factory = engine_factory or load_engine
        self._lock = threading.Lock()
        self._frames = self._recognitions = self._failures = self._recycled = 0
        self._died = self._replaced = 0
        self._gap_s_last: float | None = None
        self._gap_s_total = 0.0
        self._closed = False
        self._inline: Engine | None = None
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: list[_Worker] = []
        self._retired: list[_Worker] = []  # recycled, successor ready, not stopped yet (busy or idle)
        if options.workers == 0:
            self._inline = self._factory(options)
            return
        ctx = mp.get_context("spawn")
        self._ctx = ctx
        started = [_Worker(ctx, options, self._factory, i) for i in range(options.workers)]
        try:
            for w in started:
                w.wait_ready(options.start_timeout_s)
        except BaseException:
            for w in started:
                w.stop()
            raise
        for w in started:
            self._all.append(w)
            self._idle.put(w)

    def detect(self, images: list[np.ndarray]) -> list[list[np.ndarray]]:
        """Line quads of each image (one frame, or the changed areas of one frame)."""
        return cast(list[list[np.ndarray]], self._call("detect", images))

    def recognize(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        """(text, score) of each line crop, recognised in one batch."""
        return cast(list[tuple[str, float]], self._call("recognize", crops))

    def _call(self, kind: str, payload: list[np.ndarray]) -> object:
        counter = "_frames" if kind == "detect" else "_recognitions"
        if self._inline is not None:
            with self._lock:
                setattr(self, counter, getattr(self, counter) + 1)
                return _run(self._inline, kind, payload)
        worker = self._take()
        try:
            result = worker.call(kind, payload)
        except LivewatchError as exc:
            with self._lock:
                self._failures += 1
                self._died += 1
            if worker.retiring:  # its successor is already on its way
                worker.stop()
            else:
                self._replace(worker, reason=str(exc), died=True)
            raise
        with self._lock:
            setattr(self, counter, getattr(self, counter) + 1)
        if (kind == "detect" and not worker.retiring
                and (worker.frames >= self._opts.recycle_after_frames or worker.rss_mb >= self._opts.recycle_above_mb)):
            worker.retiring = True
            self._replace(worker, reason=f"recycled after {worker.frames} frames at {worker.rss_mb:.0f} MB")
        if worker.retired:
            self._stop_retired(worker)
        else:
            self._idle.put(worker)
        return result

    def _take(self) -> _Worker:
        """An idle worker; one whose successor became ready while it waited idle is stopped on the way."""
        while True:
            worker = self._idle.get()
            if not worker.retired:
                return worker
            self._stop_retired(worker)

    def _stop_retired(self, worker: _Worker) -> None:
        with self._lock:
            if worker not in self._retired:
                return
            self._retired.remove(worker)
        worker.stop()

    def stats(self) -> PoolStats:
        with self._lock:
            workers = list(self._all)
            retired = [w.pid for w in self._retired]
            return PoolStats(
                frames=self._frames,
                recognitions=self._recognitions,
                failures=self._failures,
                recycled=self._recycled,
                workers=len(workers) if self._inline is None else 0,
                rss_mb=tuple(round(w.rss_mb, 1) for w in workers),
                pids=tuple(w.pid for w in workers) + tuple(retired),  # a recycled worker reads on until stopped
                died=self._died,
                replaced=self._replaced,
                gap_s_last=self._gap_s_last,
                gap_s_total=round(self._gap_s_total, 3),
            )

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers, self._all = list(self._all) + self._retired, []
            self._retired = []
        for w in workers:
            w.stop()

    def _replace(self, old: _Worker, reason: str, died: bool = False) -> None:
        """Start the successor of ``old`` in the background. A dead ``old`` is stopped first (readers use the
        other workers, or wait); a recycled one keeps reading until its successor is ready."""
        threading.Thread(target=self._respawn, args=(old, reason, died, time.monotonic()),
                         name=f"ocr-respawn-{old.index}", daemon=True).start()

    def _respawn(self, old: _Worker, reason: str, died: bool, down_at: float) -> None:
        if died:
            log.warning("OCR worker %d (pid %d) down: %s; starting a replacement, the other workers keep reading",
                        old.index, old.pid, reason)
            old.stop()
        else:
            log.info("OCR worker %d (pid %d) %s; it reads on while its successor starts", old.index, old.pid, reason)
        new = self._start(old.index)
        with self._lock:
            if new is None or self._closed:
                if new is not None:
                    new.stop()
                return
            self._all = [new if w is old else w for w in self._all]
            self._recycled += 1
            gap = time.monotonic() - down_at
            if died:
                self._replaced += 1
                self._gap_s_last = round(gap, 3)
                self._gap_s_total += gap
            else:
                old.retired = True  # stopped by whoever next holds it: now, if it is idle
                self._retired.append(old)
        self._idle.put(new)
        log.info("OCR worker %d replacement ready (pid %d) after %.1fs%s", old.index, new.pid, gap,
                 " without it" if died else "", extra={"gap_s": round(gap, 3)})

    def _start(self, index: int) -> _Worker | None:
        """A new worker, ready; retried with back-off while it fails to load; None once the pool is closed."""
        delay = 1.0
        while True:
            with self._lock:
                if self._closed:
                    return None
            new = _Worker(self._ctx, self._opts, self._factory, index)
            try:
                new.wait_ready(self._opts.start_timeout_s)
                return new
            except LivewatchError as exc:
                new.stop()
                log.error("OCR worker %d failed to start, retrying in %.0f s: %s", index, delay, exc)
                time.sleep(delay)
                delay = min(delay * 2, 60.0)


class _Worker:
    """One spawned process holding a loaded engine, spoken to over a pipe."""

    def __init__(self, ctx: SpawnContext, options: OcrOptions, factory: EngineFactory, index: int) -> None:
        self.index = index
        self.frames = 0
        self.rss_mb = 0.0
        self.retiring = False  # due for recycling: its successor is starting
        self.retired = False  # its successor is ready: stop it instead of handing it out
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(
            target=_serve, args=(child, options, factory), name=f"livewatch-ocr-{index}", daemon=True
        )
        self._proc.start()
        self.pid: int = self._proc.pid or 0  # set once start() returns
        child.close()

    def wait_ready(self, timeout: float) -> None:
        reply = self._recv(timeout, "start")
        if reply[0] == "error":
            kind = ConfigError if reply[1] == "ConfigError" else LivewatchError
            raise kind(reply[2])
        self.rss_mb = reply[1]

    def call(self, kind: str, payload: list[np.ndarray]) -> object:
        try:
            self._conn.send((kind, payload))
        except (BrokenPipeError, OSError):
            raise LivewatchError(f"OCR worker {self.index} is gone: it is being restarted") from None
        reply = self._recv(_READ_TIMEOUT_S, kind)
        if reply[0] == "fail":
            raise LivewatchError(f"OCR worker {self.index} could not {kind}: {reply[1]}")
        _, result, rss = reply
        self.frames += kind == "detect"
        self.rss_mb = rss
        return result

    def _recv(self, timeout: float, what: str) -> tuple[Any, ...]:
        try:
            if self._conn.poll(timeout):
                reply: tuple[Any, ...] = self._conn.recv()
                return reply
        except (EOFError, OSError):
            pass
        code = self._proc.exitcode
        self.stop()
        raise LivewatchError(
            f"OCR worker {self.index} died or hung during {what} (exit code {code}): "
            "see the log above; it is restarted, and a lasting failure means the OCR install is broken"
        )

    def stop(self) -> None:
        try:
            self._conn.send(None)
        except (BrokenPipeError, OSError):
            pass
        self._proc.join(5)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(5)
        self._conn.close()


def _serve(conn: Connection, options: OcrOptions, factory: EngineFactory) -> None:
    """Worker process main loop: load the engine, then answer requests until told to stop.

    Engines print progress to stdout (paddlex, also from C++); the parent's
    stdout may be a data channel (``python -m bench`` reads JSON from it), so
    the worker's stdout is pointed at stderr first.
    """
    import os
    import sys

    import psutil

    sys.stdout.flush()
    os.dup2(2, 1)

    me = psutil.Process()
    try:
        engine = factory(options)
    except ConfigError as exc:
        conn.send(("error", "ConfigError", str(exc)))
        return
    except Exception as exc:  # noqa: BLE001 - reported to the parent as one line
        conn.send(("error", "LivewatchError", f"OCR engine {options.engine!r} failed to load: {exc}"))
        return
    conn.send(("ready", me.memory_info().rss / 2**20))
    last_trim = time.monotonic()
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        try:
            result = _run(engine, *message)
        except Exception as exc:  # noqa: BLE001 - one bad frame must not kill the worker
            conn.send(("fail", repr(exc)[:300]))
            continue
        conn.send(("ok", result, me.memory_info().rss / 2**20))
        last_trim = trim_when_due(last_trim, now=time.monotonic())  # after the reply: the caller does not wait for it


def _run(engine: Engine, kind: str, payload: list[np.ndarray]) -> object:
    """One request on a loaded engine: quads per image, or (text, score) per crop."""
    if kind == "detect":
        return [[np.asarray(q, dtype=np.float32).reshape(4, 2) for q in engine.detect(image)] for image in payload]
    if kind == "recognize":
        return [(str(text), float(score)) for text, score in engine.recognize(payload)] if payload else []
    raise ValueError(f"unknown OCR request {kind!r}")
