"""A group member whose join finished between two polls uses it (events.kafka._keep_finished_joins).

kafka-python 3.0 drops a JoinGroup + SyncGroup that finished while no ``poll`` was waiting and
sends a new JoinGroup; from the group's leader that starts another rebalance and the leader keeps
its old partitions. This drives that interleaving on purpose, on both brokers: the leader sends its
JoinGroup in a ``poll(0)`` that returns at once, the join finishes with nobody polling, and only
then does the leader poll again. Without the fix the leader still holds both partitions while the
other member holds one of them too.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from events.kafka import ensure_topics, make_consumer
from tests.conftest import kafka_for
from tests.waiting import wait_until

pytestmark = pytest.mark.slow


def holds(consumer: Any, partitions: int) -> bool:
    """Poll once; does ``consumer`` now hold that many partitions?"""
    consumer.poll(100)
    return len(consumer.assignment()) == partitions


def test_the_leader_keeps_the_join_that_finished_while_it_was_not_polling(any_broker: str) -> None:
    kafka = kafka_for(any_broker)
    topic, group = f"t-{uuid.uuid4().hex[:8]}", f"g-{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka, [topic], partitions=2)
    leader = make_consumer(kafka, "test", topic, group_id=group)
    other = make_consumer(kafka, "test", topic, group_id=group)
    try:
        wait_until(lambda: holds(leader, 2), 60,
                   lambda: f"the first member to hold both partitions: {leader.assignment()}")
        other.poll(100)  # its JoinGroup waits at the broker for the leader to rejoin
        # the leader's heartbeat (on its I/O thread) learns that the group is rebalancing
        wait_until(lambda: leader._coordinator.rejoin_needed, 30, "the leader to see the rebalance")
        leader.poll(0)  # sends the leader's JoinGroup and returns before the answer
        wait_until(lambda: leader._coordinator._join_task is None or leader._coordinator._join_task.is_done, 30,
                   "the leader's join and sync to finish with no poll waiting")

        leader.poll(1000)
        wait_until(lambda: holds(other, 1), 60,
                   lambda: f"the other member's partition: {other.assignment()}")
        assert len(leader.assignment()) == 1, leader.assignment()
        assert {tp.partition for tp in leader.assignment() | other.assignment()} == {0, 1}
        assert not leader.assignment() & other.assignment(), "one partition owned by two members"
    finally:
        leader.close()
        other.close()
