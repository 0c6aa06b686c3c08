"""AlertPublisher when things fail: a store that cannot be written (full disk), a broker that is gone.

The full disk is injected under the store (``tests/faults.py``): its SQLite connection refuses
writes with SQLITE_FULL ("database or disk is full"), as on a full volume.
"""

from __future__ import annotations

import logging
from collections import Counter

import pytest

from alerts import AlertPublisher, AlertStore, PublisherOptions
from events.kafka import KafkaOptions
from tests.conftest import kafka_for
from tests.faults import FullDisk
from tests.waiting import wait_until

FAST = PublisherOptions(send_timeout_s=2.0, connect_timeout_s=1.0, initial_backoff_s=0.1, max_backoff_s=0.5,
                        idle_poll_s=0.1, reconcile_timeout_s=5.0, store_retry_s=0.1)


def _topics(name: str) -> dict[str, str]:
    return {"alerts": f"test.{name}.alerts", "shadow_alerts": f"test.{name}.alerts.shadow"}


def test_alerts_raised_while_the_store_is_full_wait_in_memory_and_reach_the_topic_once(
    kafka_broker, read_topic, tmp_store, make_alert, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="alerts")
    topics = _topics("storefull")
    alerts = [make_alert(i, stream_id="s-full") for i in range(8)]
    with AlertPublisher(tmp_store, kafka_for(kafka_broker, **topics), options=FAST) as publisher:
        for a in alerts[:2]:
            assert publisher.emit(a)
        assert publisher.flush(20) and publisher.store_ok
        disk = FullDisk.install(tmp_store)
        disk.full = True
        for a in alerts[2:]:
            assert publisher.emit(a), "accepted: it waits in memory"
        assert publisher.held == 6 and not publisher.store_ok
        assert "database or disk is full" in (publisher.store_error or "")
        assert not publisher.flush(0.5), "held alerts are not delivered before they are stored"
        disk.full = False
        assert publisher.flush(20), publisher.store_error
        assert publisher.store_ok and publisher.held == 0 and publisher.lost == 0
    records = read_topic(topics["alerts"], min_records=8)
    ids = [r.json()["alert_id"] for r in records]
    assert ids == [a.alert_id for a in alerts], "every alert, in the order raised"
    assert max(Counter(ids).values()) == 1
    store_lines = [r for r in caplog.records if "alert store" in r.getMessage()]
    assert [r.levelname for r in store_lines] == ["ERROR", "WARNING"], [r.getMessage() for r in store_lines]
    assert "not ready meanwhile" in store_lines[0].getMessage()
    assert "takes writes again" in store_lines[1].getMessage()


def test_the_memory_queue_is_bounded_and_says_which_alert_it_dropped(
    tmp_path, make_alert, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.ERROR, logger="alerts")
    store = AlertStore(tmp_path / "alerts.db")
    disk = FullDisk.install(store)
    disk.full = True
    publisher = AlertPublisher(store, KafkaOptions(bootstrap_servers="127.0.0.1:9"), options=PublisherOptions(max_held=3, store_retry_s=0.1,
                                                                             create_topics=False))
    try:
        alerts = [make_alert(i) for i in range(5)]
        for a in alerts:
            publisher.emit(a)
        assert (publisher.held, publisher.dropped) == (3, 2)
        lost_lines = [r.getMessage() for r in caplog.records if " lost: " in r.getMessage()]
        assert [m.split()[1] for m in lost_lines] == [alerts[0].alert_id, alerts[1].alert_id]
        disk.full = False
        wait_until(lambda: publisher.held == 0, 10, "the held alerts to be stored")
        assert [s.alert_id for s in store.stored()] == [a.alert_id for a in alerts[2:]]
        assert publisher.store_ok and publisher.lost == 2
    finally:
        publisher.close(0.2)
        store.close()


def test_alerts_still_held_at_close_are_logged_by_id_as_lost(tmp_path, make_alert, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.ERROR, logger="alerts")
    store = AlertStore(tmp_path / "alerts.db")
    FullDisk.install(store).full = True
    publisher = AlertPublisher(store, KafkaOptions(bootstrap_servers="127.0.0.1:9"), options=PublisherOptions(store_retry_s=0.1, create_topics=False))
    alerts = [make_alert(i) for i in range(2)]
    for a in alerts:
        publisher.emit(a)
    assert publisher.close(0.3) is False
    store.close()
    assert publisher.lost == 2
    (line,) = [r.getMessage() for r in caplog.records if "are lost" in r.getMessage()]
    assert all(f"{a.alert_id} rev 1" in line for a in alerts)


def test_a_broker_outage_is_one_line_then_at_most_one_still_down_line_per_period(
    fresh_kafka_broker, read_topic, tmp_store, make_alert, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG, logger="alerts.publisher")
    broker = fresh_kafka_broker
    options = PublisherOptions(**{**FAST.__dict__, "outage_report_s": 1.0})
    with AlertPublisher(tmp_store, broker.kafka_options(), options=options) as publisher:
        publisher.emit(make_alert(0))
        assert publisher.flush(20)
        broker.stop()
        for i in range(1, 4):
            publisher.emit(make_alert(i))

        def still_down() -> list[logging.LogRecord]:
            return [r for r in caplog.records if "still down" in r.getMessage()]

        wait_until(lambda: len(still_down()) >= 2, 30, "two 'still down' lines")
        broker.start()
        assert publisher.flush(30), publisher.last_error
    records = read_topic("livewatch.alerts", bootstrap=broker.bootstrap, min_records=3)
    assert len(records) == 3
    loud = [r for r in caplog.records if r.levelno >= logging.INFO and r.name == "alerts.publisher"
            and "created Kafka topic" not in r.getMessage()]
    messages = [r.getMessage() for r in loud]
    assert messages[0].startswith(f"cannot deliver alerts to Kafka at {broker.bootstrap}"), messages
    assert sum("cannot deliver" in m for m in messages) == 1, messages
    assert all("3 alert(s) waiting" in r.getMessage() for r in still_down()), messages
    warnings = [r.created for r in loud if r.levelno == logging.WARNING]
    assert all(b - a >= 0.95 for a, b in zip(warnings, warnings[1:])), "at most one line per outage_report_s"
    assert sum("again after" in m for m in messages) == 1 and "again after" in messages[-1], messages
