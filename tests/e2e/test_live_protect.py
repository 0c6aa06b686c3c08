"""End to end: a show protected while it is live, re-broadcast by another live stream (issue 13, item 4).

Two real live streams on nginx-rtmp: show A (a moving synthetic programme)
is watched by a real ``livewatch worker`` on a real broker and protected with
``livewatch protect``; then stream B starts, re-publishing A as it plays. The
alert for B must name A (content ``live:showA``); it is read from ``livewatch.alerts``
with confluent-kafka, not the client livewatch uses. A is never flagged for its own
show. The time from B going on air to the alert is printed, not asserted: the issue's
15 s bound is a speed figure, and a test on a loaded machine cannot judge it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from livewatch.broker import free_port
from tests.conftest import kafka_env, kafka_for, read_topic
from tests.distributed.cluster import Service, livewatch_cli
from tests.live_server import LiveServer
from tests.live_show import AlertWatch, render_show
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

LIVE_RULE = "piracy.rebroadcast_live"


@pytest.fixture(scope="module")
def show_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_show(tmp_path_factory.mktemp("live-protect"))


def test_a_live_show_rebroadcast_while_protected_is_caught_naming_the_source(
    show_clip: Path, fresh_kafka_broker, tmp_path: Path
) -> None:
    kafka = kafka_for(fresh_kafka_broker.bootstrap)
    port = free_port()
    worker = Service("worker", [sys.executable, "-m", "livewatch", "--data-dir", str(tmp_path / "data"),
                                "--no-asr", "--no-ocr", "--no-logos", "worker", "--metrics-port", str(port)],
                     tmp_path / "worker.log", port, env=kafka_env(kafka))
    watch = None
    try:
        with LiveServer() as server:
            server.push(show_clip, "showA").wait_publishing()
            wait_until(lambda: worker.ready, 120, lambda: f"the worker to be ready:\n{worker.log_tail()}")
            livewatch_cli(kafka, "streams", "add", "showA", server.rtmp_url("showA"))
            wait_until(lambda: "showA" in worker.watched(), 60, lambda: f"showA to be watched:\n{worker.log_tail()}")
            assert "showA: protected while live" in livewatch_cli(kafka, "protect", "showA")
            wait_until(lambda: read_topic(fresh_kafka_broker.bootstrap, kafka.topics.live_fingerprints, timeout_s=2.0), 60,
                       lambda: f"showA's fingerprints on {kafka.topics.live_fingerprints}:\n{worker.log_tail()}")
            watch = AlertWatch(kafka)

            server.relay("showA", "copyB").wait_publishing()  # B re-publishes A as it plays
            started = time.monotonic()  # B is on air: the platform hands it to the workers
            livewatch_cli(kafka, "streams", "add", "copyB", server.rtmp_url("copyB"))
            alert, arrived = watch.first("copyB", LIVE_RULE, timeout_s=60)
            assert alert is not None, f"no {LIVE_RULE} alert for copyB; seen {watch.seen}\n{worker.log_tail()}"
            elapsed = arrived - started
            print(f"alert for copyB {elapsed:.1f} s after it started: {alert['title']}")

            assert "live:showA" in alert["title"]
            assert [e["text"] for e in alert["evidence"]] == ["live:showA"]
            assert alert["category"] == "piracy" and alert["action"] == "takedown"
        own = [a for a in watch.seen if a["stream_id"] == "showA" and a["category"] == "piracy"]
        assert own == [], "the protected show was flagged for its own content"
    finally:
        if watch is not None:
            watch.close()
        worker.terminate(60)
        worker.close()
