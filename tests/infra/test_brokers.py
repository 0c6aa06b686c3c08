"""Both brokers speak enough Kafka for livewatch: keyed produce, compacted topics, consumer groups."""

from __future__ import annotations

import uuid

from events.kafka import ensure_topics, make_consumer, make_producer
from tests.conftest import kafka_for
from tests.waiting import wait_until


def test_group_consumers_split_partitions_and_read_everything(any_broker: str) -> None:
    """Two members split a topic's partitions: what `livewatch worker` relies on, on both brokers.

    Both members are polled in turn from this one thread with short polls, so a member's join
    often finishes while the other is being polled: the case events.kafka._keep_finished_joins
    fixes in kafka-python (without it this split never settles, on either broker).
    """
    kafka = kafka_for(any_broker)
    topic, group = f"t-{uuid.uuid4().hex[:8]}", f"g-{uuid.uuid4().hex[:8]}"
    assert ensure_topics(kafka, [topic], partitions=2, configs={"cleanup.policy": "compact"}) == [topic]
    assert ensure_topics(kafka, [topic], partitions=2) == [], "an existing topic is left as it is"
    producer = make_producer(kafka, "test", acks="all")
    for i in range(10):
        producer.send(topic, key=f"k{i}".encode(), value=f"v{i}".encode())
    producer.flush()
    producer.close()

    consumers = [make_consumer(kafka, "test", topic, group_id=group, auto_offset_reset="earliest") for _ in range(2)]
    seen: dict[int, set[bytes]] = {0: set(), 1: set()}

    def settled() -> bool:
        """Everything read and the rebalance settled: each member holds one partition (mid-rebalance
        the first member may still hold both while the second already has one)."""
        for n, consumer in enumerate(consumers):
            for records in consumer.poll(20).values():
                seen[n].update(r.value for r in records)
        return len(seen[0] | seen[1]) == 10 and all(len(c.assignment()) == 1 for c in consumers)

    try:
        wait_until(settled, 60, lambda: f"the two members to split the partitions: read {sorted(seen[0] | seen[1])}, "
                                        f"assignments {[c.assignment() for c in consumers]}")
        assignments = [c.assignment() for c in consumers]
    finally:
        for consumer in consumers:
            consumer.close()
    assert seen[0] | seen[1] == {f"v{i}".encode() for i in range(10)}
    assert all(len(a) == 1 for a in assignments), assignments
    assert assignments[0] != assignments[1]


def test_a_group_member_on_the_embedded_broker_resumes_from_its_committed_offset(fresh_kafka_broker) -> None:
    kafka = fresh_kafka_broker.kafka_options()
    topic, group = f"t-{uuid.uuid4().hex[:8]}", f"g-{uuid.uuid4().hex[:8]}"
    producer = make_producer(kafka, "test", acks="all")
    for i in range(6):
        producer.send(topic, key=f"k{i}".encode(), value=f"v{i}".encode())
    producer.flush()

    def read(expected: int) -> list[bytes]:
        consumer = make_consumer(kafka, "test", topic, group_id=group, auto_offset_reset="earliest",
                                 enable_auto_commit=False)
        got: list[bytes] = []

        def read_all() -> bool:
            for records in consumer.poll(200).values():
                got.extend(r.value for r in records)
            return len(got) >= expected

        try:
            wait_until(read_all, 60, lambda: f"{expected} records, got {got}")
            consumer.commit()
        finally:
            consumer.close()
        return got

    assert sorted(read(6)) == [f"v{i}".encode() for i in range(6)]
    for i in range(6, 9):
        producer.send(topic, key=f"k{i}".encode(), value=f"v{i}".encode())
    producer.flush()
    producer.close()
    assert sorted(read(3)) == [f"v{i}".encode() for i in range(6, 9)]
