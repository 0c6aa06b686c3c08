"""Streams protected while they are live: catch a re-broadcast of a show while both are on air.

``livewatch protect STREAM_ID [--off]`` (and the dashboard, for ops) writes a
record to the compacted control topic ``livewatch.protect``, keyed by stream
id, valued ``{"stream_id": ..., "protected": true|false}``; compaction keeps
the latest per stream, so reading it from the beginning gives the protected
set. Every worker runs one :class:`LiveProtection` thread that

- follows that topic and marks the streams protected in its fingerprint
  index (all of them: whichever worker watches a stream, now or after a
  hand-over, fingerprints it);
- publishes what the index computed for the protected streams it watches
  (``FingerprintIndex.drain_live``) to ``livewatch.fingerprints.live``, keyed
  by source stream id, one ``events.LiveFingerprints`` JSON per record;
- reads every worker's batches from that topic into its index, starting at
  the first record of the live window, so a worker started later still knows
  a show protected earlier.

The matching itself, the live window and "a stream never matches its own
content" belong to ``frames.fingerprint``. Kafka clients are made in
``_admin``, ``_producer`` and ``_consumer`` below, nowhere else in this module.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterable

from events import LiveFingerprints, LivewatchError
from frames.fingerprint import FingerprintIndex
from livewatch.assignment import validate_stream_id

log = logging.getLogger(__name__)

PROTECT_TOPIC = "livewatch.protect"
LIVE_FINGERPRINTS_TOPIC = "livewatch.fingerprints.live"


@dataclass(frozen=True)
class LiveProtectOptions:
    """Topics and timing of live protection; ``window_s`` is the index's ``live_window_s`` (how far back a
    starting worker reads fingerprints, and the fingerprints topic's retention when it creates it)."""

    protect_topic: str = PROTECT_TOPIC
    fingerprints_topic: str = LIVE_FINGERPRINTS_TOPIC
    partitions: int = 3
    window_s: float = 3600.0
    poll_timeout_ms: int = 200  # also how often the outbox is published
    request_timeout_s: float = 10.0
    max_backoff_s: float = 10.0
    client_id: str = "livewatch-live"


def encode_protect(stream_id: str, on: bool) -> tuple[bytes, bytes]:
    """(key, value) of one control record."""
    return stream_id.encode(), json.dumps({"stream_id": stream_id, "protected": on}).encode()


def decode_protect(key: bytes | None, value: bytes | None) -> tuple[str, bool] | None:
    """(stream_id, protected) of a control record (a tombstone is "not protected"), None if unreadable."""
    if key is None:
        return None
    stream_id = key.decode("utf-8", "replace")
    if value is None:
        return stream_id, False
    try:
        on = json.loads(value)["protected"]
    except (ValueError, TypeError, KeyError):
        on = None
    if not isinstance(on, bool):
        log.warning("unreadable protect record skipped", extra={"stream_id": stream_id})
        return None
    return stream_id, on


# --- Kafka clients (the only place this module makes them) -----------------------------------


def _admin(bootstrap: str, options: LiveProtectOptions) -> Any:
    from kafka import KafkaAdminClient

    return KafkaAdminClient(bootstrap_servers=bootstrap, client_id=options.client_id,
                            request_timeout_ms=int(options.request_timeout_s * 1000))


def _producer(bootstrap: str, options: LiveProtectOptions) -> Any:
    from kafka import KafkaProducer

    return KafkaProducer(bootstrap_servers=bootstrap, client_id=options.client_id, acks="all", linger_ms=5,
                         max_block_ms=int(options.request_timeout_s * 1000))


def _consumer(bootstrap: str, options: LiveProtectOptions) -> Any:
    from kafka import KafkaConsumer

    return KafkaConsumer(bootstrap_servers=bootstrap, client_id=options.client_id, group_id=None,
                         enable_auto_commit=False, request_timeout_ms=int(options.request_timeout_s * 1000))


def ensure_live_topics(bootstrap: str, options: LiveProtectOptions) -> None:
    """The compacted control topic and the fingerprints topic (kept for the live window), unless they exist."""
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = _admin(bootstrap, options)
    try:
        existing = set(admin.list_topics())
        configs = {options.protect_topic: {"cleanup.policy": "compact"},
                   options.fingerprints_topic: {"retention.ms": str(int(options.window_s * 1000))}}
        for topic, topic_configs in configs.items():
            if topic not in existing:
                try:
                    admin.create_topics([NewTopic(topic, options.partitions, 1, topic_configs=topic_configs)])
                    log.info("created Kafka topic %s", topic)
                except TopicAlreadyExistsError:
                    pass
    finally:
        admin.close()


class ProtectControl:
    """Mark streams protected or not, through the control topic (``livewatch protect``, the dashboard)."""

    def __init__(self, bootstrap: str, options: LiveProtectOptions = LiveProtectOptions()) -> None:
        self.bootstrap = bootstrap
        self.options = options

    def set(self, stream_id: str, on: bool = True) -> None:
        """Ask the worker watching ``stream_id`` to publish its fingerprints (``on``) or to stop."""
        from kafka.errors import KafkaError

        validate_stream_id(stream_id)
        try:
            ensure_live_topics(self.bootstrap, self.options)
            producer = _producer(self.bootstrap, self.options)
            key, value = encode_protect(stream_id, on)
            try:
                producer.send(self.options.protect_topic, key=key, value=value).get(timeout=self.options.request_timeout_s)
            finally:
                producer.close(timeout=2)
        except KafkaError as exc:
            raise LivewatchError(f"could not write the protect request for stream {stream_id!r} to "
                                 f"{self.options.protect_topic} on {self.bootstrap}: {exc}; check the broker and retry") from None
        log.info("stream protection set", extra={"stream_id": stream_id, "protected": on})


class LiveProtection:
    """A worker's live-protection thread: control topic -> index, outbox -> topic, topic -> index."""

    def __init__(self, bootstrap: str, index: FingerprintIndex, options: LiveProtectOptions = LiveProtectOptions()) -> None:
        self.bootstrap = bootstrap
        self.index = index
        self.options = options
        self.published = 0  # batches sent
        self.added = 0  # batches taken into the index
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="live-protection", daemon=True)

    def start(self) -> LiveProtection:
        self._thread.start()
        return self

    def close(self, timeout_s: float = 10.0) -> None:
        """Publish what is left in the outbox, then stop."""
        self._stop.set()
        self._thread.join(timeout_s)

    def _run(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            try:
                self._follow()
                return
            except Exception as exc:  # a broker outage: live protection resumes, the streams go on meanwhile
                log.warning("live protection interrupted, retrying in %.1f s: %s", delay, exc)
                self._stop.wait(delay)
                delay = min(delay * 2, self.options.max_backoff_s)

    def _follow(self) -> None:
        o = self.options
        ensure_live_topics(self.bootstrap, o)
        consumer, producer = _consumer(self.bootstrap, o), _producer(self.bootstrap, o)
        try:
            self._seek(consumer)
            while not self._stop.is_set():
                for records in consumer.poll(timeout_ms=o.poll_timeout_ms).values():
                    self._handle(records)
                self._publish(producer)
            self._publish(producer)
            producer.flush(timeout=o.request_timeout_s)
        finally:
            producer.close(timeout=1)
            consumer.close()

    def _seek(self, consumer: Any) -> None:
        """The control topic from its beginning; the fingerprints from the start of the live window."""
        from kafka import TopicPartition

        o = self.options
        control = [TopicPartition(o.protect_topic, p) for p in sorted(consumer.partitions_for_topic(o.protect_topic) or ())]
        prints = [TopicPartition(o.fingerprints_topic, p) for p in sorted(consumer.partitions_for_topic(o.fingerprints_topic) or ())]
        if not control or not prints:
            raise LivewatchError(f"topics {o.protect_topic} and {o.fingerprints_topic} have no partitions yet")
        consumer.assign(control + prints)
        consumer.seek_to_beginning(*control)
        since_ms = int((time.time() - o.window_s) * 1000)
        found = consumer.offsets_for_times({tp: since_ms for tp in prints})
        for tp in prints:
            if found.get(tp) is None:
                consumer.seek_to_end(tp)
            else:
                consumer.seek(tp, found[tp].offset)

    def _handle(self, records: Iterable[Any]) -> None:
        for record in records:
            if record.topic == self.options.protect_topic:
                request = decode_protect(record.key, record.value)
                if request is not None:
                    self.index.protect(*request)
                    log.info("stream protection %s", "on" if request[1] else "off", extra={"stream_id": request[0]})
                continue
            try:
                batch = LiveFingerprints.from_dict(json.loads(record.value))
                self.added += self.index.add_live(batch)
            except (ValueError, KeyError, TypeError, LivewatchError) as exc:
                log.warning("unreadable live fingerprints skipped: %s", exc, extra={"offset": record.offset})

    def _publish(self, producer: Any) -> None:
        for batch in self.index.drain_live():
            value = json.dumps(batch.to_dict()).encode()
            producer.send(self.options.fingerprints_topic, key=batch.source_stream.encode(), value=value).add_errback(
                lambda exc, sid=batch.source_stream: log.error("live fingerprints not published: %s", exc,
                                                               extra={"stream_id": sid}))
            self.published += 1
