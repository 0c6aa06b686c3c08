"""A show protected while it is live, and a watch on the alert topic: shared by the e2e test and ``bench_live_protect``."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from events.kafka import KafkaOptions, ensure_topics
from livewatch.broker import free_port
from tests.conftest import kafka_env, read_topic
from tests.distributed.cluster import Service, livewatch_cli
from tests.fingerprint.fp_media import SIZE, programme_frame, write_video
from tests.live_server import FFMPEG, LiveServer, Pusher
from tests.waiting import wait_until

SHOW = "showA"
LIVE_RULE = "piracy.rebroadcast_live"  # the rule that names a show protected while live


def render_show(folder: Path) -> Path:
    """90 s of a programme at 10 fps with a keyframe every second, and a sound track (a pusher loops it)."""
    picture = write_video(folder / "picture.mp4", (programme_frame(i / 10, 4) for i in range(90 * 10)), SIZE, gop=10)
    path = folder / "show.mp4"
    subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-i", str(picture), "-f", "lavfi", "-i",
                    "sine=frequency=330:sample_rate=44100", "-shortest", "-c:v", "copy", "-c:a", "aac", str(path)],
                   check=True, timeout=120)
    return path


class AlertWatch:
    """A consumer on the alert topic from its beginning (confluent-kafka, not the client livewatch uses),
    polled until an alert of a stream arrives."""

    def __init__(self, kafka: KafkaOptions) -> None:
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

        topic = kafka.topics.alerts
        ensure_topics(kafka, [topic], partitions=1)  # as the worker's publisher does
        self.consumer = Consumer({"bootstrap.servers": kafka.bootstrap_servers, "enable.auto.commit": False,
                                  "group.id": f"alert-watch-{time.monotonic_ns()}"})
        partitions = sorted(self.consumer.list_topics(topic, timeout=10).topics[topic].partitions)
        self.consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        self.seen: list[dict] = []

    def first(self, stream_id: str, rule_id: str, timeout_s: float) -> tuple[dict | None, float]:
        """The first alert of ``stream_id`` by ``rule_id`` and the monotonic time it was read."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            msg = self.consumer.poll(0.1)
            if msg is None or msg.error():
                continue
            alert = json.loads(msg.value())
            self.seen.append(alert)
            if alert["stream_id"] == stream_id and alert["rule_id"] == rule_id:
                return alert, time.monotonic()
        return None, time.monotonic()

    def close(self) -> None:
        self.consumer.close()


@dataclass(frozen=True)
class ProtectedShow:
    """Show A on air, watched by ``worker`` and protected while live; ``watch`` reads alerts from the start."""

    server: LiveServer
    kafka: KafkaOptions
    worker: Service
    watch: AlertWatch

    def copy_on_air(self, copy: str) -> tuple[Pusher, float]:
        """``copy`` re-publishing show A as it plays, handed to the workers once nginx reports it
        publishing (as a platform would): its pusher and the monotonic time it went on air."""
        relay = self.server.relay(SHOW, copy)
        relay.wait_publishing()
        on_air = time.monotonic()
        livewatch_cli(self.kafka, "streams", "add", copy, self.server.rtmp_url(copy))
        return relay, on_air


@contextmanager
def protected_live_show(server: LiveServer, kafka: KafkaOptions, folder: Path) -> Iterator[ProtectedShow]:
    """Show A pushed to ``server``, one real ``livewatch worker`` (fingerprints only: this is about
    the live index, not the models) watching it, ``livewatch protect`` run and A's fingerprints
    seen on their topic; the worker is stopped on the way out."""
    port = free_port()
    worker = Service("worker", [sys.executable, "-m", "livewatch", "--data-dir", str(folder / "data"),
                                "--no-asr", "--no-ocr", "--no-logos", "worker", "--metrics-port", str(port)],
                     folder / "worker.log", port, env=kafka_env(kafka))
    watch = None
    try:
        server.push(render_show(folder), SHOW).wait_publishing()
        wait_until(lambda: worker.ready, 120, lambda: f"the worker to be ready:\n{worker.log_tail()}")
        livewatch_cli(kafka, "streams", "add", SHOW, server.rtmp_url(SHOW))
        wait_until(lambda: SHOW in worker.watched(), 60, lambda: f"{SHOW} to be watched:\n{worker.log_tail()}")
        protected = livewatch_cli(kafka, "protect", SHOW)
        if f"{SHOW}: protected while live" not in protected:
            raise AssertionError(f"livewatch protect {SHOW} said: {protected!r}")
        wait_until(lambda: read_topic(kafka.bootstrap_servers or "", kafka.topics.live_fingerprints, timeout_s=2.0), 60,
                   lambda: f"{SHOW}'s fingerprints on {kafka.topics.live_fingerprints}:\n{worker.log_tail()}")
        watch = AlertWatch(kafka)
        yield ProtectedShow(server, kafka, worker, watch)
    finally:
        if watch is not None:
            watch.close()
        worker.terminate(60)
        worker.close()
