"""How long streams go unwatched when a worker leaves the group: crash vs graceful stop.

Real ``livewatch worker`` processes on the embedded broker share six looped
streams (detectors off: the figures are about the group, not the models).
Measured from the signal until the survivor's own /metrics show all six
streams read live again:

- SIGKILL (a crash): the group waits for the dead member's session to time out
  (the embedded broker's ``session_timeout_ms``, 6 s; Kafka's default is 45 s)
  before the survivor gets its partitions;
- SIGTERM (graceful): the worker stops its streams and leaves the group at
  once, so the hand-over should not wait for the session timeout. Its own time
  to exit (drain, flush, leave) is a figure too.
"""

from __future__ import annotations

import signal
import sys
import tempfile
import time
from pathlib import Path

from bench.figures import figure
from events.kafka import KafkaOptions
from livewatch.assignment import StreamControl
from livewatch.broker import EmbeddedBroker, free_port
from tests.conftest import kafka_env
from tests.distributed.cluster import Service
from tests.media import make_clip

STREAMS = 6
TIMEOUT_S = 120.0


def _worker(name: str, kafka: KafkaOptions, work: Path) -> Service:
    port = free_port()
    argv = [sys.executable, "-m", "livewatch", "--data-dir", str(work / name),
            "--no-asr", "--no-ocr", "--no-logos", "worker", "--loop", "--group", "bench-workers",
            "--metrics-port", str(port)]
    return Service(name, argv, work / f"{name}.log", port, env=kafka_env(kafka))


def _wait(condition, what: str) -> float:
    """Seconds until ``condition()`` holds (polled every 0.1 s)."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > TIMEOUT_S:
            raise TimeoutError(f"bench_distributed: timed out waiting for {what}")
        time.sleep(0.1)
    return time.monotonic() - start


def run() -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker() as broker:
        work = Path(tmp)
        clip = make_clip(work / "clip.mp4", 4, text_cards=[(0, 4, "直播间")], with_audio=False, size=(640, 360))
        ids = {f"shop{i}" for i in range(STREAMS)}
        kafka = broker.kafka_options().with_topics(streams="bench.streams")
        workers = [_worker(name, kafka, work) for name in ("a", "b")]
        try:
            _wait(lambda: all(w.ready for w in workers), "two workers ready")
            with StreamControl(kafka) as control:
                for stream_id in sorted(ids):
                    control.add(stream_id, str(clip))
            _wait(lambda: workers[0].watched() | workers[1].watched() == ids, "six streams watched")
            victim, survivor = sorted(workers, key=lambda w: len(w.watched()), reverse=True)
            moved_on_kill = len(victim.watched())
            victim.kill()
            killed = _wait(lambda: survivor.watched() == ids, "take-over after SIGKILL")

            third = _worker("c", kafka, work)
            workers.append(third)
            _wait(lambda: third.watched(), "the new worker taking streams")
            _wait(lambda: third.watched() | survivor.watched() == ids and not third.watched() & survivor.watched(),
                  "rebalance settled")
            moved_on_term = len(third.watched())
            start = time.monotonic()
            third.proc.send_signal(signal.SIGTERM)
            graceful = _wait(lambda: survivor.watched() == ids, "take-over after SIGTERM")
            third.proc.wait(60)
            exit_s = time.monotonic() - start
        finally:
            for w in workers:
                w.close()
    session_s = (kafka.session_timeout_ms or 0) / 1000
    notes = f"Tansu, 2 workers, {STREAMS} looped 640x360 streams, detectors off; session timeout {session_s:g} s"
    return [
        figure("streams unwatched after SIGTERM (graceful leave)", graceful, "s", "after SIGKILL (session timeout)",
               killed, f"{notes}; {moved_on_term} stream(s) moved on SIGTERM, {moved_on_kill} on SIGKILL"),
        figure("worker exit after SIGTERM (drain, flush, leave)", exit_s, "s", "drain budget", 30.0, notes),
    ]


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=1))
