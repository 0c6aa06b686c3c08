"""Live protection over a real broker: ``livewatch protect``, the control records, and the workers'
fingerprint exchange (a worker started after the show was protected still learns it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from events import SampledFrame, VideoFrame
from events.kafka import KafkaTopics
from frames.fingerprint import FingerprintIndex
from livewatch.live_protect import (
    LiveProtection,
    ProtectControl,
    decode_protect,
    encode_protect,
)
from tests.conftest import kafka_for, read_topic
from tests.distributed.cluster import ROOT
from tests.fingerprint.fp_media import programme_frame
from tests.waiting import wait_until


def protect_cli(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEWATCH_")}
    return subprocess.run([sys.executable, "-m", "livewatch", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def show(stream_id: str, seed: int, times: range, shift: float = 0.0) -> list[SampledFrame]:
    now = time.time()
    return [SampledFrame(VideoFrame(stream_id, i, float(t), now, programme_frame(t + shift, seed)), phash=0)
            for i, t in enumerate(times)]


def test_control_records_round_trip_and_bad_ones_are_skipped() -> None:
    assert decode_protect(*encode_protect("showA", True)) == ("showA", True)
    assert decode_protect(*encode_protect("showA", False)) == ("showA", False)
    assert decode_protect(b"showA", None) == ("showA", False), "a tombstone un-protects"
    assert decode_protect(b"showA", b'{"protected": "yes"}') is None
    assert decode_protect(None, b"{}") is None


def test_protect_command_writes_the_control_topic(kafka_broker: str) -> None:
    stream_id = f"show-{time.monotonic_ns()}"
    on = protect_cli("--kafka", kafka_broker, "protect", stream_id)
    assert on.returncode == 0 and f"{stream_id}: protected while live" in on.stdout, on.stderr
    off = protect_cli("--kafka", kafka_broker, "protect", stream_id, "--off")
    assert off.returncode == 0, off.stderr
    mine = [json.loads(r.value) for r in read_topic(kafka_broker, KafkaTopics().protect, min_records=2) if r.key == stream_id.encode()]
    assert mine == [{"stream_id": stream_id, "protected": True}, {"stream_id": stream_id, "protected": False}]


@pytest.mark.parametrize("args, message", [
    (("protect", "showA"), "needs the workers' Kafka broker"),
    (("--kafka", "127.0.0.1:9", "protect", "bad id!"), "stream id 'bad id!' is not valid"),
])
def test_protect_command_bad_input_is_one_line(args: tuple[str, ...], message: str) -> None:
    done = protect_cli(*args)
    assert done.returncode == 1 and message in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_a_worker_started_later_learns_a_show_protected_earlier(fresh_kafka_broker) -> None:
    bootstrap = fresh_kafka_broker.bootstrap
    kafka = kafka_for(bootstrap)
    watching = FingerprintIndex()
    first = LiveProtection(kafka, watching).start()
    late = None
    try:
        ProtectControl(kafka).set("showA")
        wait_until(lambda: "showA" in watching.protected, 30, "the worker to obey the protect record")
        for frame in show("showA", 1, range(20)):
            watching.process(frame)
        wait_until(lambda: first.published and first.added, 30, "showA's fingerprints to go round the topic")
        assert watching.live_content_ids == ("live:showA",)

        late_index = FingerprintIndex()
        late = LiveProtection(kafka, late_index).start()
        wait_until(lambda: late_index.live_content_ids == ("live:showA",), 30, "the late worker to read the live window")
        # it learns the protected set too (it may take the stream over): the control topic is read
        # by the same consumer, in polls of its own
        wait_until(lambda: "showA" in late_index.protected, 30, "the late worker to read the protected set")
        evidence = [e for f in show("copyB", 1, range(8), shift=3.3) for e in late_index.process(f)]
        assert evidence and evidence[0].text == "live:showA" and evidence[0].details["source_stream"] == "showA"
    finally:
        first.close()
        if late is not None:
            late.close()
    records = read_topic(bootstrap, KafkaTopics().live_fingerprints, min_records=1)
    assert records and {r.key for r in records} == {b"showA"}
