"""A show protected while it is live, and a watch on the alert topic: shared by the e2e test and ``bench_live_protect``."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from events.kafka import KafkaOptions, ensure_topics
from tests.fingerprint.fp_media import SIZE, programme_frame, write_video
from tests.live_server import FFMPEG


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
