"""Apache Kafka (KRaft) for tests: :class:`ApacheKafka` and the pytest plugin ``kafka_apache.plugin``."""

from kafka_apache.broker import ApacheKafka, kafka_version

__all__ = ["ApacheKafka", "kafka_version"]
