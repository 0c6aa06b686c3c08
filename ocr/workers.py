"""OCR engines in worker processes that are replaced before they grow.

CPU PaddleOCR keeps growing over hours of frames (PaddleOCR issues 12150,
11639, 15631), so a 24-hour stream would end with gigabytes of resident
memory. Each engine lives in its own spawned process; after
``recycle_after_frames`` reads or above ``recycle_above_mb`` resident MB the
process is stopped and a fresh one started in the background, while the
other workers keep reading. A worker that dies or hangs is replaced the same
way and the frame it held counts as failed. Both ends of a replacement are
logged (the worker is down; its successor is ready, after how long) and
counted in ``PoolStats`` (``died``, ``replaced``, ``gap_s_last``, ``gap_s_total``).

``workers=0`` runs the engine in the calling process behind a lock: the same
``read`` path, no processes (tests with fake engines, quick scans).
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import queue
import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from events import Box, ConfigError, LivewatchError
from ocr.engine import Engine, TextLine, resolve_model
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

    ``recycled`` counts every replacement that became ready (planned or not); ``died`` the
    workers that died, hung or failed, ``replaced`` those of them whose successor is ready,
    and ``gap_s_*`` how long such a slot went without a worker (detection to ready).
    """

    frames: int
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
    """``read(image)`` on whichever OCR worker is free; blocks while all are busy."""

    def __init__(self, options: OcrOptions, engine_factory: EngineFactory | None = None) -> None:
        self._opts = options
        self._factory = engine_factory or load_engine
        self._lock = threading.Lock()
        self._frames = self._failures = self._recycled = 0
        self._died = self._replaced = 0
        self._gap_s_last: float | None = None
        self._gap_s_total = 0.0
        self._closed = False
        self._inline: Engine | None = None
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: list[_Worker] = []
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

    def read(self, image: np.ndarray) -> list[TextLine]:
        if self._inline is not None:
            with self._lock:
                self._frames += 1
                return self._inline.read(image)
        worker = self._idle.get()
        try:
            lines = worker.read(image)
        except LivewatchError as exc:
            with self._lock:
                self._failures += 1
                self._died += 1
            self._replace(worker, reason=str(exc), died=True)
            raise
        with self._lock:
            self._frames += 1
        if worker.frames >= self._opts.recycle_after_frames or worker.rss_mb >= self._opts.recycle_above_mb:
            self._replace(worker, reason=f"recycled after {worker.frames} frames at {worker.rss_mb:.0f} MB")
        else:
            self._idle.put(worker)
        return lines

    def stats(self) -> PoolStats:
        with self._lock:
            workers = list(self._all)
            return PoolStats(
                frames=self._frames,
                failures=self._failures,
                recycled=self._recycled,
                workers=len(workers) if self._inline is None else 0,
                rss_mb=tuple(round(w.rss_mb, 1) for w in workers),
                pids=tuple(w.pid for w in workers),
                died=self._died,
                replaced=self._replaced,
                gap_s_last=self._gap_s_last,
                gap_s_total=round(self._gap_s_total, 3),
            )

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers, self._all = list(self._all), []
        for w in workers:
            w.stop()

    def _replace(self, old: _Worker, reason: str, died: bool = False) -> None:
        """Stop ``old`` and start its successor in the background; readers use the others meanwhile."""
        threading.Thread(target=self._respawn, args=(old, reason, died, time.monotonic()),
                         name=f"ocr-respawn-{old.index}", daemon=True).start()

    def _respawn(self, old: _Worker, reason: str, died: bool, down_at: float) -> None:
        if died:
            log.warning("OCR worker %d (pid %d) down: %s; starting a replacement, the other workers keep reading",
                        old.index, old.pid, reason)
        else:
            log.info("OCR worker %d (pid %d) %s", old.index, old.pid, reason)
        old.stop()
        delay = 1.0
        while True:
            with self._lock:
                if self._closed:
                    return
            new = _Worker(self._ctx, self._opts, self._factory, old.index)
            try:
                new.wait_ready(self._opts.start_timeout_s)
                break
            except LivewatchError as exc:
                new.stop()
                log.error("OCR worker %d failed to start, retrying in %.0f s: %s", old.index, delay, exc)
                time.sleep(delay)
                delay = min(delay * 2, 60.0)
        with self._lock:
            if self._closed:
                new.stop()
                return
            self._all = [new if w is old else w for w in self._all]
            self._recycled += 1
            gap = time.monotonic() - down_at
            if died:
                self._replaced += 1
                self._gap_s_last = round(gap, 3)
                self._gap_s_total += gap
        self._idle.put(new)
        log.info("OCR worker %d replacement ready (pid %d) after %.1fs%s", old.index, new.pid, gap,
                 " without it" if died else "", extra={"gap_s": round(gap, 3)})


class _Worker:
    """One spawned process holding a loaded engine, spoken to over a pipe."""

    def __init__(self, ctx, options: OcrOptions, factory: EngineFactory, index: int) -> None:
        self.index = index
        self.frames = 0
        self.rss_mb = 0.0
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(
            target=_serve, args=(child, options, factory), name=f"livewatch-ocr-{index}", daemon=True
        )
        self._proc.start()
        self.pid = self._proc.pid
        child.close()

    def wait_ready(self, timeout: float) -> None:
        reply = self._recv(timeout, "start")
        if reply[0] == "error":
            kind = ConfigError if reply[1] == "ConfigError" else LivewatchError
            raise kind(reply[2])
        self.rss_mb = reply[1]

    def read(self, image: np.ndarray) -> list[TextLine]:
        try:
            self._conn.send(image)
        except (BrokenPipeError, OSError):
            raise LivewatchError(f"OCR worker {self.index} is gone: it is being restarted") from None
        reply = self._recv(_READ_TIMEOUT_S, "read")
        if reply[0] == "fail":
            raise LivewatchError(f"OCR worker {self.index} could not read a frame: {reply[1]}")
        _, lines, rss = reply
        self.frames += 1
        self.rss_mb = rss
        return [TextLine(text, score, Box(*box)) for text, score, box in lines]

    def _recv(self, timeout: float, what: str):
        try:
            if self._conn.poll(timeout):
                return self._conn.recv()
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


def _serve(conn, options: OcrOptions, factory: EngineFactory) -> None:
    """Worker process main loop: load the engine, then read images until told to stop.

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
    while True:
        try:
            image = conn.recv()
        except (EOFError, OSError):
            return
        if image is None:
            return
        try:
            lines = engine.read(image)
        except Exception as exc:  # noqa: BLE001 - one bad frame must not kill the worker
            conn.send(("fail", repr(exc)[:300]))
            continue
        payload = [(ln.text, ln.score, ln.box.to_list()) for ln in lines]
        conn.send(("ok", payload, me.memory_info().rss / 2**20))
