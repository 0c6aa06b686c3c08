"""Pytest plugin: Apache Kafka fixtures, and one fixture to run a suite on both brokers.

Register it once for the whole run (``tests/`` is on ``sys.path`` through the
root conftest)::

    pytest_plugins = ["kafka_apache.plugin"]      # in tests/conftest.py

- ``apache_kafka`` (session): bootstrap ``"127.0.0.1:PORT"`` of one Apache Kafka
  KRaft node shared by the run, started on first use (~3 s idle, more when the
  machine is busy) and stopped by PID at the end.
- ``apache_kafka_server`` (session): the :class:`ApacheKafka` object itself.
- ``any_broker``: parametrized ``tansu`` / ``apache``; the bootstrap string of
  the session's Tansu (``kafka_broker`` from tests/conftest.py) or of Apache
  Kafka. A test taking it runs once on each.

Consumer groups: make clients with ``tests.conftest.kafka_for(bootstrap)`` on both, which
applies the embedded broker's short group timings (Tansu needs them to join quickly; on both, a
killed member's partitions move in 6 s; Apache Kafka here has ``group.initial.rebalance.delay.ms=0``).
Topics are shared within a session: use unique topic and group names.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from kafka_apache.broker import ApacheKafka

BROKERS = ("tansu", "apache")


@pytest.fixture(scope="session")
def apache_kafka_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApacheKafka]:
    """One Apache Kafka KRaft node for the test session."""
    with ApacheKafka(tmp_path_factory.mktemp("apache-kafka")) as server:
        yield server


@pytest.fixture(scope="session")
def apache_kafka(apache_kafka_server: ApacheKafka) -> str:
    """Bootstrap string of the session's Apache Kafka."""
    return apache_kafka_server.bootstrap


@pytest.fixture(params=BROKERS)
def any_broker(request: pytest.FixtureRequest) -> str:
    """Bootstrap string of Tansu, then of Apache Kafka: the test runs on both."""
    fixture = "kafka_broker" if request.param == "tansu" else "apache_kafka"
    return request.getfixturevalue(fixture)
