"""Kafka settings, and the one place Kafka clients are made.

:class:`KafkaOptions` says where the cluster is, how to authenticate to it
(SASL/SSL, passed through to kafka-python as they are), how consumer groups
are timed, and what every topic is called. :func:`make_producer`,
:func:`make_consumer`, :func:`make_admin`, :func:`ensure_topics` and
:func:`check_broker` make every client livewatch uses from it, so a setting
such as the SASL password reaches every client or none.

Why here, in the ground floor: ``alerts`` (a stage, which may import only
``events``) makes its own producer and consumer, and so do the top floor's
worker, rules service, stream assignment and dashboard. With the options and
the factory in the ground floor, every floor uses the same functions directly;
the alternative, the top floor handing factories down into ``alerts``, would
add a second way to make a client (a callable passed around) for one caller.
The module stays cheap to import: kafka-python is imported inside the
functions that make clients, never at import time.

Group timings are None by default, so Kafka's own defaults apply (kafka-python:
a 45 s session). Only the embedded broker (``livewatch.broker``) and the tests
shorten them, by building their options with short timings; the environment
(``LIVEWATCH_KAFKA_SESSION_TIMEOUT_MS``) can too, read by ``livewatch.config``,
the one reader of ``LIVEWATCH_*`` variables.
"""

from __future__ import annotations

import dataclasses
import logging
import socket
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from events.errors import LivewatchError

log = logging.getLogger(__name__)

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
# Mechanisms that authenticate with a user name and password, all livewatch's settings can express.
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")

# Keys the options own: a caller asking for a client cannot override where it connects or how it authenticates.
_OWNED = frozenset({"bootstrap_servers", "client_id", "security_protocol", "sasl_mechanism", "sasl_plain_username",
                    "sasl_plain_password", "ssl_cafile", "ssl_certfile", "ssl_keyfile", "ssl_password",
                    "ssl_crlfile", "ssl_check_hostname", "group_id", "session_timeout_ms", "heartbeat_interval_ms"})


@dataclass(frozen=True)
class KafkaTopics:
    """The name of every topic livewatch reads or writes (docs/ARCHITECTURE.md, "Topics")."""

    alerts: str = "livewatch.alerts"
    shadow_alerts: str = "livewatch.alerts.shadow"
    evidence: str = "livewatch.evidence"  # split stages: worker -> rules service
    streams: str = "livewatch.streams"  # compacted: which streams the workers watch
    decisions: str = "livewatch.decisions"
    takedowns: str = "livewatch.takedowns"
    takedowns_dlq: str = "livewatch.takedowns.dlq"
    protect: str = "livewatch.protect"  # compacted: which watched streams are protected while live
    live_fingerprints: str = "livewatch.fingerprints.live"  # fingerprints of those streams, as computed


@dataclass(frozen=True)
class KafkaSecurity:
    """How clients authenticate and encrypt: kafka-python's own setting names, passed through unchanged.

    The passwords are left out of ``repr`` (and so of logs and tracebacks that show the options).
    """

    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_plain_username: str | None = None
    sasl_plain_password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_password: str | None = field(default=None, repr=False)  # of the key file
    ssl_crlfile: str | None = None
    ssl_check_hostname: bool = True

    def client_settings(self) -> dict[str, Any]:
        """The keyword arguments of every kafka-python client: the protocol, and each setting that is set."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {name: value for name, value in values.items() if value is not None}


@dataclass(frozen=True)
class KafkaOptions:
    """Where the cluster is, how to reach it, how groups are timed, what topics are called.

    ``bootstrap_servers`` None means no broker is configured: ``livewatch run``
    then starts the embedded one, the dashboard runs without Kafka, and the
    distributed services refuse to start. ``client_id`` prefixes each client's
    own id (``livewatch-alerts``, ``livewatch-rules``, ...). The group timings
    are None unless set: Kafka's defaults apply.
    """

    bootstrap_servers: str | None = None
    client_id: str = "livewatch"
    security: KafkaSecurity = field(default_factory=KafkaSecurity)
    session_timeout_ms: int | None = None
    heartbeat_interval_ms: int | None = None
    topics: KafkaTopics = field(default_factory=KafkaTopics)

    def replace(self, **changes: Any) -> KafkaOptions:
        return dataclasses.replace(self, **changes)

    def with_topics(self, **names: str) -> KafkaOptions:
        """The same options with some topics renamed (``with_topics(alerts="test.alerts")``)."""
        return dataclasses.replace(self, topics=dataclasses.replace(self.topics, **names))

    def group_settings(self) -> dict[str, int]:
        """The consumer-group timings that are set (none: Kafka's defaults)."""
        timings = {"session_timeout_ms": self.session_timeout_ms, "heartbeat_interval_ms": self.heartbeat_interval_ms}
        return {name: value for name, value in timings.items() if value is not None}

    def client_settings(self, role: str) -> dict[str, Any]:
        """What every client is made with: the bootstrap servers, ``<client_id>-<role>`` and the security settings."""
        if not self.bootstrap_servers:
            raise LivewatchError("no Kafka broker configured: set LIVEWATCH_KAFKA or --kafka HOST:PORT")
        return {"bootstrap_servers": self.bootstrap_servers, "client_id": f"{self.client_id}-{role}",
                **self.security.client_settings()}


class KafkaUnavailable(LivewatchError):
    """A Kafka client could not be made: no broker answered, or it refused the connection."""

    def __init__(self, bootstrap: str | None, reason: str) -> None:
        super().__init__(
            f"cannot connect to Kafka at {bootstrap} ({reason}): start it, or check LIVEWATCH_KAFKA / --kafka "
            "and the LIVEWATCH_KAFKA_SECURITY_PROTOCOL, SASL and SSL settings"
        )
        self.reason = reason


class _MaskSecrets(logging.Filter):
    """Masks the Kafka passwords in kafka-python's own log records.

    Its admin client logs its whole configuration, passwords included, at DEBUG
    (``--log-level DEBUG`` lets kafka-python's loggers through). The filter sits on
    kafka-python's loggers and only sees records those loggers let through.
    """

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = masked = record.getMessage()
            for secret in self.secrets:
                masked = masked.replace(secret, "***")
            if masked != message:
                record.msg, record.args = masked, None
        return True


_MASK = _MaskSecrets()


def _mask_secrets(security: KafkaSecurity) -> None:
    """Register the passwords of ``security`` and put the filter on every kafka-python logger there is."""
    secrets = [s for s in (security.sasl_plain_password, security.ssl_password) if s]
    if not secrets:
        return
    _MASK.secrets.update(secrets + [repr(s)[1:-1] for s in secrets])  # as written, and as a dict's repr shows it
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if (name == "kafka" or name.startswith("kafka.")) and isinstance(logger, logging.Logger) \
                and _MASK not in logger.filters:
            logger.addFilter(_MASK)


def make_producer(options: KafkaOptions, role: str, **settings: Any) -> Any:
    """A ``KafkaProducer`` for ``role`` (``acks``, ``linger_ms``, ... in ``settings``)."""
    return _make("KafkaProducer", options, role, settings)


def make_consumer(options: KafkaOptions, role: str, *topics: str, group_id: str | None = None,
                  **settings: Any) -> Any:
    """A ``KafkaConsumer`` for ``role``; a member of ``group_id`` (with the options' group timings) if given."""
    group = {} if group_id is None else {"group_id": group_id, **options.group_settings()}
    consumer = _make("KafkaConsumer", options, role, settings, topics=topics, group=group)
    if group_id is not None:
        _keep_finished_joins(consumer._coordinator)
    return consumer


def _keep_finished_joins(coordinator: Any) -> None:
    """Make a group member apply a join that finished between two polls instead of losing it.

    kafka-python 3.0 (3.0.12, and its master of 2026-08) runs JoinGroup + SyncGroup as a task on
    its I/O thread; ``poll`` waits for it at most its own timeout and leaves it running. A task
    that finishes while no ``poll`` waits is lost one of two ways: the next ``poll`` sees it done
    and sends a new JoinGroup, or, when the rejoin was caused by new topic metadata, the leader's
    assignment has already updated the metadata snapshot, ``need_rejoin()`` turns false and nothing
    ever applies the result (the member also stops heartbeating until its session expires). Either
    way the member keeps its old partitions while the others get theirs, so two members own one
    partition (for the stream assigner: one stream watched twice), and from the leader a new
    JoinGroup starts another rebalance, which can repeat until the group never settles. It shows
    under load, or with several consumers polled in turn from one thread
    (tests/events/test_kafka_group_join.py forces it).

    Here a finished, successful join counts as a reason to rejoin and is then applied the way
    kafka-python applies one it waited for: the same state changes, the same rebalance callbacks.
    Everything else is left to kafka-python. Both run on the I/O thread, between its awaits.
    """
    from kafka.structs import MemberState

    join_group, need_rejoin = coordinator.join_group_async, coordinator.need_rejoin

    def finished_join() -> Any:
        task = coordinator._join_task
        return task if task is not None and task.succeeded() else None

    def need_rejoin_or_finish() -> bool:
        return finished_join() is not None or bool(need_rejoin())

    async def join_group_keeping_finished(timeout_ms: int | None = None) -> bool:
        finished = finished_join()
        if finished is None:
            return bool(await join_group(timeout_ms))
        coordinator._join_task = None
        with coordinator._lock:
            coordinator.rejoining = False
            coordinator.rejoin_needed = False
            coordinator.state = MemberState.STABLE
            coordinator._enable_heartbeat()
        generation = coordinator._generation
        await coordinator._on_join_complete_async(generation.generation_id, generation.member_id,
                                                  generation.protocol, finished.value)
        return True

    coordinator.need_rejoin = need_rejoin_or_finish
    coordinator.join_group_async = join_group_keeping_finished


def make_admin(options: KafkaOptions, role: str, **settings: Any) -> Any:
    """A ``KafkaAdminClient`` for ``role``."""
    return _make("KafkaAdminClient", options, role, settings)


def _make(kind: str, options: KafkaOptions, role: str, settings: Mapping[str, Any], *,
          topics: tuple[str, ...] = (), group: Mapping[str, Any] | None = None) -> Any:
    import kafka
    from kafka.errors import KafkaConfigurationError, KafkaError

    owned = _OWNED & set(settings)
    if owned:
        raise TypeError(f"{', '.join(sorted(owned))}: set by KafkaOptions, not by the caller")
    base = options.client_settings(role)
    _mask_secrets(options.security)
    try:
        return getattr(kafka, kind)(*topics, **base, **(group or {}), **settings)
    except KafkaConfigurationError:
        raise
    except KafkaError as exc:
        raise KafkaUnavailable(options.bootstrap_servers, f"{type(exc).__name__}: {exc}") from None


def ensure_topics(options: KafkaOptions, topics: Iterable[str], *, partitions: int, replication_factor: int = 1,
                  configs: Mapping[str, str] | None = None, timeout_s: float = 15.0, role: str = "admin") -> list[str]:
    """Create those of ``topics`` that do not exist yet (an existing topic is left as it is); returns the created.

    Idempotent, and a race with another process creating the same topic is fine.
    """
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    timeout_ms = int(timeout_s * 1000)
    admin = make_admin(options, role, request_timeout_ms=timeout_ms, bootstrap_timeout_ms=timeout_ms)
    created = []
    try:
        existing = set(admin.list_topics())
        for topic in [t for t in topics if t not in existing]:
            try:
                admin.create_topics([NewTopic(topic, partitions, replication_factor, topic_configs=dict(configs or {}))])
            except TopicAlreadyExistsError:
                continue
            created.append(topic)
            log.info("created Kafka topic %s", topic, extra={"topic": topic, "partitions": partitions})
    finally:
        admin.close()
    return created


def check_broker(options: KafkaOptions, timeout_s: float = 5.0,
                 hint: str = "start it or unset --kafka / LIVEWATCH_KAFKA to use the embedded broker") -> None:
    """Fail fast with one clear line when the configured Kafka cannot be reached (or refuses our settings)."""
    bootstrap = options.bootstrap_servers or ""
    addresses = [a.strip() for a in bootstrap.split(",") if a.strip()]
    reasons = []
    for address in addresses:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise LivewatchError(f"bad Kafka address {address!r}: use HOST:PORT[,HOST:PORT...]")
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
            break
        except OSError as exc:
            reasons.append(f"{address}: {exc.strerror or exc}")
    else:
        raise LivewatchError(f"cannot reach Kafka at {bootstrap}: {'; '.join(reasons) or 'no address'}; {hint}")
    timeout_ms = int(timeout_s * 1000)
    try:
        admin = make_admin(options, "check", request_timeout_ms=timeout_ms, bootstrap_timeout_ms=timeout_ms)
        try:
            admin.list_topics()
        finally:
            admin.close()
    except KafkaUnavailable as exc:
        raise LivewatchError(f"cannot reach Kafka at {bootstrap}: {exc.reason}; {hint}") from None
    except Exception as exc:
        raise LivewatchError(f"cannot reach Kafka at {bootstrap}: {type(exc).__name__}: {exc}; {hint}") from None
