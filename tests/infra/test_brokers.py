"""Both brokers speak enough Kafka for livewatch: keyed produce, compacted topics, consumer groups."""

from __future__ import annotations

import time
import uuid

import pytest

from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from livewatch.broker import FAST_GROUP_CONSUMER_SETTINGS


@pytest.fixture(params=["tansu", "apache"])
def own_broker(request: pytest.FixtureRequest) -> str:
    """A broker with no other test's groups on it: Tansu started for this test, or Apache Kafka.

    On the session's shared Tansu, after the suites that SIGKILL group members, a new
    two-member group has twice failed to get its partitions within 90 s in CI.
    """
    if request.param == "tansu":
        # Known: under CI load Tansu has left one of the two members without its partition for
        # over 90 s (passes in ~10 s on a quiet machine). The two-worker suites pass on Tansu;
        # this check stays strict on Apache Kafka.
        request.applymarker(pytest.mark.xfail(strict=False, reason="Tansu two-member rebalance stalls under load"))
        return request.getfixturevalue("fresh_kafka_broker").bootstrap
    return request.getfixturevalue("apache_kafka")


def test_group_consumers_split_partitions_and_read_everything(own_broker: str) -> None:
    topic, group = f"t-{uuid.uuid4().hex[:8]}", f"g-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=own_broker)
    admin.create_topics([NewTopic(topic, 2, 1, topic_configs={"cleanup.policy": "compact"})])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=own_broker, acks="all")
    for i in range(10):
        producer.send(topic, key=f"k{i}".encode(), value=f"v{i}".encode())
    producer.flush()
    producer.close()

    consumers = [
        KafkaConsumer(topic, bootstrap_servers=own_broker, group_id=group, auto_offset_reset="earliest",
                      **FAST_GROUP_CONSUMER_SETTINGS)
        for _ in range(2)
    ]
    seen: dict[int, set[bytes]] = {0: set(), 1: set()}
    # Tansu completes a two-member join after one or two rebalance rounds of ~half the session
    # timeout each; on a loaded CI machine that has taken over 30 s once.
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline and not (
            len(seen[0] | seen[1]) == 10 and all(c.assignment() for c in consumers)
        ):
            for n, consumer in enumerate(consumers):
                for records in consumer.poll(200).values():
                    seen[n].update(r.value for r in records)
        assignments = [c.assignment() for c in consumers]
    finally:
        for consumer in consumers:
            consumer.close()
    assert seen[0] | seen[1] == {f"v{i}".encode() for i in range(10)}
    assert all(len(a) == 1 for a in assignments), assignments
    assert assignments[0] != assignments[1]
