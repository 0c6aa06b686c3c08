"""Kafka in and out: bad records are skipped, redeliveries are quiet, the outbox survives a broker outage."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from dashboard.bus import AlertConsumer, LiveHub, OutboxPublisher
from dashboard.store import Store
from events.kafka import KafkaOptions
from livewatch.broker import EmbeddedBroker
from tests.conftest import kafka_for, read_topic
from tests.dashboard.conftest import legacy_alert, make_alert
from tests.waiting import wait_until


def test_consumer_stores_valid_alerts_once_and_skips_garbage(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    store.migrate()
    seen: list[dict[str, Any]] = []
    hub = LiveHub()

    async def listen() -> list[Any]:
        queue = hub.subscribe()
        consumer = AlertConsumer(store, hub, KafkaOptions(bootstrap_servers="unused:9092"), "g", seen.append)
        alert = make_alert()
        results = [consumer.handle(raw, "t") for raw in (
            b"not json", b'{"alert_id": "x"}', json.dumps({**alert, "severity": "apocalyptic"}).encode(),
            json.dumps(alert).encode(), json.dumps(alert).encode())]
        event = await asyncio.wait_for(queue.get(), 1)
        return [results, event]

    results, event = asyncio.run(listen())
    assert results == [False, False, False, True, False]
    assert event["type"] == "alert" and event["alert"]["title"] == "Replica bags promoted"
    assert len(seen) == 1 and len(store.list_alerts()) == 1
    store.close()


def test_consumer_still_takes_alerts_of_older_schema_versions(tmp_path: Path) -> None:
    """Workers not yet on the current schema keep reaching moderators; each record is stored as it came."""
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    store.migrate()
    consumer = AlertConsumer(store, LiveHub(), KafkaOptions(bootstrap_servers="unused:9092"), "g", lambda _alert: None)
    v10, v11 = legacy_alert(), legacy_alert("1.1", onset=30.0, confidence=0.5)
    bad_old = {**legacy_alert(onset=50.0), "severity": "apocalyptic"}
    bad_new_field = {**legacy_alert(onset=60.0), "confidence": 7}  # a later field an old record carries is checked
    no_version = {k: v for k, v in legacy_alert(onset=70.0).items() if k != "schema_version"}
    future = {**make_alert(onset=80.0), "schema_version": "9.0"}
    results = [consumer.handle(json.dumps(a).encode(), "t")
               for a in (v10, v11, bad_old, bad_new_field, no_version, future)]
    assert results == [True, True, False, False, False, False]
    assert store.alert(v10["alert_id"])["alert"] == v10 and "confidence" not in v10
    assert store.alert(v11["alert_id"])["alert"] == v11
    assert consumer.handle(json.dumps(make_alert(onset=90.0)).encode(), "t")  # and the current version, of course
    store.close()


def test_outbox_waits_for_the_broker_and_loses_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    store.migrate()
    broker = EmbeddedBroker().start()
    port = broker.port
    broker.stop()  # down before the first record
    for i in range(3):
        store.enqueue("livewatch.decisions.outage", "alert-1", {"n": i})  # one key: ordered
    publisher = OutboxPublisher(store, kafka_for(f"127.0.0.1:{port}"), poll_s=0.1).start()
    try:
        # the publisher has tried the broker and failed: kafka-python warns first, unless an earlier test
        # quietened its loggers (the CLI does), and the publisher's own "failed, retrying" line follows
        # once the client gives up bootstrapping, tens of seconds later
        wait_until(lambda: any(r.name.startswith(("kafka.", "dashboard.bus")) and r.levelno >= logging.WARNING
                               for r in caplog.records),
                   90, "the outbox publisher to try the broker that is down")
        assert len(store.unsent()) == 3
        with EmbeddedBroker(port=port) as back:
            wait_until(lambda: not store.unsent(), 30, lambda: f"the outbox to empty: {store.unsent()}")
            records = read_topic(back.bootstrap, "livewatch.decisions.outage", min_records=3)
            assert [r.json()["n"] for r in records] == [0, 1, 2]
    finally:
        publisher.stop()
        store.close()
