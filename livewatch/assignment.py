"""Which worker watches which stream: assignment through Kafka itself.

Requests to start or stop watching a stream are records on the compacted
control topic (``KafkaOptions.topics.streams``, ``livewatch.streams``), keyed by stream id, valued
``{"action": "start"|"stop", "stream_id": ..., "url": ...}``. Compaction keeps
the latest request per stream, so reading the topic to the end gives the
desired set of streams.

Workers join one consumer group on that topic. A stream lives in the partition
its key hashes to, and the worker holding a partition watches that partition's
streams. Kafka's group protocol then gives us the distributed part for free:

- **hand-over**: a partition is revoked from its old owner (which stops its
  streams inside the revoke callback) before any other member gets it, so in
  steady state no stream is watched twice;
- **failure**: a dead worker stops heartbeating; after ``session_timeout_ms``
  the group rebalances and its partitions, hence its streams, move to the
  survivors;
- **state**: a newly assigned partition is replayed from the beginning (no
  committed offsets), so a worker rebuilds the desired state from the topic
  alone and starts the streams once it has caught up to the end.

The cooperative-sticky assignor (KIP-429) moves only the partitions that must
move, so a worker joining or leaving does not restart everybody's streams.

    kafka = KafkaOptions(bootstrap_servers="127.0.0.1:9092")
    control = StreamControl(kafka)
    control.add("shop-42", "rtmp://live.example/app/shop-42")

    assigner = StreamAssigner(kafka, "livewatch-workers", on_start, on_stop)
    assigner.start()          # a background thread; or run() in your own
    ...
    assigner.close()          # stops its streams, leaves the group
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.coordinator.assignors.cooperative_sticky import CooperativeStickyAssignor
from kafka.errors import KafkaError

from events import ConfigError, LivewatchError
from events.kafka import KafkaOptions, ensure_topics, make_consumer, make_producer

log = logging.getLogger(__name__)

DEFAULT_GROUP = "livewatch-workers"
START, STOP = "start", "stop"
_STREAM_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")

OnStart = Callable[[str, str], None]
OnStop = Callable[[str], None]


@dataclass(frozen=True)
class AssignmentOptions:
    """How the control topic is set up and read.

    ``partitions`` bounds how many workers can share the streams (one partition
    goes to one worker) and how evenly; it is fixed when the topic is created.
    The topic's name, and the group's session timeout (how long a dead
    worker's streams go unwatched), are Kafka settings: ``KafkaOptions``.
    """

    partitions: int = 12
    replication_factor: int = 1
    poll_timeout_ms: int = 200
    request_timeout_s: float = 15.0


def validate_stream_id(stream_id: str) -> str:
    """Stream ids are Kafka keys, metric labels and file names: keep them plain."""
    if not isinstance(stream_id, str) or not _STREAM_ID.fullmatch(stream_id):
        raise ConfigError(
            f"stream id {stream_id!r} is not valid: use 1-128 letters, digits, '.', '_', ':' or '-', "
            "starting with a letter or digit"
        )
    return stream_id


def encode_request(action: str, stream_id: str, url: str | None = None) -> tuple[bytes, bytes]:
    """(key, value) of one control record."""
    return stream_id.encode(), json.dumps({"action": action, "stream_id": stream_id, "url": url}).encode()


def decode_request(key: bytes | None, value: bytes | None) -> tuple[str, str | None] | None:
    """(stream_id, url) for a start, (stream_id, None) for a stop or a tombstone, None if unreadable."""
    if key is None:
        return None
    stream_id = key.decode("utf-8", "replace")
    if value is None:
        return stream_id, None
    try:
        request = json.loads(value)
        action, url = request["action"], request.get("url")
    except (ValueError, TypeError, KeyError):
        log.warning("unreadable stream control record skipped", extra={"stream_id": stream_id})
        return None
    if action == START and isinstance(url, str) and url:
        return stream_id, url
    if action == STOP:
        return stream_id, None
    log.warning("unknown stream control action skipped", extra={"stream_id": stream_id, "action": action})
    return None


def apply_request(desired: dict[str, str], key: bytes | None, value: bytes | None) -> None:
    """Fold one control record into the desired {stream_id: url} state."""
    request = decode_request(key, value)
    if request is None:
        return
    stream_id, url = request
    if url is None:
        desired.pop(stream_id, None)
    else:
        desired[stream_id] = url


def ensure_topic(kafka: KafkaOptions, options: AssignmentOptions) -> None:
    """Create the compacted control topic unless it exists (idempotent, races are fine)."""
    ensure_topics(kafka, [kafka.topics.streams], partitions=options.partitions,
                  replication_factor=options.replication_factor, configs={"cleanup.policy": "compact"},
                  timeout_s=options.request_timeout_s, role="streams")


class StreamControl:
    """Add, remove and list the streams to watch, through the control topic."""

    def __init__(
        self,
        kafka: KafkaOptions,
        options: AssignmentOptions = AssignmentOptions(),
        *,
        validate_url: Callable[[str], str] | None = None,
    ) -> None:
        """``validate_url`` (e.g. ``ingest.validate_source``) rejects bad sources before they reach any worker."""
        self.kafka = kafka
        self.topic = kafka.topics.streams
        self.options = options
        self._validate_url = validate_url
        self._producer: KafkaProducer | None = None

    def _send(self, action: str, stream_id: str, url: str | None) -> None:
        if self._producer is None:
            ensure_topic(self.kafka, self.options)
            self._producer = make_producer(self.kafka, "streams", acks="all", request_timeout_ms=self._timeout_ms)
        key, value = encode_request(action, stream_id, url)
        try:
            self._producer.send(self.topic, key=key, value=value).get(timeout=self.options.request_timeout_s)
        except KafkaError as exc:
            raise LivewatchError(
                f"could not write the {action} request for stream {stream_id!r} to {self.topic} "
                f"on {self.kafka.bootstrap_servers}: {exc}; check the broker and retry"
            ) from None

    def add(self, stream_id: str, url: str) -> None:
        """Ask the workers to watch ``url`` as ``stream_id`` (a new URL replaces the old one)."""
        validate_stream_id(stream_id)
        if self._validate_url is not None:
            url = self._validate_url(url)
        self._send(START, stream_id, url)
        log.info("stream added", extra={"stream_id": stream_id})

    def remove(self, stream_id: str) -> None:
        """Ask the workers to stop watching ``stream_id`` (no error if it was not watched)."""
        validate_stream_id(stream_id)
        self._send(STOP, stream_id, None)
        log.info("stream removed", extra={"stream_id": stream_id})

    def list(self) -> dict[str, str]:
        """The desired streams, {stream_id: url}, read from the start of the control topic to its end."""
        ensure_topic(self.kafka, self.options)
        consumer = make_consumer(self.kafka, "streams", enable_auto_commit=False, request_timeout_ms=self._timeout_ms)
        try:
            return read_desired(consumer, self.topic, self.options.request_timeout_s)
        finally:
            consumer.close()

    @property
    def _timeout_ms(self) -> int:
        return int(self.options.request_timeout_s * 1000)

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close()
            self._producer = None

    def __enter__(self) -> StreamControl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_desired(consumer: KafkaConsumer, topic: str, timeout_s: float) -> dict[str, str]:
    """Fold every record of ``topic`` up to its current end into {stream_id: url}."""
    partitions = consumer.partitions_for_topic(topic) or set()
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    desired: dict[str, str] = {}
    if not tps:
        return desired
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    ends = consumer.end_offsets(tps)
    deadline = time.monotonic() + timeout_s
    while any(consumer.position(tp) < ends[tp] for tp in tps):
        if time.monotonic() > deadline:
            raise LivewatchError(f"timed out reading {topic}: the broker answers too slowly; retry")
        for records in consumer.poll(200).values():
            for record in records:
                apply_request(desired, record.key, record.value)
    return desired


@dataclass
class _Partition:
    """What one held partition wants watched, and whether we have read it to the end yet."""

    desired: dict[str, str] = field(default_factory=dict)
    end_offset: int | None = None  # the end at assignment time; None until fetched
    live: bool = False  # caught up: its desired streams are being watched


class StreamAssigner(ConsumerRebalanceListener):  # type: ignore[misc]  # kafka-python ships no type information
    """One worker's share of the streams: calls ``on_start``/``on_stop`` as partitions and requests come and go.

    ``on_start(stream_id, url)`` must begin watching and return promptly;
    ``on_stop(stream_id)`` must return once the stream is no longer watched
    (that is the hand-over guarantee) and within the session timeout, since it
    runs inside the rebalance. A callback that raises is logged and the stream
    is treated as not running; it is retried on its next request or rebalance.
    The callbacks are serialized (never two at once) but may run on the
    consumer's I/O thread as well as on the polling thread.
    """

    def __init__(
        self,
        kafka: KafkaOptions,
        group_id: str,
        on_start: OnStart,
        on_stop: OnStop,
        options: AssignmentOptions = AssignmentOptions(),
    ) -> None:
        self.kafka = kafka
        self.topic = kafka.topics.streams
        self.group_id = group_id
        self.options = options
        self._on_start = on_start
        self._on_stop = on_stop
        self._lock = threading.RLock()
        self._partitions: dict[int, _Partition] = {}
        self._running: dict[str, tuple[int, str]] = {}  # stream_id -> (partition, url)
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self._consumer: KafkaConsumer | None = None
        self._error: BaseException | None = None

    # -- public -----------------------------------------------------------------

    def start(self) -> StreamAssigner:
        """Run :meth:`run` in a daemon thread (it connects and joins the group there)."""
        self._thread = threading.Thread(target=self._run_captured, name=f"assigner-{self.group_id}", daemon=True)
        self._thread.start()
        return self

    def run(self) -> None:
        """Join the group and follow the control topic until :meth:`close` (blocking)."""
        ensure_topic(self.kafka, self.options)
        consumer = make_consumer(
            self.kafka,
            "streams",
            group_id=self.group_id,
            enable_auto_commit=False,  # state is rebuilt by replay, offsets are never used
            auto_offset_reset="earliest",
            request_timeout_ms=int(self.options.request_timeout_s * 1000),
            partition_assignment_strategy=(CooperativeStickyAssignor,),
        )
        self._consumer = consumer
        try:
            consumer.subscribe([self.topic], listener=self)
            while not self._closing.is_set():
                self._poll_once(consumer)
        finally:
            self._stop_all()
            consumer.close()  # leaves the group: survivors rebalance at once
            self._consumer = None

    def close(self, timeout_s: float = 30.0) -> None:
        """Stop this worker's streams and leave the group (others take the partitions over)."""
        self._closing.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def owned(self) -> dict[str, str]:
        """The streams this worker watches now, {stream_id: url}."""
        with self._lock:
            return {stream_id: url for stream_id, (_, url) in self._running.items()}

    def partitions(self) -> set[int]:
        """The control-topic partitions this worker holds."""
        with self._lock:
            return set(self._partitions)

    @property
    def ready(self) -> bool:
        """In the group, holding partitions, all of them read to the end (for /readyz)."""
        with self._lock:
            return self._thread_alive() and bool(self._partitions) and all(p.live for p in self._partitions.values())

    @property
    def error(self) -> BaseException | None:
        """What stopped the background thread, if anything did."""
        return self._error

    # -- rebalance listener (runs on the consumer's I/O thread) ------------------

    def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        with self._lock:
            for tp in revoked:
                if tp.topic != self.topic:
                    continue
                self._partitions.pop(tp.partition, None)
                for stream_id in [s for s, (p, _) in self._running.items() if p == tp.partition]:
                    self._stop_stream(stream_id, "partition revoked")

    def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        tps = [tp for tp in assigned if tp.topic == self.topic]
        with self._lock:
            for tp in tps:
                self._partitions[tp.partition] = _Partition()
        if tps and self._consumer is not None:
            self._consumer.seek_to_beginning(*tps)  # replay: the topic is the state
        log.info("stream partitions assigned", extra={"group": self.group_id, "partitions": sorted(tp.partition for tp in tps)})

    # -- internals -----------------------------------------------------------------

    def _run_captured(self) -> None:
        try:
            self.run()
        except BaseException as exc:  # surfaced through .error and readiness
            self._error = exc
            log.exception("stream assigner stopped", extra={"group": self.group_id})

    def _thread_alive(self) -> bool:
        return self._thread is None or self._thread.is_alive()

    def _poll_once(self, consumer: KafkaConsumer) -> None:
        batches = consumer.poll(timeout_ms=self.options.poll_timeout_ms)
        with self._lock:
            for tp, records in batches.items():
                part = self._partitions.get(tp.partition)
                if part is None:
                    continue  # revoked while the batch was in flight
                for record in records:
                    apply_request(part.desired, record.key, record.value)
                if part.live:
                    self._reconcile(tp.partition, part)
        self._catch_up(consumer)

    def _catch_up(self, consumer: KafkaConsumer) -> None:
        """Mark replayed partitions live once read to their end at assignment, then start their streams."""
        with self._lock:
            pending = {p: part for p, part in self._partitions.items() if not part.live}
        if not pending:
            return
        tps = {p: TopicPartition(self.topic, p) for p in pending}
        need_end = [tps[p] for p, part in pending.items() if part.end_offset is None]
        ends = consumer.end_offsets(need_end) if need_end else {}
        positions = {}
        for p, tp in tps.items():
            try:
                positions[p] = consumer.position(tp)
            except (KafkaError, AssertionError, ValueError):
                continue  # revoked meanwhile
        with self._lock:
            for p, part in pending.items():
                if self._partitions.get(p) is not part:
                    continue
                if part.end_offset is None:
                    part.end_offset = ends.get(tps[p])
                position = positions.get(p)
                if part.end_offset is not None and position is not None and position >= part.end_offset:
                    part.live = True
                    self._reconcile(p, part)

    def _reconcile(self, partition: int, part: _Partition) -> None:
        """Make the running streams of ``partition`` match its desired state (lock held)."""
        for stream_id, (p, url) in list(self._running.items()):
            if p == partition and part.desired.get(stream_id) != url:
                self._stop_stream(stream_id, "stop requested" if stream_id not in part.desired else "url changed")
        for stream_id, url in part.desired.items():
            if stream_id not in self._running:
                self._start_stream(stream_id, url, partition)

    def _start_stream(self, stream_id: str, url: str, partition: int) -> None:
        try:
            self._on_start(stream_id, url)
        except Exception:
            log.exception("starting a stream failed", extra={"stream_id": stream_id})
            return
        self._running[stream_id] = (partition, url)
        log.info("watching stream", extra={"stream_id": stream_id, "partition": partition})

    def _stop_stream(self, stream_id: str, reason: str) -> None:
        self._running.pop(stream_id, None)
        try:
            self._on_stop(stream_id)
        except Exception:
            log.exception("stopping a stream failed", extra={"stream_id": stream_id})
        log.info("stopped watching stream", extra={"stream_id": stream_id, "reason": reason})

    def _stop_all(self) -> None:
        with self._lock:
            for stream_id in list(self._running):
                self._stop_stream(stream_id, "worker closing")
            self._partitions.clear()
