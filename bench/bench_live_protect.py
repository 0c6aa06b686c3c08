"""How soon a re-broadcast of a show protected while live is alerted, from the copy going on air.

Issue 13 promised the alert within 15 s. Real parts: nginx-rtmp serves show A (a looped
synthetic programme) and its copies; one real ``livewatch worker`` (fingerprints only: the
figure is about the live index, not the models) on the embedded broker watches A, which
``livewatch protect`` protects. Then, one after another, each copy goes on air re-publishing A
as it plays, is handed over with ``livewatch streams add`` and, once alerted, removed.

Per copy, two times from nginx reporting it publishing: until the worker's /metrics show it
watched (the hand-over alone: the CLI, the stream topic, the worker opening the RTMP URL) and
until its ``piracy.rebroadcast_live`` alert, naming A, is read on the alert topic. The
hand-over is the baseline: the ratio says how much matching adds to what any stream pays.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.figures import figure
from events.kafka import KafkaOptions
from livewatch.broker import EmbeddedBroker, free_port
from tests.conftest import kafka_env, read_topic
from tests.distributed.cluster import Service, livewatch_cli
from tests.live_server import LiveServer
from tests.live_show import AlertWatch, render_show
from tests.waiting import wait_until

COPIES = 3
LIVE_RULE = "piracy.rebroadcast_live"
ALERT_TIMEOUT_S = 90.0


def _time_one_copy(server: LiveServer, kafka: KafkaOptions, worker: Service, watch: AlertWatch,
                   copy: str) -> tuple[float, float]:
    """``copy`` re-publishing show A: seconds from it going on air until watched and until alerted; then removed."""
    relay = server.relay("showA", copy)
    relay.wait_publishing()
    started = time.monotonic()
    livewatch_cli(kafka, "streams", "add", copy, server.rtmp_url(copy))
    wait_until(lambda: copy in worker.watched(), 60, f"{copy} to be watched")
    handover_s = time.monotonic() - started
    alert, arrived = watch.first(copy, LIVE_RULE, ALERT_TIMEOUT_S)
    if alert is None or "live:showA" not in alert["title"]:
        raise RuntimeError(f"bench_live_protect: no {LIVE_RULE} alert naming showA for {copy}:\n{worker.log_tail()}")
    livewatch_cli(kafka, "streams", "remove", copy)
    relay.stop()
    return handover_s, arrived - started


def run() -> list[dict]:
    handovers: list[float] = []
    alerts: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker() as broker, LiveServer() as server:
        work = Path(tmp)
        kafka = broker.kafka_options()
        show = render_show(work)
        port = free_port()
        worker = Service("worker", [sys.executable, "-m", "livewatch", "--data-dir", str(work / "data"),
                                    "--no-asr", "--no-ocr", "--no-logos", "worker", "--metrics-port", str(port)],
                         work / "worker.log", port, env=kafka_env(kafka))
        watch = AlertWatch(kafka)
        try:
            server.push(show, "showA").wait_publishing()
            wait_until(lambda: worker.ready, 120, lambda: f"the worker to be ready:\n{worker.log_tail()}")
            livewatch_cli(kafka, "streams", "add", "showA", server.rtmp_url("showA"))
            wait_until(lambda: "showA" in worker.watched(), 60, "showA to be watched")
            livewatch_cli(kafka, "protect", "showA")
            wait_until(lambda: read_topic(kafka.bootstrap_servers or "", kafka.topics.live_fingerprints, timeout_s=2.0),
                       60, "showA's fingerprints on their topic")
            for copy in (f"copy{i}" for i in range(COPIES)):
                handover_s, alert_s = _time_one_copy(server, kafka, worker, watch, copy)
                handovers.append(handover_s)
                alerts.append(alert_s)
        finally:
            watch.close()
            worker.terminate(60)
            worker.close()
    notes = (f"{COPIES} copies one after another, median; each {', '.join(f'{a:.1f}' for a in alerts)} s; "
             "1 worker (fingerprints only), Tansu, nginx-rtmp; issue 13's bound is 15 s")
    return [figure("re-broadcast of a live-protected show: alert after the copy goes on air", statistics.median(alerts),
                   "s", "the copy watched (hand-over alone)", statistics.median(handovers), notes)]


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=1))
