"""Kafka in and out: the alert consumer, the outbox publisher and the live-feed hub.

- :class:`AlertConsumer` reads the alert topics (``livewatch.alerts`` and ``livewatch.alerts.shadow``),
  stores each alert (idempotent by id and revision), tells the live feed,
  queues takedowns for enforce-mode ``takedown`` alerts, then commits offsets:
  a crash between store and commit only redelivers what the store dedupes.
- :class:`OutboxPublisher` sends what the store queued (decisions, takedown
  calls, DLQ entries) in order, so a broker outage delays records, never loses them.
- :class:`LiveHub` fans new alerts out to the server-sent-event streams of
  every open browser, from the consumer thread into the event loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from typing import Any, Callable

from dashboard.evidence import FEED_TITLE_CHARS, key_snapshot, shorten
from dashboard.stages import check_alert
from dashboard.store import Store
from events.kafka import KafkaOptions, make_consumer, make_producer

log = logging.getLogger(__name__)

Feed = asyncio.Queue[dict[str, Any] | None]
"""One subscriber's events; None: the stream ends (shutdown)."""


class LiveHub:
    """Thread-safe fan-out of events to asyncio subscribers (one queue per SSE stream)."""

    def __init__(self, max_queue: int = 256) -> None:
        self._subs: set[tuple[asyncio.AbstractEventLoop, Feed]] = set()
        self._lock = threading.Lock()
        self._max_queue = max_queue

    def subscribe(self) -> Feed:
        queue: Feed = asyncio.Queue(self._max_queue)
        with self._lock:
            self._subs.add((asyncio.get_running_loop(), queue))
        return queue

    def unsubscribe(self, queue: Feed) -> None:
        with self._lock:
            self._subs = {s for s in self._subs if s[1] is not queue}

    def publish(self, event: dict[str, Any] | None) -> None:
        """Hand ``event`` to every subscriber; None tells streams to end (shutdown)."""
        with self._lock:
            subs = list(self._subs)
        for loop, queue in subs:
            try:
                loop.call_soon_threadsafe(_offer, queue, event)
            except RuntimeError:  # that loop is closed
                self.unsubscribe(queue)


def _offer(queue: Feed, event: dict[str, Any] | None) -> None:
    """A slow browser loses old feed items rather than blocking the consumer."""
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(event)


class Worker:
    """A daemon thread running ``step`` until stopped, backing off after errors."""

    name = "loop"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Worker:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self.close()

    def _run(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            try:
                self.step()
                delay = 0.5
            except Exception as exc:
                log.warning("%s failed, retrying in %.1f s: %s", self.name, delay, exc)
                self.close()
                self._stop.wait(delay)
                delay = min(delay * 2, 10.0)

    def step(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Drop the Kafka client so the next step reconnects."""


class AlertConsumer(Worker):
    """Consumes alert topics into the store and the live feed."""

    name = "alert-consumer"

    def __init__(self, store: Store, hub: LiveHub, kafka: KafkaOptions, group_id: str,
                 on_alert: Callable[[dict[str, Any]], None]) -> None:
        super().__init__()
        self.store, self.hub, self.kafka = store, hub, kafka
        self.topics = [kafka.topics.alerts, kafka.topics.shadow_alerts]
        self.group_id, self.on_alert = group_id, on_alert
        self._consumer: Any = None

    def step(self) -> None:
        if self._consumer is None:
            self._consumer = make_consumer(self.kafka, "dashboard", *self.topics, group_id=self.group_id,
                                           auto_offset_reset="earliest", enable_auto_commit=False)
        batches = self._consumer.poll(timeout_ms=500)
        for records in batches.values():
            for record in records:
                self.handle(record.value, record.topic)
        if batches:
            self._consumer.commit()

    def handle(self, raw: bytes | None, topic: str) -> bool:
        """Store one alert record; True when it was new or a newer revision."""
        try:
            data = json.loads(raw or b"")
            check_alert(data)  # refuses records that are not alerts
        except ValueError as exc:
            log.warning("skipping a record that is not an alert on %s: %s", topic, exc)
            return False
        if not self.store.upsert_alert(data):
            return False
        self.hub.publish({"type": "alert", "alert": summary(data)})
        self.on_alert(data)
        return True

    def close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            try:
                consumer.close()
            except Exception:
                pass


class OutboxPublisher(Worker):
    """Sends queued records to Kafka in order, marking each sent once the broker acked it."""

    name = "outbox-publisher"

    def __init__(self, store: Store, kafka: KafkaOptions, poll_s: float = 0.5) -> None:
        super().__init__()
        self.store, self.kafka, self.poll_s = store, kafka, poll_s
        self._producer: Any = None

    def step(self) -> None:
        rows = self.store.unsent(limit=100)
        if not rows:
            self._stop.wait(self.poll_s)
            return
        if self._producer is None:
            self._producer = make_producer(self.kafka, "dashboard-outbox", acks="all", retries=5,
                                           max_in_flight_requests_per_connection=1)
        futures = [
            (row["id"], self._producer.send(row["topic"], key=row["key"].encode(), value=row["value"].encode()))
            for row in rows
        ]
        self._producer.flush(timeout=10)
        sent = []
        try:
            for row_id, future in futures:
                future.get(timeout=10)  # raises on failure: the rest stay queued, in order
                sent.append(row_id)
        finally:
            self.store.mark_sent(sent)

    def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.close(timeout=2)
            except Exception:
                pass


def summary(alert: dict[str, Any]) -> dict[str, Any]:
    """The fields a feed row shows (the full alert stays on its page)."""
    keys = ("alert_id", "revision", "stream_id", "rule_id", "rule_version", "category", "severity", "mode",
            "action", "brand", "title", "score", "confidence", "detected_at", "media_start", "media_end")
    out = {k: alert.get(k) for k in keys}
    title = str(out["title"] or "")
    return out | {"title": shorten(title), "title_truncated": len(title) > FEED_TITLE_CHARS,
                  "key_snapshot": key_snapshot(alert), "received_at": time.time()}
