"""Split stages: a worker publishes evidence to Kafka, a separate rules service turns it into alerts.

Real processes on the embedded broker (the worker-group suite runs on both
brokers; this one keeps to Tansu for the test-time budget): the worker runs
OCR with ``--split``, ``livewatch rules-service`` consumes the evidence topic
in its own group and publishes the alerts.
"""

from __future__ import annotations

import collections
import json
from pathlib import Path

import pytest

from alerts import AlertStore
from events import Evidence
from livewatch.assignment import StreamControl
from tests.conftest import kafka_for, read_topic
from tests.distributed.cluster import alerts_on_topic
from tests.waiting import wait_until

pytestmark = pytest.mark.slow


def test_split_worker_and_rules_service(kafka_broker: str, services, counterfeit_clip: Path, run_id: str,
                                        tmp_path: Path) -> None:
    evidence_topic = f"livewatch.evidence.{run_id}"
    kafka = kafka_for(kafka_broker, evidence=evidence_topic, streams=f"livewatch.streams.{run_id}")
    rules = services("rules", kafka, "rules-service", "--group", f"rules-{run_id}")
    worker = services("worker", kafka, "worker", "--split", "--loop", "--group", f"workers-{run_id}")
    both = lambda: f"--- worker ---\n{worker.log_tail()}\n--- rules ---\n{rules.log_tail()}"  # noqa: E731
    wait_until(lambda: worker.ready and rules.ready, 150, lambda: "worker and rules service ready\n" + both())

    stream_ids = {f"{run_id}-a", f"{run_id}-b"}
    with StreamControl(kafka) as control:
        for stream_id in sorted(stream_ids):
            control.add(stream_id, str(counterfeit_clip))

    alerts = wait_until(lambda: (found := alerts_on_topic(kafka, stream_ids))
                        and {a["stream_id"] for a in found} == stream_ids and found, 90,
                        lambda: "alerts from the rules service for both streams\n" + both())
    assert all(a["category"] == "counterfeit" and a["stream_url"] == str(counterfeit_clip) for a in alerts)
    assert set(rules.samples("livewatch_alerts_total")) == stream_ids, "the rules service raised them"
    assert set(worker.samples("livewatch_stream_lag_seconds")) == stream_ids
    assert set(worker.samples("livewatch_degrade_level")) == stream_ids, "the worker's loop schedules its streams"
    assert not (tmp_path / "worker" / "alerts.sqlite3").exists(), "a split worker judges nothing itself"

    # SIGTERM the worker: its streams end, the finish markers tell the rules service to close their alerts.
    assert worker.terminate(timeout_s=45) == 0, worker.log_tail()
    records = read_topic(kafka_broker, evidence_topic, min_records=4, timeout_s=20)
    kinds = collections.Counter((r.key.decode(), dict(r.headers)["kind"]) for r in records)
    for stream_id in stream_ids:
        assert kinds[(stream_id, b"evidence")] >= 1 and kinds[(stream_id, b"finish")] == 1, kinds
    first = next(r for r in records if dict(r.headers)["kind"] == b"evidence")
    assert Evidence.from_dict(json.loads(first.value)).stream_id == first.key.decode()
    assert dict(first.headers)["session"], "evidence carries its watch session"

    assert rules.terminate(timeout_s=45) == 0, rules.log_tail()
    final = alerts_on_topic(kafka, stream_ids)
    keys = collections.Counter((a["alert_id"], a["revision"]) for a in final)
    assert max(keys.values()) == 1, f"alerts delivered more than once: {keys}"
    store = AlertStore(tmp_path / "rules" / "alerts.sqlite3")
    try:
        assert store.counts()["unsent"] == 0
    finally:
        store.close()
