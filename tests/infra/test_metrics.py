"""The metrics endpoint, scraped over real HTTP and parsed as Prometheus text."""

from __future__ import annotations

import os
import queue
import subprocess
import sys

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from events import ConfigError
from livewatch.metrics import Metrics, MetricsServer, read_proc_usage


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} from one GET /metrics."""
    response = httpx.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def test_scrape_shows_per_stream_lag_counters_latency_and_worker_figures() -> None:
    metrics = Metrics()
    vision_queue: queue.Queue[int] = queue.Queue()
    for item in range(3):
        vision_queue.put(item)
    metrics.watch_queue("vision", vision_queue.qsize)
    helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])  # a live child to weigh; killed below
    metrics.watch_children(lambda: {"asr-0": helper.pid, "gone": 2**22 + 1})
    for stream_id, lag in (("shop-1", 1.5), ("shop-2", 12.0)):
        metrics.stream_lag.labels(stream_id=stream_id).set(lag)
        metrics.frames_sampled.labels(stream_id=stream_id).inc(10)
        metrics.frames_skipped.labels(stream_id=stream_id).inc(7)
        metrics.ocr_latency.labels(stream_id=stream_id).observe(0.4)
    metrics.frames_dropped.labels(stream_id="shop-2").inc()
    metrics.alerts.labels(stream_id="shop-1", severity="high").inc(2)
    metrics.streams_watched.set(2)
    try:
        with MetricsServer(metrics.registry, port=0) as server:
            got = scrape(server.url)
    finally:
        helper.kill()
        helper.wait()

    assert got[("livewatch_stream_lag_seconds", (("stream_id", "shop-1"),))] == 1.5
    assert got[("livewatch_stream_lag_seconds", (("stream_id", "shop-2"),))] == 12.0
    assert got[("livewatch_frames_sampled_total", (("stream_id", "shop-1"),))] == 10
    assert got[("livewatch_frames_skipped_total", (("stream_id", "shop-2"),))] == 7
    assert got[("livewatch_frames_dropped_total", (("stream_id", "shop-2"),))] == 1
    assert got[("livewatch_ocr_latency_seconds_count", (("stream_id", "shop-1"),))] == 1
    assert got[("livewatch_ocr_latency_seconds_bucket", (("le", "0.5"), ("stream_id", "shop-1")))] == 1
    assert got[("livewatch_ocr_latency_seconds_bucket", (("le", "0.3"), ("stream_id", "shop-1")))] == 0
    assert got[("livewatch_alerts_total", (("severity", "high"), ("stream_id", "shop-1")))] == 2
    assert got[("livewatch_streams_watched", ())] == 2
    assert got[("livewatch_queue_depth", (("queue", "vision"),))] == 3
    assert got[("livewatch_helper_rss_bytes", (("process", "asr-0"),))] > 1_000_000
    assert ("livewatch_helper_cpu_seconds_total", (("process", "asr-0"),)) in got
    assert not any(labels == (("process", "gone"),) for _, labels in got)  # a dead helper is skipped
    assert got[("process_resident_memory_bytes", ())] > 1_000_000
    assert ("process_cpu_seconds_total", ()) in got


def test_forget_stream_drops_its_series_only() -> None:
    metrics = Metrics(process=False)
    for stream_id in ("moved", "kept"):
        metrics.stream_lag.labels(stream_id=stream_id).set(1)
        metrics.alerts.labels(stream_id=stream_id, severity="low").inc()
    metrics.forget_stream("moved")
    text = metrics.render().decode()
    assert 'stream_id="moved"' not in text and 'stream_id="kept"' in text


def test_health_and_readiness_endpoints() -> None:
    state = {"ready": False}

    def ready() -> bool:
        if state["ready"] is None:
            raise RuntimeError("probe broke")
        return state["ready"]

    with MetricsServer(Metrics(process=False).registry, port=0, ready=ready) as server:
        assert httpx.get(f"{server.url}/healthz").status_code == 200
        assert httpx.get(f"{server.url}/readyz").status_code == 503
        state["ready"] = True
        assert httpx.get(f"{server.url}/readyz").status_code == 200
        state["ready"] = None  # a failing probe means not ready, not a crash
        assert httpx.get(f"{server.url}/readyz").status_code == 503
        assert httpx.get(f"{server.url}/nope").status_code == 404


def test_two_servers_do_not_share_counters_and_a_busy_port_is_a_config_error() -> None:
    a, b = Metrics(process=False), Metrics(process=False)
    a.alerts.labels(stream_id="s", severity="high").inc()
    assert b"stream_id=\"s\"" not in b.render()
    with MetricsServer(a.registry, port=0) as first:
        with pytest.raises(ConfigError, match=f"127.0.0.1:{first.port}"):
            MetricsServer(b.registry, port=first.port).start()


def test_read_proc_usage_of_this_process() -> None:
    cpu, rss = read_proc_usage(os.getpid())
    assert cpu > 0 and rss > 1_000_000
    assert read_proc_usage(2**22 + 1) is None
