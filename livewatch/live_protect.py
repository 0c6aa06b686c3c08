"""Streams protected while they are live: catch a re-broadcast of a show while both are on air.

``livewatch protect STREAM_ID [--off]`` (and the dashboard, for ops) writes a
record to the compacted control topic ``livewatch.protect`` (``KafkaTopics.protect``), keyed by stream
id, valued ``{"stream_id": ..., "protected": true|false}``; compaction keeps
the latest per stream, so reading it from the beginning gives the protected
set. Every worker runs one :class:`LiveProtection` thread that

- follows that topic and marks the streams protected in its fingerprint
  index (all of them: whichever worker watches a stream, now or after a
  hand-over, fingerprints it);
- publishes what the index computed for the protected streams it watches
  (``FingerprintIndex.drain_live``) to ``livewatch.fingerprints.live``
  (``KafkaTopics.live_fingerprints``), keyed
  by source stream id, one ``events.LiveFingerprints`` JSON per record;
- reads every worker's batches from that topic into its index, starting at
  the first record of the live window, so a worker started later still knows
  a show protected earlier.

The matching itself, the live window and "a stream never matches its own
content" belong to ``frames.fingerprint``; Kafka clients come from ``events.kafka``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterable

from events import LiveFingerprints, LivewatchError
from events.kafka import KafkaOptions, ensure_topics, make_consumer, make_producer
from frames.fingerprint import FingerprintIndex
from livewatch.assignment import validate_stream_id

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class LiveProtectOptions:
    """Timing of live protection; ``window_s`` is the index's ``live_window_s`` (how far back a
    starting worker reads fingerprints, and the fingerprints topic's retention when it creates it).
    The topics are ``KafkaTopics.protect`` and ``KafkaTopics.live_fingerprints``."""

    partitions: int = 3
    window_s: float = 3600.0
    poll_timeout_ms: int = 200  # also how often the outbox is published
    request_timeout_s: float = 10.0
    max_backoff_s: float = 10.0


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


def _producer(kafka: KafkaOptions, options: LiveProtectOptions) -> Any:
    return make_producer(kafka, "live", acks="all", linger_ms=5, max_block_ms=int(options.request_timeout_s * 1000))


def ensure_live_topics(kafka: KafkaOptions, options: LiveProtectOptions) -> None:
    """The compacted control topic and the fingerprints topic (kept for the live window), unless they exist."""
    timeout_s = options.request_timeout_s
    ensure_topics(kafka, [kafka.topics.protect], partitions=options.partitions,
                  configs={"cleanup.policy": "compact"}, timeout_s=timeout_s, role="live")
    ensure_topics(kafka, [kafka.topics.live_fingerprints], partitions=options.partitions,
                  configs={"retention.ms": str(int(options.window_s * 1000))}, timeout_s=timeout_s, role="live")


class ProtectControl:
    """Mark streams protected or not, through the control topic (``livewatch protect``, the dashboard)."""

    def __init__(self, kafka: KafkaOptions, options: LiveProtectOptions = LiveProtectOptions()) -> None:
        self.kafka = kafka
        self.options = options

    def set(self, stream_id: str, on: bool = True) -> None:
        """Ask the worker watching ``stream_id`` to publish its fingerprints (``on``) or to stop."""
        from kafka.errors import KafkaError

        validate_stream_id(stream_id)
        try:
            ensure_live_topics(self.kafka, self.options)
            producer = _producer(self.kafka, self.options)
            key, value = encode_protect(stream_id, on)
            try:
                producer.send(self.kafka.topics.protect, key=key, value=value).get(timeout=self.options.request_timeout_s)
            finally:
                producer.close(timeout=2)
        except KafkaError as exc:
            raise LivewatchError(f"could not write the protect request for stream {stream_id!r} to "
                                 f"{self.kafka.topics.protect} on {self.kafka.bootstrap_servers}: {exc}; "
                                 "check the broker and retry") from None
        log.info("stream protection set", extra={"stream_id": stream_id, "protected": on})


class LiveProtection:
    """A worker's live-protection thread: control topic -> index, outbox -> topic, topic -> index."""

    def __init__(self, kafka: KafkaOptions, index: FingerprintIndex, options: LiveProtectOptions = LiveProtectOptions()) -> None:
        self.kafka = kafka
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
        ensure_live_topics(self.kafka, o)
        consumer = make_consumer(self.kafka, "live", group_id=None, enable_auto_commit=False,
                                 request_timeout_ms=int(o.request_timeout_s * 1000))
        producer = _producer(self.kafka, o)
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

        o, topics = self.options, self.kafka.topics
        control = [TopicPartition(topics.protect, p) for p in sorted(consumer.partitions_for_topic(topics.protect) or ())]
        prints = [TopicPartition(topics.live_fingerprints, p)
                  for p in sorted(consumer.partitions_for_topic(topics.live_fingerprints) or ())]
        if not control or not prints:
            raise LivewatchError(f"topics {topics.protect} and {topics.live_fingerprints} have no partitions yet")
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
            if record.topic == self.kafka.topics.protect:
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
            producer.send(self.kafka.topics.live_fingerprints, key=batch.source_stream.encode(), value=value).add_errback(
                lambda exc, sid=batch.source_stream: log.error("live fingerprints not published: %s", exc,
                                                               extra={"stream_id": sid}))
            self.published += 1
