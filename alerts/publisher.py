"""Delivery of stored alerts to Kafka: in order, acknowledged, exactly once by alert id.

The worker appends to the ``AlertStore`` (durable first); a background thread
here sends unsent rows in append order with an idempotent ``acks=all``
producer and marks each row sent only once the broker acknowledged it. When the
broker is unreachable, rows stay in the store and the thread retries with
exponential backoff.

Why "exactly once" needs more than the idempotent producer: its de-duplication
holds only within one producer session. When a send fails or times out we
must throw the producer away (its connection and producer id may be dead, or
the broker restarted), and a new producer gets a new id, so re-sending a record
the broker did store would duplicate it. Rows whose send outcome is unknown
(``attempts > 0``, not sent) are therefore first looked up on the topic by
their ``alert_id``/``revision`` headers; only those not found are sent again.
Attempts are recorded in SQLite before the send, so this also holds across a
crash of the whole process.

When the store itself cannot be written (a full disk), ``emit`` keeps the
alert in a bounded memory queue instead of failing, and the delivery thread
appends the held alerts, in order, as soon as the store takes writes again
(``store_ok`` is False meanwhile: the process reports not-ready). Both kinds of
outage are logged as one line when they start, at most one "still down" line
per ``outage_report_s``, and one when they end.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterable

from alerts.store import AlertStore, StoredAlert, StoreWriteError
from events import Alert, Mode
from events.kafka import KafkaOptions, KafkaUnavailable, ensure_topics, make_consumer, make_producer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PublisherOptions:
    """Tuning of the delivery thread; the defaults suit a local or LAN broker."""

    partitions: int = 3  # for topics the publisher creates
    replication_factor: int = 1
    batch_size: int = 200
    send_timeout_s: float = 10.0  # a batch not acknowledged by then is "in doubt" and retried
    connect_timeout_s: float = 5.0
    initial_backoff_s: float = 0.2
    max_backoff_s: float = 5.0
    idle_poll_s: float = 0.5  # the store also wakes the thread on every append
    reconcile_timeout_s: float = 10.0
    create_topics: bool = True
    linger_ms: int = 5
    max_held: int = 10_000  # alerts kept in memory while the store cannot be written (oldest dropped beyond)
    store_retry_s: float = 1.0  # how often held alerts are offered to the store again
    outage_report_s: float = 10.0  # at most one "still down" line per this many seconds


class _Outage:
    """When a dependency went down, and whether a "still down" line is due (one per ``every_s``)."""

    def __init__(self, every_s: float) -> None:
        self.every_s = every_s
        self.since: float | None = None
        self._next = 0.0

    @property
    def down(self) -> bool:
        return self.since is not None

    def failed(self) -> str | None:
        """``"start"`` at the first failure, ``"still"`` when a reminder is due, else None."""
        now = time.monotonic()
        if self.since is None:
            self.since, self._next = now, now + self.every_s
            return "start"
        if now >= self._next:
            self._next = now + self.every_s
            return "still"
        return None

    def recovered(self) -> float | None:
        """Seconds it was down (None if it was not)."""
        if self.since is None:
            return None
        down_s, self.since = time.monotonic() - self.since, None
        return down_s


class AlertPublisher:
    """Sends the store's unsent alerts to ``kafka.topics.alerts`` (shadow-mode ones to ``.shadow_alerts``).

    Starts its delivery thread at once. ``emit(alert)`` appends to the store
    (so the publisher can serve as the worker's alert sink); ``flush`` waits for
    delivery, ``close`` drains and stops. Undelivered alerts stay in the store
    and go out when a publisher next runs on it. While the store cannot be
    written, emitted alerts wait in memory (``held``, at most ``max_held``) and
    ``store_ok`` is False.
    """

    def __init__(
        self,
        store: AlertStore,
        kafka: KafkaOptions,
        *,
        options: PublisherOptions = PublisherOptions(),
    ) -> None:
        self.store = store
        self.kafka = kafka
        self.topic = kafka.topics.alerts
        self.shadow_topic = kafka.topics.shadow_alerts
        self.options = options
        self.delivered = 0
        self.dropped = 0  # alerts lost because the memory queue was full while the store could not be written
        self.last_error: str | None = None
        self.store_error: str | None = None
        self._producer: Any = None
        self._held: collections.deque[Alert] = collections.deque()
        self._held_lock = threading.Lock()
        self._report_lock = threading.Lock()  # the store outage is seen by emitters and the delivery thread
        self._kafka_outage = _Outage(options.outage_report_s)
        self._store_outage = _Outage(options.outage_report_s)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alert-publisher", daemon=True)
        self._thread.start()

    # -- public --------------------------------------------------------------

    def emit(self, alert: Alert) -> bool:
        """Append ``alert`` to the store; the delivery thread picks it up. False if already stored.

        A store that cannot be written does not lose the alert: it waits in memory (after any
        alert already waiting, so the order holds) and is appended when the store recovers.
        """
        with self._held_lock:
            if not self._held:
                try:
                    appended = self.store.append(alert)
                except StoreWriteError as exc:
                    self._store_failed(exc)
                else:
                    self._store_recovered()
                    return appended
            self._hold(alert)
        return True

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every alert emitted before this call is stored and acknowledged; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        mark = None
        while True:
            if mark is None and not self.held:
                mark = self.store.last_seq()  # held alerts, once stored, are at or before this
            if mark is not None:
                pending = self.store.unsent(limit=1)
                if not pending or pending[0].seq > mark:
                    return True
            if not self._thread.is_alive() or (deadline is not None and time.monotonic() >= deadline):
                return False
            time.sleep(0.02)

    def close(self, timeout: float | None = 10.0) -> bool:
        """Drain for up to ``timeout`` s, then stop the thread; returns whether everything went out.

        Alerts still held in memory (the store never became writable) are lost: logged by id,
        and counted in ``lost``.
        """
        drained = self.flush(timeout)
        self._stop.set()
        self._thread.join(self.options.send_timeout_s + self.options.reconcile_timeout_s + 5)
        self._append_held()
        with self._held_lock:
            left = list(self._held)
        if left:
            log.error("%d alert(s) never reached the alert store %s and are lost: %s", len(left), self.store.path,
                      ", ".join(f"{a.alert_id} rev {a.revision}" for a in left[:20]) + (" ..." if len(left) > 20 else ""))
        return drained and not left

    @property
    def connected(self) -> bool:
        return self._producer is not None

    @property
    def held(self) -> int:
        """Alerts waiting in memory for the store to take writes again."""
        with self._held_lock:
            return len(self._held)

    @property
    def lost(self) -> int:
        """Alerts that will never be stored: dropped from a full memory queue, or still held after ``close``."""
        return self.dropped + (self.held if self._stop.is_set() else 0)

    @property
    def store_ok(self) -> bool:
        """False while the store cannot be written (alerts wait in memory): the process is not ready."""
        return not self._store_outage.down and not self.held

    @property
    def waiting(self) -> int:
        """Alerts not yet acknowledged by the broker: unsent in the store plus held in memory."""
        return self.store.counts()["unsent"] + self.held

    # -- the store cannot be written ------------------------------------------

    def _hold(self, alert: Alert) -> None:
        """Keep ``alert`` in memory (caller holds ``_held_lock``); beyond ``max_held`` the oldest is lost."""
        if len(self._held) >= self.options.max_held:
            victim = self._held.popleft()
            self.dropped += 1
            log.error("alert %s rev %d lost: %d alerts already wait in memory for the alert store %s",
                      victim.alert_id, victim.revision, self.options.max_held, self.store.path,
                      extra={"stream_id": victim.stream_id, "alert_id": victim.alert_id})
        self._held.append(alert)

    def _append_held(self) -> bool:
        """Append held alerts in order; True once none is left."""
        with self._held_lock:
            if not self._held:
                return True
            while self._held:
                try:
                    self.store.append(self._held[0])
                except StoreWriteError as exc:
                    self._store_failed(exc)
                    return False
                self._held.popleft()
            self._store_recovered()
            return True

    def _store_failed(self, exc: Exception) -> None:
        with self._report_lock:
            self.store_error = str(exc)
            report = self._store_outage.failed()
            since = self._store_outage.since or 0.0
        if report == "start":
            log.error("%s: alerts wait in memory (up to %d) and are stored when it takes writes again; not ready meanwhile",
                      exc, self.options.max_held)
        elif report == "still":
            log.error("alert store %s still cannot be written after %.0fs, %d alert(s) wait in memory: %s",
                      self.store.path, time.monotonic() - since, len(self._held), exc)

    def _store_recovered(self) -> None:
        with self._report_lock:
            down_s = self._store_outage.recovered()
            if down_s is not None:
                self.store_error = None
        if down_s is not None:
            log.warning("alert store %s takes writes again after %.0fs; alerts held in memory are stored",
                        self.store.path, down_s)

    def __enter__(self) -> AlertPublisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- delivery thread -----------------------------------------------------

    def _run(self) -> None:
        backoff = self.options.initial_backoff_s
        try:
            while not self._stop.is_set():
                if not self._append_held():
                    self._stop.wait(self.options.store_retry_s)
                    continue
                try:
                    batch = self.store.unsent(self.options.batch_size)
                    if not batch:
                        self.store.wait_for_append(self.options.idle_poll_s)
                        continue
                    self._deliver(batch)
                    self._store_recovered()  # its writes (attempts, acknowledgements) went through
                except (StoreWriteError, sqlite3.Error) as exc:  # the store, not the broker: rows stay, retried
                    self._store_failed(exc)
                    self._stop.wait(self.options.store_retry_s)
                    continue
                except Exception as exc:  # broker trouble: keep the rows, back off, start over
                    self.last_error = exc.reason if isinstance(exc, KafkaUnavailable) else f"{type(exc).__name__}: {exc}"
                    self._discard_producer()
                    self._kafka_failed()
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, self.options.max_backoff_s)
                    continue
                self._kafka_recovered()
                backoff = self.options.initial_backoff_s
        finally:
            self._discard_producer(graceful=True)

    def _kafka_failed(self) -> None:
        """One line when the outage starts, then one "still down" line per ``outage_report_s`` at most."""
        report = self._kafka_outage.failed()
        if report == "start":
            log.warning("cannot deliver alerts to Kafka at %s (%s): they stay in the store and are retried",
                        self.kafka.bootstrap_servers, self.last_error)
        elif report == "still":
            log.warning("Kafka at %s still down after %.0fs, %d alert(s) waiting: %s", self.kafka.bootstrap_servers,
                        time.monotonic() - (self._kafka_outage.since or 0), self.waiting, self.last_error)
        else:
            log.debug("delivery to Kafka failed again: %s", self.last_error)

    def _kafka_recovered(self) -> None:
        down_s = self._kafka_outage.recovered()
        if down_s is not None:
            log.info("delivering alerts to Kafka at %s again after %.0fs", self.kafka.bootstrap_servers, down_s)

    def _deliver(self, batch: list[StoredAlert]) -> None:
        producer = self._ensure_producer()
        in_doubt = [r for r in batch if r.attempts > 0]
        if in_doubt:
            found = self._already_on_topic(in_doubt)
            self.store.mark_sent_many([(row.seq, *found[(row.alert_id, row.revision)])
                                       for row in in_doubt if (row.alert_id, row.revision) in found])
            batch = [r for r in batch if (r.alert_id, r.revision) not in found]
            if found:
                log.info("%d alert(s) already on the topic from an earlier attempt, not sent again", len(found))
        if not batch:
            return
        self.store.mark_attempt([r.seq for r in batch])
        futures = [(row, producer.send(self._topic_for(row), key=row.stream_id.encode("utf-8"),
                                       value=row.payload.encode("utf-8"), headers=_headers(row)))
                   for row in batch]
        failure: Exception | None = None
        try:
            producer.flush(self.options.send_timeout_s)
        except Exception as exc:  # timed out: keep what was acknowledged, the rest is in doubt
            failure = exc
        acked = [(row, f.value) for row, f in futures if f.succeeded()]
        self.store.mark_sent_many([(row.seq, md.topic, md.partition, md.offset) for row, md in acked])
        self.delivered += len(acked)
        if len(acked) < len(futures):
            failure = failure or next((f.exception for _, f in futures if f.failed()), None)
            failure = failure or TimeoutError("no acknowledgement")
            with contextlib.suppress(StoreWriteError):  # only informational: the broker's failure is the news
                self.store.mark_failed([r.seq for r, f in futures if not f.succeeded()], str(failure))
            raise failure

    def _topic_for(self, row: StoredAlert) -> str:
        return self.shadow_topic if row.mode == Mode.SHADOW.value else self.topic

    def _ensure_producer(self) -> Any:
        if self._producer is not None:
            return self._producer
        opts = self.options
        send_ms = int(opts.send_timeout_s * 1000)
        producer = make_producer(
            self.kafka,
            "alerts",
            acks="all",
            enable_idempotence=True,
            linger_ms=opts.linger_ms,
            request_timeout_ms=max(1000, send_ms // 2),
            delivery_timeout_ms=send_ms + opts.linger_ms,
            max_block_ms=send_ms,
            bootstrap_timeout_ms=int(opts.connect_timeout_s * 1000),
            reconnect_backoff_max_ms=1000,
        )
        try:
            if opts.create_topics:
                ensure_topics(self.kafka, [self.topic, self.shadow_topic], partitions=opts.partitions,
                              replication_factor=opts.replication_factor, timeout_s=opts.connect_timeout_s,
                              role="alerts")
        except Exception:
            _close_quietly(producer)
            raise
        self._producer = producer
        return producer

    def _discard_producer(self, graceful: bool = False) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            _close_quietly(producer, timeout=1.0 if graceful else 0.0)

    def _already_on_topic(self, rows: list[StoredAlert]) -> dict[tuple[str, int], tuple[str, int, int]]:
        """Find in-doubt rows on their topics by header; returns {(alert_id, revision): (topic, partition, offset)}."""
        wanted = {(r.alert_id, r.revision) for r in rows}
        topics = sorted({self._topic_for(r) for r in rows})
        start = self._acked_offsets(topics, before_seq=min(r.seq for r in rows))
        return find_on_topics(self.kafka, topics, wanted, start, self.options)

    def _acked_offsets(self, topics: Iterable[str], before_seq: int) -> dict[tuple[str, int], int]:
        """Per partition, the offset after the last acknowledged row appended before ``before_seq``.

        Rows are sent in append order, so an in-doubt row can only have
        landed after those: the scan starts there instead of at the beginning.
        """
        wanted = set(topics)
        return {(topic, partition): last + 1
                for (topic, partition), last in self.store.last_acked_offsets(before_seq).items() if topic in wanted}


def _headers(row: StoredAlert) -> list[tuple[str, bytes]]:
    return [("alert_id", row.alert_id.encode()), ("revision", str(row.revision).encode()),
            ("schema_version", row.record.get("schema_version", "").encode())]


def _close_quietly(producer: Any, timeout: float = 0.0) -> None:
    """Close a producer and make sure its sender thread is gone, so it cannot send behind our back."""
    try:
        producer.close(timeout=timeout)
    except Exception:
        pass
    sender = getattr(producer, "_sender", None)  # kafka-python internals: close() may leave it running
    if sender is not None and sender.is_alive():
        sender.force_close()
        sender.join(5.0)


def find_on_topics(kafka: KafkaOptions, topics: list[str], wanted: set[tuple[str, int]],
                   start: dict[tuple[str, int], int], options: PublisherOptions) -> dict[tuple[str, int], tuple[str, int, int]]:
    """Scan ``topics`` (from ``start`` offsets, else the beginning) for records whose headers name ``wanted`` rows.

    Reads until every partition is past its end offset and a poll comes back
    empty (some Kafka-protocol brokers under-report end offsets, so the empty
    poll is what really ends the scan). Raises TimeoutError if that takes
    longer than ``reconcile_timeout_s``: the caller then retries later rather
    than risk sending twice.
    """
    from kafka import TopicPartition

    consumer = make_consumer(kafka, "alerts-reconcile", enable_auto_commit=False, auto_offset_reset="earliest",
                             request_timeout_ms=max(1000, int(options.connect_timeout_s * 1000)),
                             bootstrap_timeout_ms=int(options.connect_timeout_s * 1000))
    found: dict[tuple[str, int], tuple[str, int, int]] = {}
    try:
        parts = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        if not parts:
            return found
        consumer.assign(parts)
        ends = consumer.end_offsets(parts)
        for tp in parts:
            begin = start.get((tp.topic, tp.partition), 0)
            consumer.seek(tp, begin if begin <= ends[tp] else 0)  # past the end: the log was reset
        deadline = time.monotonic() + options.reconcile_timeout_s
        while True:
            batch = consumer.poll(timeout_ms=300)
            for records in batch.values():
                for rec in records:
                    headers = dict(rec.headers or ())
                    key = (headers.get("alert_id", b"").decode(), int(headers.get("revision", b"0") or 0))
                    if key in wanted:
                        found[key] = (rec.topic, rec.partition, rec.offset)
            if not batch and all(consumer.position(tp) >= ends[tp] for tp in parts):
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read {', '.join(topics)} to check in-doubt alerts")
    finally:
        consumer.close()
