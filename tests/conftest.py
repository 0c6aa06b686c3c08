"""Shared fixtures: a real Kafka-protocol broker (Tansu) and a second Kafka client to read it.

- ``kafka_broker`` (session): bootstrap string ``"127.0.0.1:PORT"`` of one Tansu
  process shared by the whole run. Topics are shared too: filter what you read
  by your own stream or alert ids, or use unique topic names.
- ``fresh_kafka_broker`` (function): an :class:`EmbeddedBroker` of your own
  (Tansu starts in ~20 ms), for tests that stop and restart the broker.
- ``read_topic(topic, min_records=N)``: every record of a topic, read with
  confluent-kafka (a different client than livewatch's kafka-python), so a test
  checks what really reached the broker.
- ``tmp_store``: an empty ``alerts.AlertStore`` in the test's tmp dir.
- ``kafka_for(bootstrap, **topics)``: the ``KafkaOptions`` for a test broker: the embedded
  broker's short group timings (a group joins in ~3 s instead of ~23 s on Tansu, and a killed
  member's partitions move in 6 s on both brokers), topics renamed as given. ``kafka_env(options)``
  is the same as ``LIVEWATCH_KAFKA*`` variables, for a ``livewatch`` process a test starts.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import pytest

from events.kafka import KafkaOptions, KafkaTopics
from livewatch.broker import EmbeddedBroker, with_embedded_timings
from livewatch.logging import _HANDLER_MARK as LIVEWATCH_HANDLER_MARK

# Apache Kafka fixtures (apache_kafka, any_broker) for every area; tests/ is on sys.path.
pytest_plugins = ["kafka_apache.plugin"]


@pytest.fixture(autouse=True)
def logging_left_as_found() -> Iterator[None]:
    """Undo what ``livewatch.cli.main``, called in-process, does to a process's logging.

    Its handler writes to the ``sys.stderr`` of the test that called it, which pytest closes after
    that test: every later log line (kafka-python's I/O thread logs all run long) then printed a
    "Logging error ... I/O operation on closed file" traceback into other tests' output.
    """
    root, kafka_logger = logging.getLogger(), logging.getLogger("kafka")
    root_level, kafka_level = root.level, kafka_logger.level
    yield
    for handler in [h for h in root.handlers if getattr(h, LIVEWATCH_HANDLER_MARK, False)]:
        root.removeHandler(handler)
    root.setLevel(root_level)
    kafka_logger.setLevel(kafka_level)


def kafka_for(bootstrap: str, **topics: str) -> KafkaOptions:
    """Options for a test broker (Tansu or Apache Kafka): short group timings, ``topics`` renamed."""
    return with_embedded_timings(KafkaOptions(bootstrap_servers=bootstrap)).with_topics(**topics)


def kafka_env(kafka: KafkaOptions) -> dict[str, str]:
    """``LIVEWATCH_KAFKA*`` variables that give a ``livewatch`` process these options (plaintext brokers only)."""
    env = {"LIVEWATCH_KAFKA": kafka.bootstrap_servers or ""}
    env |= {f"LIVEWATCH_KAFKA_{name.upper()}": str(value) for name, value in kafka.group_settings().items()}
    defaults = KafkaTopics()
    env |= {f"LIVEWATCH_KAFKA_TOPIC_{name.upper()}": value for name, value in vars(kafka.topics).items()
            if value != getattr(defaults, name)}
    return env


@dataclass(frozen=True)
class Record:
    """One record as confluent-kafka read it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()

    def json(self) -> Any:
        return json.loads(self.value) if self.value is not None else None


def read_topic(
    bootstrap: str,
    topic: str,
    *,
    min_records: int = 0,
    timeout_s: float = 20.0,
    idle_s: float = 0.5,
) -> list[Record]:
    """All records of ``topic`` from the beginning, in (partition, offset) order.

    Reads partitions directly (no consumer group, so no join delay). Returns
    once at least ``min_records`` arrived and nothing new came for ``idle_s``,
    or at ``timeout_s`` with what it has (the test's assertion then says what
    is missing).
    """
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": f"tests-read-{topic}-{time.monotonic_ns()}",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
    })
    records: list[Record] = []
    try:
        meta = consumer.list_topics(topic, timeout=10)
        partitions = sorted(meta.topics[topic].partitions) if topic in meta.topics else [0]
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        deadline = time.monotonic() + timeout_s
        last_new = time.monotonic()
        while time.monotonic() < deadline:
            msg = consumer.poll(0.1)
            now = time.monotonic()
            if msg is not None and not msg.error():
                records.append(Record(
                    topic=msg.topic(),
                    partition=msg.partition(),
                    offset=msg.offset(),
                    key=msg.key(),
                    value=msg.value(),
                    headers=tuple(msg.headers() or ()),
                ))
                last_new = now
            elif len(records) >= min_records and now - last_new >= idle_s:
                break
    finally:
        consumer.close()
    return sorted(records, key=lambda r: (r.partition, r.offset))


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[str]:
    """Bootstrap string of a real Tansu broker shared by the test session."""
    with EmbeddedBroker() as broker:
        yield broker.bootstrap


@pytest.fixture
def fresh_kafka_broker() -> Iterator[EmbeddedBroker]:
    """A Tansu broker for this test alone; the test may stop() and restart it."""
    with EmbeddedBroker() as broker:
        yield broker


@pytest.fixture(name="read_topic")
def read_topic_fixture(kafka_broker: str) -> Callable[..., list[Record]]:
    """``read_topic(topic, min_records=0, bootstrap=kafka_broker)`` with confluent-kafka."""

    def read(topic: str, *, bootstrap: str | None = None, **kwargs: Any) -> list[Record]:
        return read_topic(bootstrap or kafka_broker, topic, **kwargs)

    return read


@pytest.fixture
def tmp_store(tmp_path):
    """An empty alert store (SQLite outbox + evidence ledger) in the test's tmp dir."""
    from alerts import AlertStore

    store = AlertStore(tmp_path / "alerts.db")
    yield store
    store.close()
