"""AlertPublisher against a real Tansu broker process, read back with confluent-kafka."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from alerts import AlertPublisher, AlertStore, PublisherOptions, validate_alert
from events import LivewatchError, Mode
from events.kafka import KafkaOptions, check_broker, make_producer
from livewatch.broker import EmbeddedBroker, free_port
from tests.conftest import kafka_for
from tests.waiting import wait_until

# Short timeouts so outages are noticed and retried within a test's budget.
FAST = PublisherOptions(send_timeout_s=2.0, connect_timeout_s=1.0, initial_backoff_s=0.1, max_backoff_s=0.5,
                        idle_poll_s=0.1, reconcile_timeout_s=5.0)


def _ids(records):
    return [r.json()["alert_id"] for r in records]


def _unique_topics(name):
    return {"alerts": f"test.{name}.alerts", "shadow_alerts": f"test.{name}.alerts.shadow"}


def test_alerts_reach_the_topic_in_order_keyed_by_stream(kafka_broker, read_topic, tmp_store, make_alert):
    topics = _unique_topics("order")
    alerts = [make_alert(i, stream_id="shop-7") for i in range(8)]
    with AlertPublisher(tmp_store, kafka_for(kafka_broker, **topics), options=FAST) as publisher:
        for a in alerts:
            assert publisher.emit(a)
        assert publisher.flush(20)
    records = read_topic(topics["alerts"], min_records=8)
    assert _ids(records) == [a.alert_id for a in alerts]
    assert {r.key for r in records} == {b"shop-7"}
    for record, alert in zip(records, alerts):
        validate_alert(record.json())
        assert record.json() == alert.to_dict()
        assert dict(record.headers)["alert_id"] == alert.alert_id.encode()
    stored = tmp_store.get(alerts[0].alert_id)
    assert stored.sent and stored.topic == topics["alerts"]
    assert tmp_store.counts()["unsent"] == 0


def test_shadow_mode_alerts_go_to_the_shadow_topic(kafka_broker, read_topic, tmp_store, make_alert):
    topics = _unique_topics("shadow")
    enforce = [make_alert(i) for i in range(3)]
    shadow = [make_alert(i, stream_id="s-shadow", mode=Mode.SHADOW) for i in range(2)]
    with AlertPublisher(tmp_store, kafka_for(kafka_broker, **topics), options=FAST) as publisher:
        for a in [enforce[0], shadow[0], enforce[1], shadow[1], enforce[2]]:
            publisher.emit(a)
        assert publisher.flush(20)
    assert _ids(read_topic(topics["alerts"], min_records=3)) == [a.alert_id for a in enforce]
    assert _ids(read_topic(topics["shadow_alerts"], min_records=2)) == [a.alert_id for a in shadow]


def test_broker_unreachable_at_start_then_comes_up(tmp_path, read_topic, make_alert):
    port = free_port()
    store = AlertStore(tmp_path / "alerts.db")
    alerts = [make_alert(i) for i in range(10)]
    publisher = AlertPublisher(store, kafka_for(f"127.0.0.1:{port}"), options=FAST)
    try:
        for a in alerts:
            publisher.emit(a)
        assert not publisher.flush(2.0)  # nothing listens: all kept
        assert store.counts() == {"total": 10, "unsent": 10}
        with EmbeddedBroker(port=port) as broker:
            assert publisher.flush(30), publisher.last_error
            records = read_topic("livewatch.alerts", bootstrap=broker.bootstrap, min_records=10)
    finally:
        publisher.close(1)
        store.close()
    assert _ids(records) == [a.alert_id for a in alerts]


def test_broker_stopped_mid_run_loses_and_duplicates_nothing(fresh_kafka_broker, read_topic, tmp_store, make_alert,
                                                             caplog):
    broker = fresh_kafka_broker
    alerts = [make_alert(i) for i in range(12)]
    publisher = AlertPublisher(tmp_store, broker.kafka_options(), options=FAST)
    try:
        for a in alerts[:4]:
            publisher.emit(a)
        assert publisher.flush(20)
        before = read_topic("livewatch.alerts", bootstrap=broker.bootstrap, min_records=4)
        broker.stop()  # Tansu keeps nothing: what it had is in `before`
        for a in alerts[4:]:
            publisher.emit(a)
        wait_until(lambda: any("cannot deliver alerts to Kafka" in r.getMessage() for r in caplog.records), 30,
                   "the publisher to try the stopped broker and report the outage")
        assert tmp_store.counts()["unsent"] == 8
        broker.start()
        assert publisher.flush(30), publisher.last_error
        after = read_topic("livewatch.alerts", bootstrap=broker.bootstrap, min_records=8)
    finally:
        publisher.close(1)
    delivered = _ids(before) + _ids(after)
    assert delivered == [a.alert_id for a in alerts]
    assert max(Counter(delivered).values()) == 1


def test_in_doubt_alert_already_on_the_topic_is_not_sent_again(kafka_broker, read_topic, tmp_store, make_alert):
    """A send whose acknowledgement was lost (and whose producer is gone) is looked up before a resend."""
    topics = _unique_topics("indoubt")
    alerts = [make_alert(i, stream_id="s-doubt") for i in range(3)]
    for a in alerts:
        tmp_store.append(a)
    first = tmp_store.unsent(limit=1)[0]
    tmp_store.mark_attempt([first.seq])  # as if a previous process sent it, then died before the ack
    other = make_producer(kafka_for(kafka_broker), "test-other", acks="all")
    other.send(topics["alerts"], key=b"s-doubt", value=first.payload.encode(),
               headers=[("alert_id", first.alert_id.encode()), ("revision", b"1")])
    other.flush(10)
    other.close()
    with AlertPublisher(tmp_store, kafka_for(kafka_broker, **topics), options=FAST) as publisher:
        assert publisher.flush(20)
    records = read_topic(topics["alerts"], min_records=3)
    assert _ids(records) == [a.alert_id for a in alerts]
    assert tmp_store.get(alerts[0].alert_id).offset == records[0].offset


def test_check_broker(kafka_broker):
    check_broker(kafka_for(kafka_broker), timeout_s=5)
    port = free_port()
    with pytest.raises(LivewatchError) as err:
        check_broker(KafkaOptions(bootstrap_servers=f"127.0.0.1:{port}"), timeout_s=1)
    message = str(err.value)
    assert message.startswith(f"cannot reach Kafka at 127.0.0.1:{port}: ")
    assert "unset --kafka / LIVEWATCH_KAFKA to use the embedded broker" in message and "\n" not in message
    with pytest.raises(LivewatchError, match="bad Kafka address"):
        check_broker(KafkaOptions(bootstrap_servers="localhost"), timeout_s=1)


def test_undelivered_alerts_wait_in_the_store_for_the_next_publisher(tmp_path, read_topic, make_alert):
    path = tmp_path / "alerts.db"
    with AlertStore(path) as store:
        publisher = AlertPublisher(store, kafka_for(f"127.0.0.1:{free_port()}"), options=FAST)
        publisher.emit(make_alert(1))
        assert publisher.close(0.5) is False
    with EmbeddedBroker() as broker, AlertStore(path) as store:
        with AlertPublisher(store, broker.kafka_options(), options=FAST) as publisher:
            assert publisher.flush(20)
        records = read_topic("livewatch.alerts", bootstrap=broker.bootstrap, min_records=1)
    assert [json.loads(r.value)["media_start"] for r in records] == [1.0]
