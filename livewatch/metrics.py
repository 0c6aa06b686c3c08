"""Prometheus metrics, liveness and readiness for a livewatch process.

Everything lives in one :class:`Metrics` object with its own
``CollectorRegistry`` (never prometheus_client's global one), so two workers in
one test process, or a test and the worker it checks, do not share counters.

Per stream (label ``stream_id``): lag behind live, frames sampled / skipped
(near-duplicates and off-grid frames not decoded) / dropped (a full queue),
OCR and ASR latency histograms, alerts raised. Per process: CPU seconds and
RSS of this process (the standard ``process_*`` metrics) and of its helper
processes (ASR workers), the depth of every queue the worker registers, and
any figure registered with ``watch`` (snapshots not written, alert store
writable, alerts held in memory, worker processes died and replaced: see
``livewatch.health``).

    metrics = Metrics()
    metrics.stream_lag.labels(stream_id="shop-1").set(2.5)
    with MetricsServer(metrics.registry, port=DEFAULT_METRICS_PORT, ready=lambda: worker.ready):
        ...

``MetricsServer`` serves ``/metrics`` (Prometheus text format), ``/healthz``
(liveness: the process answers) and ``/readyz`` (readiness: the ``ready``
callable says yes, e.g. joined the group and caught up). None of them needs
auth, so bind it to an internal interface.
"""

from __future__ import annotations

import logging
import os
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterator, Literal, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from events import ConfigError

log = logging.getLogger(__name__)

DEFAULT_METRICS_PORT = 9464
METRICS_PATH, LIVENESS_PATH, READINESS_PATH = "/metrics", "/healthz", "/readyz"
NAMESPACE = "livewatch"

# Seconds. OCR on a 1280x720 frame costs ~0.3-0.6 s on 2 CPU cores; ASR chunks 1-2.5 s.
OCR_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0)

Reading = float | Mapping[str, float] | Mapping[tuple[str, ...], float]
"""What a watched figure reads: one number, or one per label value (per tuple of values with several labels)."""

_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def read_proc_usage(pid: int, proc: Path = Path("/proc")) -> tuple[float, int] | None:
    """(CPU seconds user+system, RSS bytes) of a Linux process, or None if it is gone."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
        statm = (proc / str(pid) / "statm").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may hold spaces
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / _CLK_TCK, int(statm.split()[1]) * _PAGE_SIZE


class _ScrapeTimeCollector(Collector):
    """Values read when Prometheus scrapes: queue depths and helper processes' CPU and RSS."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, Callable[[], int]] = {}
        self._children: Callable[[], dict[str, int]] = dict
        self._values: dict[str, tuple[str, str, tuple[str, ...], Callable[[], Reading]]] = {}

    def watch_queue(self, name: str, depth: Callable[[], int]) -> None:
        with self._lock:
            self._queues[name] = depth

    def forget_queue(self, name: str) -> None:
        with self._lock:
            self._queues.pop(name, None)

    def watch_children(self, pids: Callable[[], dict[str, int]]) -> None:
        with self._lock:
            self._children = pids

    def watch(self, name: str, help_text: str, kind: str, labels: tuple[str, ...], read: Callable[[], Reading]) -> None:
        with self._lock:
            self._values[name] = (help_text, kind, labels, read)

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        with self._lock:
            queues, children, values = dict(self._queues), self._children, dict(self._values)
        yield from _watched(values)
        depth = GaugeMetricFamily(f"{NAMESPACE}_queue_depth", "Items waiting in a worker queue.", labels=["queue"])
        for name, sizer in sorted(queues.items()):
            try:
                depth.add_metric([name], float(sizer()))
            except Exception:  # a queue that went away must not break the scrape
                log.debug("queue depth unavailable", extra={"queue": name})
        yield depth
        cpu = CounterMetricFamily(
            f"{NAMESPACE}_helper_cpu_seconds", "CPU time of a helper process (ASR worker, ...).", labels=["process"]
        )
        rss = GaugeMetricFamily(f"{NAMESPACE}_helper_rss_bytes", "Resident memory of a helper process.", labels=["process"])
        for name, pid in sorted(children().items()):
            usage = read_proc_usage(pid)
            if usage is not None:
                cpu.add_metric([name], usage[0])
                rss.add_metric([name], float(usage[1]))
        yield cpu
        yield rss


def _watched(values: Mapping[str, tuple[str, str, tuple[str, ...], Callable[[], Reading]]]
             ) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
    for name, (help_text, kind, labels, read) in sorted(values.items()):
        family_type = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
        family = family_type(f"{NAMESPACE}_{name}", help_text, labels=list(labels) or None)
        try:
            value = read()
        except Exception:  # what it watches went away: the scrape still works
            log.debug("metric unavailable", extra={"metric": name})
            continue
        if isinstance(value, Mapping):
            for key, v in sorted(value.items()):
                family.add_metric([key] if isinstance(key, str) else list(key), float(v))
        else:
            family.add_metric([], float(value))
        yield family


class Metrics:
    """The metrics of one livewatch process, in their own registry."""

    def __init__(self, registry: CollectorRegistry | None = None, *, process: bool = True) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r, ns, sid = self.registry, NAMESPACE, ["stream_id"]
        self.stream_lag = Gauge("stream_lag_seconds", "How far behind live the stream is processed.", sid, namespace=ns, registry=r)
        self.frames_sampled = Counter("frames_sampled", "Frames sampled for analysis.", sid, namespace=ns, registry=r)
        self.frames_skipped = Counter(
            "frames_skipped", "Frames not analysed: near-duplicates or off the sampling grid.", sid, namespace=ns, registry=r
        )
        self.frames_dropped = Counter("frames_dropped", "Sampled frames dropped because a queue was full.", sid, namespace=ns, registry=r)
        self.ocr_latency = Histogram("ocr_latency_seconds", "OCR time per frame.", sid, namespace=ns, registry=r, buckets=OCR_BUCKETS)
        self.alerts = Counter("alerts", "Alerts raised.", ["stream_id", "severity"], namespace=ns, registry=r)
        self.streams_watched = Gauge("streams_watched", "Streams this worker watches now.", namespace=ns, registry=r)
        self._scrape_time = _ScrapeTimeCollector()
        r.register(self._scrape_time)
        if process:
            ProcessCollector(registry=r)  # process_cpu_seconds_total, process_resident_memory_bytes, ...

    def watch_queue(self, name: str, depth: Callable[[], int]) -> None:
        """Report ``depth()`` as ``livewatch_queue_depth{queue=name}`` at every scrape."""
        self._scrape_time.watch_queue(name, depth)

    def forget_queue(self, name: str) -> None:
        self._scrape_time.forget_queue(name)

    def watch_children(self, pids: Callable[[], dict[str, int]]) -> None:
        """Report CPU and RSS of helper processes, ``pids() -> {name: pid}``, at every scrape."""
        self._scrape_time.watch_children(pids)

    def watch(self, name: str, help_text: str, read: Callable[[], Reading], *,
              kind: Literal["counter", "gauge"] = "gauge", label: str | tuple[str, ...] | None = None) -> None:
        """Report ``read()`` as ``livewatch_<name>`` at every scrape (a counter gets ``_total``).

        With ``label``, ``read()`` returns ``{label value: number}``, one series each; with
        several labels, ``{(value, value, ...): number}``.
        """
        labels = (label,) if isinstance(label, str) else tuple(label or ())
        self._scrape_time.watch(name, help_text, kind, labels, read)

    def forget_stream(self, stream_id: str) -> None:
        """Drop a stream's series once this worker stops watching it (it may move to another worker)."""
        for metric in (self.stream_lag, self.frames_sampled, self.frames_skipped, self.frames_dropped,
                       self.ocr_latency, self.alerts):
            metric.remove_by_labels({"stream_id": stream_id})

    def render(self) -> bytes:
        """The Prometheus text exposition of everything (what /metrics serves)."""
        return generate_latest(self.registry)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        path = self.path.split("?", 1)[0]
        if path == METRICS_PATH:
            self._reply(HTTPStatus.OK, generate_latest(self.server.registry), CONTENT_TYPE_LATEST)
        elif path == LIVENESS_PATH:
            self._reply(HTTPStatus.OK, b"ok\n")
        elif path == READINESS_PATH:
            ready = self.server.is_ready()
            self._reply(HTTPStatus.OK if ready else HTTPStatus.SERVICE_UNAVAILABLE, b"ready\n" if ready else b"not ready\n")
        else:
            self._reply(HTTPStatus.NOT_FOUND, b"not found: try /metrics, /healthz or /readyz\n")

    def _reply(self, status: HTTPStatus, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - scrapes are not news
        log.debug("metrics request: " + format, *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], registry: CollectorRegistry, ready: Callable[[], bool]) -> None:
        super().__init__(address, _Handler)
        self.registry = registry
        self._ready = ready

    def is_ready(self) -> bool:
        try:
            return bool(self._ready())
        except Exception:
            log.exception("readiness check failed")
            return False


class MetricsServer:
    """``/metrics``, ``/healthz`` and ``/readyz`` over HTTP in a background thread.

    ``port=0`` picks a free port (see ``.port`` after ``start()``). The default
    host is loopback; containers pass ``host="0.0.0.0"`` so Prometheus can reach it.
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        port: int = DEFAULT_METRICS_PORT,
        *,
        host: str = "127.0.0.1",
        ready: Callable[[], bool] = lambda: True,
    ) -> None:
        self.registry = registry
        self.host = host
        self.port = port
        self._ready = ready
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> MetricsServer:
        try:
            self._server = _Server((self.host, self.port), self.registry, self._ready)
        except OSError as exc:
            raise ConfigError(
                f"cannot serve metrics on {self.host}:{self.port}: {exc.strerror}; set LIVEWATCH_METRICS_PORT to a free port"
            ) from None
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics-http", daemon=True)
        self._thread.start()
        log.info("metrics endpoint listening", extra={"url": self.url})
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> MetricsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
