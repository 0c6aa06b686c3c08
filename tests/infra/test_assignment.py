"""Stream assignment through a consumer group, on Tansu and on Apache Kafka.

Two dummy workers (real StreamAssigner processes that only record their
callbacks) share six streams; one is killed with SIGKILL; the survivor must
take its streams over, and at no moment may two live workers watch one stream.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from events import ConfigError
from events.kafka import KafkaOptions
from livewatch.assignment import AssignmentOptions, StreamControl, apply_request, encode_request
from tests.conftest import kafka_for
from tests.waiting import wait_until

HELPER = Path(__file__).with_name("assigner_proc.py")
SETTLE_TIMEOUT_S = 45.0


@dataclass
class Worker:
    """One dummy worker process and the events it printed."""

    name: str
    proc: subprocess.Popen
    events: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    killed_at: float | None = None

    def owned(self) -> set[str]:
        owned: set[str] = set()
        with self.lock:
            for event in self.events:
                if event["event"] == "start":
                    owned.add(event["stream_id"])
                elif event["event"] == "stop":
                    owned.discard(event["stream_id"])
        return owned

    def partitions(self) -> set[int]:
        """The control-topic partitions it last reported holding."""
        with self.lock:
            reports = [e["partitions"] for e in self.events if e["event"] == "partitions"]
        return set(reports[-1]) if reports else set()

    def snapshot(self) -> list[dict]:
        with self.lock:
            return list(self.events)


def spawn(bootstrap: str, group: str, topic: str, name: str) -> Worker:
    repo = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(repo), os.environ.get("PYTHONPATH")])))
    proc = subprocess.Popen(
        [sys.executable, str(HELPER), bootstrap, group, topic, name],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    )
    worker = Worker(name, proc)

    def read() -> None:
        for line in proc.stdout:
            event = json.loads(line)
            with worker.lock:
                worker.events.append(event)

    threading.Thread(target=read, daemon=True).start()
    return worker


def intervals(worker: Worker) -> dict[str, list[tuple[float, float]]]:
    """Per stream, the [start, stop) spans this worker watched it; a kill ends every open span."""
    spans: dict[str, list[tuple[float, float]]] = {}
    open_: dict[str, float] = {}
    for event in worker.snapshot():
        if event["event"] == "start":
            open_[event["stream_id"]] = event["t"]
        elif event["event"] == "stop" and event["stream_id"] in open_:
            spans.setdefault(event["stream_id"], []).append((open_.pop(event["stream_id"]), event["t"]))
    end = worker.killed_at if worker.killed_at is not None else float("inf")
    for stream_id, start in open_.items():
        spans.setdefault(stream_id, []).append((start, end))
    return spans


def assert_never_watched_twice(workers: list[Worker]) -> None:
    a, b = (intervals(w) for w in workers)
    for stream_id in set(a) & set(b):
        for s1, e1 in a[stream_id]:
            for s2, e2 in b[stream_id]:
                assert e1 <= s2 or e2 <= s1, f"{stream_id} watched by both workers at once"


def test_six_streams_survive_a_dead_worker(any_broker: str) -> None:
    topic = f"livewatch.streams.test-{uuid.uuid4().hex[:8]}"
    group = f"workers-{uuid.uuid4().hex[:8]}"
    streams = {f"shop-{i}": f"rtmp://live.example/app/shop-{i}" for i in range(6)}
    workers = [spawn(any_broker, group, topic, name) for name in ("a", "b")]
    try:
        with StreamControl(kafka_for(any_broker, streams=topic)) as control:
            for stream_id, url in streams.items():
                control.add(stream_id, url)
            assert control.list() == streams

            def settled() -> bool:
                """Each member holds partitions, together all of them, and the six streams are shared without overlap."""
                held = [w.partitions() for w in workers]
                owned = [w.owned() for w in workers]
                return (all(held) and not held[0] & held[1]
                        and len(held[0] | held[1]) == AssignmentOptions().partitions
                        and owned[0] | owned[1] == set(streams) and not owned[0] & owned[1])

            # A settled two-member group: mid-rebalance the first member may still hold partitions
            # it is about to hand over. Streams hash to partitions, so one worker may own all six.
            wait_until(settled, SETTLE_TIMEOUT_S, lambda: "a settled split of six streams: "
                       + "; ".join(f"{w.name} holds {sorted(w.partitions())} owns {sorted(w.owned())}" for w in workers))
            victim = max(workers, key=lambda w: len(w.owned()))
            survivor = workers[1 - workers.index(victim)]
            assert victim.owned(), "the victim owns nothing to hand over"

            victim.killed_at = time.monotonic()
            os.kill(victim.proc.pid, signal.SIGKILL)
            victim.proc.wait(10)
            wait_until(lambda: survivor.owned() == set(streams), SETTLE_TIMEOUT_S, "the survivor to own all six")

            # The survivor keeps following requests.
            control.remove("shop-0")
            control.add("shop-6", "rtmp://live.example/app/shop-6")
            expected = (set(streams) - {"shop-0"}) | {"shop-6"}
            wait_until(lambda: survivor.owned() == expected, SETTLE_TIMEOUT_S, "remove and add to reach the survivor")
            assert control.list() == {s: u for s, u in streams.items() if s != "shop-0"} | {
                "shop-6": "rtmp://live.example/app/shop-6"
            }
        assert_never_watched_twice(workers)

        survivor.proc.send_signal(signal.SIGTERM)
        survivor.proc.wait(30)
        assert survivor.owned() == set(), "a closing worker stops all its streams"
    finally:
        for worker in workers:
            if worker.proc.poll() is None:
                worker.proc.kill()
                worker.proc.wait(10)


def test_control_records_fold_to_latest_request() -> None:
    desired: dict[str, str] = {}
    for action, stream_id, url in [("start", "s1", "rtmp://h/a"), ("start", "s2", "rtmp://h/b"),
                                   ("stop", "s1", None), ("start", "s2", "rtmp://h/c")]:
        apply_request(desired, *encode_request(action, stream_id, url))
    apply_request(desired, b"s3", b"not json")  # skipped, not fatal
    apply_request(desired, b"s2", None)  # a tombstone is a stop
    assert desired == {}
    apply_request(desired, *encode_request("start", "s4", "rtmp://h/d"))
    assert desired == {"s4": "rtmp://h/d"}


@pytest.mark.parametrize("bad", ["", "has space", "../etc", "x" * 129, "-lead"])
def test_bad_stream_ids_are_refused(bad: str) -> None:
    with pytest.raises(ConfigError, match="stream id"):
        StreamControl(KafkaOptions(bootstrap_servers="127.0.0.1:1")).add(bad, "rtmp://h/a")


class Recorder:
    """In-process dummy worker callbacks: (event, stream_id, url, time) in call order."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.events: list[tuple[str, str, str | None, float]] = []
        self.lock = threading.Lock()
        self.fail_on = fail_on

    def start(self, stream_id: str, url: str) -> None:
        if stream_id == self.fail_on:
            raise RuntimeError("cannot open")
        with self.lock:
            self.events.append(("start", stream_id, url, time.monotonic()))

    def stop(self, stream_id: str) -> None:
        with self.lock:
            self.events.append(("stop", stream_id, None, time.monotonic()))

    def last(self, stream_id: str) -> tuple[str, str, str | None, float] | None:
        with self.lock:
            return next((e for e in reversed(self.events) if e[1] == stream_id), None)


def test_graceful_leave_hands_streams_over_and_url_changes_restart(any_broker: str) -> None:
    from livewatch.assignment import StreamAssigner

    kafka = kafka_for(any_broker, streams=f"livewatch.streams.test-{uuid.uuid4().hex[:8]}")
    group = f"workers-{uuid.uuid4().hex[:8]}"
    recorders = [Recorder(fail_on="broken"), Recorder(fail_on="broken")]
    assigners = [StreamAssigner(kafka, group, r.start, r.stop).start() for r in recorders]
    streams = {f"s{i}": f"rtmp://h/app/s{i}" for i in range(4)}
    try:
        with StreamControl(kafka) as control:
            for stream_id, url in streams.items():
                control.add(stream_id, url)
            control.add("broken", "rtmp://h/app/broken")  # its on_start raises: logged, others unharmed
            wait_until(lambda: assigners[0].owned() | assigners[1].owned() == streams
                       and all(a.ready for a in assigners), SETTLE_TIMEOUT_S, "four streams shared, both ready")
            leaving, staying = assigners
            moved = set(leaving.owned())
            leaving.close()
            assert leaving.owned() == {}
            wait_until(lambda: staying.owned() == streams, SETTLE_TIMEOUT_S, "the stayer to take all four")
            for stream_id in moved:  # the leaver stopped each moved stream before the stayer started it
                assert recorders[0].last(stream_id)[0] == "stop"
                assert recorders[0].last(stream_id)[3] <= recorders[1].last(stream_id)[3]

            control.add("s1", "rtmp://h/app/s1-new")
            wait_until(lambda: staying.owned().get("s1") == "rtmp://h/app/s1-new", SETTLE_TIMEOUT_S, "the new URL")
            assert staying.error is None and staying.ready
    finally:
        for assigner in assigners:
            assigner.close()
    assert all(a.owned() == {} for a in assigners)
