"""Past one machine: the stream worker and the rules service of a Kafka deployment.

``livewatch worker`` joins a consumer group on the compacted control topic
(:mod:`livewatch.assignment`) and watches the streams of the partitions it
holds with a :class:`~livewatch.worker.Pipeline`. By default it judges its own
evidence and delivers alerts through its own outbox (``AlertStore`` +
``AlertPublisher``). With ``split`` it publishes the evidence to the evidence
topic (``livewatch.evidence``, key = stream id) instead, and ``livewatch
rules-service`` (a consumer group of its own) turns it into alerts, so
detector-heavy workers and the rules scale apart.

Watch sessions. Media time starts at 0 whenever a worker (re)opens a
stream, and rules derive alert ids from media time, so the worker that takes a
stream over would mint the same ids as the one that died for different
moments of the broadcast. Every start of a stream therefore opens a *session*
(a random token) in the rules engine (``RuleEngine.open_stream``), which
scopes the ids it makes by it: the id the engine logs is the id stored and
published. The split topic carries the session in a header, so the rules
service opens it too, and knows when a stream restarted elsewhere and closes
the old session's alerts first. Within one session ids stay deterministic
(revisions update one alert); across sessions every alert is a new one,
delivered once. A session that sends nothing for ``idle_session_s`` is closed
too: its worker died and nobody took the stream over, so no end marker comes.

Snapshots: in-process, the rules thread attaches the frame behind each piece of
alert evidence (the worker's recent frames). In split mode only snapshots the
detectors set themselves travel with the evidence (logo matches carry theirs);
OCR and ASR evidence reaches the rules service without a frame, since
snapshotting every piece of evidence "just in case" would write a JPEG per
observation to the shared volume.

Shutdown (SIGTERM): stop reading the sources, leave the group at once (the
survivors take the streams over), drain frames and audio already read, flush
alerts or evidence, all within ``drain_timeout_s``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, NamedTuple

from kafka import TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import KafkaError

from alerts import AlertPublisher, AlertStore
from events import Alert, ConfigError, Evidence, LivewatchError, SampledFrame, StreamState
from events.kafka import KafkaOptions, check_broker, ensure_topics, make_consumer, make_producer
from livewatch.assignment import DEFAULT_GROUP, AssignmentOptions, StreamAssigner
from livewatch.config import Config
from livewatch.health import check_free_space, watch_health
from livewatch.live_protect import LiveProtection, LiveProtectOptions
from livewatch.metrics import DEFAULT_METRICS_PORT, Metrics, MetricsServer
from livewatch.sinks import Complete, EvidenceSink, RulesThread
from livewatch.stages import Stages, VisionTimer
from livewatch.worker import Pipeline, new_session
from ocr import OcrStage

log = logging.getLogger(__name__)

RULES_GROUP = "livewatch-rules"
KIND_EVIDENCE, KIND_FINISH = b"evidence", b"finish"


@dataclass(frozen=True)
class ServiceOptions:
    """What the worker and the rules service share: metrics endpoint and shutdown budget."""

    metrics_host: str = "127.0.0.1"
    metrics_port: int = DEFAULT_METRICS_PORT  # 0: any free port (logged)
    drain_timeout_s: float = 30.0
    status_interval_s: float = 1.0
    broker_check_timeout_s: float = 10.0


@dataclass(frozen=True)
class WorkerOptions(ServiceOptions):
    """``livewatch worker``: which group, in-process rules or split stages."""

    group_id: str = DEFAULT_GROUP
    split: bool = False
    evidence_partitions: int = 12
    stop_join_s: float = 5.0  # on_stop runs inside a rebalance: bounded well under the session timeout
    assignment: AssignmentOptions = field(default_factory=AssignmentOptions)


@dataclass(frozen=True)
class RulesServiceOptions(ServiceOptions):
    """``livewatch rules-service``: its consumer group on the evidence topic."""

    group_id: str = RULES_GROUP
    evidence_partitions: int = 12
    poll_timeout_ms: int = 500
    # a session that sent nothing for this long is closed: its worker died and no other worker
    # took the stream over (it was removed meanwhile), so no end-of-stream marker will ever come
    idle_session_s: float = 3600.0


# --- watch sessions -----------------------------------------------------------


def with_url(alert: Alert, url: str | None) -> Alert:
    """The alert with its stream URL set (when it has none). Its id is the engine's, already session-scoped."""
    return dataclasses.replace(alert, stream_url=url) if alert.stream_url is None and url else alert


class Sessions:
    """stream id -> (session token, url) of the streams this process watches (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, tuple[str, str | None]] = {}

    def open(self, stream_id: str, url: str | None) -> str:
        token = new_session()
        with self._lock:
            self._items[stream_id] = (token, url)
        return token

    def get(self, stream_id: str) -> tuple[str, str | None]:
        """The stream's session; one is opened for a stream never seen (it cannot collide with a real one)."""
        with self._lock:
            found = self._items.get(stream_id)
        return found if found is not None else (self.open(stream_id, None), None)

    def drop(self, stream_id: str) -> None:
        with self._lock:
            self._items.pop(stream_id, None)


class SessionAlertSink:
    """The worker's alert sink: the stream URL, the alerts metric, then the outbox."""

    def __init__(self, publisher: AlertPublisher, sessions: Sessions, metrics: Metrics) -> None:
        self._publisher = publisher
        self._sessions = sessions
        self._metrics = metrics

    def emit(self, alert: Alert) -> None:
        _, url = self._sessions.get(alert.stream_id)
        emit_alert(self._publisher, self._metrics, with_url(alert, url))


def emit_alert(publisher: AlertPublisher, metrics: Metrics, alert: Alert) -> None:
    """Count a new alert, then append it to the outbox (the publisher delivers it)."""
    log.info("alert to outbox", extra={"stream_id": alert.stream_id, "alert_id": alert.alert_id, "revision": alert.revision})
    if alert.revision == 1:
        metrics.alerts.labels(stream_id=alert.stream_id, severity=alert.severity.value).inc()
    publisher.emit(alert)


# --- split stages: evidence over Kafka ----------------------------------------------


def evidence_record(ev: Evidence, session: str, url: str | None) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """(key, value, headers) of one evidence record on the evidence topic."""
    headers = [("kind", KIND_EVIDENCE), ("session", session.encode())]
    if url:
        headers.append(("url", url.encode()))
    return ev.stream_id.encode(), json.dumps(ev.to_dict(), ensure_ascii=False).encode(), headers


def finish_record(stream_id: str, session: str) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """The end-of-stream marker: the rules service closes the session's open alerts."""
    return stream_id.encode(), json.dumps({"stream_id": stream_id}).encode(), [("kind", KIND_FINISH), ("session", session.encode())]


class KafkaEvidenceSink:
    """An ``EvidenceSink``: the evidence topic, keyed by stream id (so one stream stays in order).

    The rules run in ``livewatch rules-service``, so no alert is raised here. Each record
    carries its stream's session and URL from ``sessions``, which the worker opens before the
    stream starts (its alert sink needs them too in the unsplit mode).
    """

    def __init__(self, kafka: KafkaOptions, sessions: Sessions) -> None:
        self.topic = kafka.topics.evidence
        self._sessions = sessions
        self._producer = make_producer(kafka, "evidence", acks="all", enable_idempotence=True, linger_ms=5,
                                       max_block_ms=10_000)

    def start(self, complete: Complete) -> None:
        """Nothing to complete: alerts are raised by the rules service."""

    def open(self, stream_id: str, session: str) -> None:
        """The session travels from ``sessions`` (with the URL the pipeline does not hand over)."""

    def depth(self) -> int:
        return 0  # the producer sends at once (batches of 5 ms)

    def publish(self, evidence: Evidence) -> None:
        session, url = self._sessions.get(evidence.stream_id)
        self._send(*evidence_record(evidence, session, url))

    def finish(self, stream_id: str) -> None:
        self._send(*finish_record(stream_id, self._sessions.get(stream_id)[0]))

    def _send(self, key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        extra = {"stream_id": key.decode(errors="replace")}
        try:
            future = self._producer.send(self.topic, key=key, value=value, headers=headers)
        except Exception as exc:  # the broker's outage must not kill the stream's thread
            log.error("evidence not published: %s", exc, extra=extra)
            return
        future.add_errback(lambda exc: log.error("evidence not published: %s", exc, extra=extra))

    def close(self, timeout: float) -> None:
        """Deliver what the producer still holds (bounded), then close it."""
        try:
            self._producer.flush(timeout=timeout)
        finally:
            self._producer.close(timeout=1)


# --- the stream worker ----------------------------------------------------------


@dataclass
class _Seen:
    """The cumulative figures of one watch session at the last metrics update."""

    sampled: int = 0
    skipped: int = 0
    dropped: int = 0


class StreamWorker:
    """One worker of the group: assignment callbacks -> pipeline, pipeline status -> metrics.

    It owns what it builds around the loaded stages: the pipeline with its evidence sink (the
    rules on a thread, delivering to the outbox and publisher it owns too, or the evidence
    topic's producer); ``start()`` joins the group, ``close()`` drains and leaves.
    :func:`run_worker` is the process around it.
    """

    def __init__(self, cfg: Config, options: WorkerOptions, metrics: Metrics, stages: Stages) -> None:
        self.cfg = cfg
        self.options = options
        self.metrics = metrics
        self.stages = stages
        self.sessions = Sessions()
        self._closing = threading.Event()
        self._seen: dict[str, _Seen] = {}
        self._store: AlertStore | None = None
        self.publisher: AlertPublisher | None = None
        from prometheus_client import Gauge

        self.stream_live = Gauge("stream_live", "1 while the stream is being read live, 0 once it ended or failed.",
                                 ["stream_id"], namespace="livewatch", registry=metrics.registry)
        evidence: EvidenceSink
        if options.split:
            ensure_topics(cfg.kafka, [cfg.kafka.topics.evidence], partitions=options.evidence_partitions)
            evidence = KafkaEvidenceSink(cfg.kafka, self.sessions)
        else:
            self._store = AlertStore(cfg.store_path, snapshot_root=cfg.snapshot_dir)
            self.publisher = AlertPublisher(self._store, cfg.kafka)
            evidence = RulesThread(stages.rules, SessionAlertSink(self.publisher, self.sessions, metrics))
            metrics.watch_queue("alerts_unsent", lambda: self._store.counts()["unsent"] if self._store else 0)
        self.pipeline = Pipeline(cfg, stages, evidence)
        for name in ("vision", "evidence"):
            metrics.watch_queue(name, functools.partial(self._queue_depth, name))
        watch_health(metrics, pipeline=self.pipeline, publisher=self.publisher, stages=stages)
        self.assigner = StreamAssigner(cfg.kafka, options.group_id, self._on_start, self._on_stop, options.assignment)
        # streams protected while live: fingerprints of the ones watched here out, everybody's in
        self.live: LiveProtection | None = None
        if stages.fingerprints is not None:
            window = LiveProtectOptions(window_s=stages.fingerprints.options.live_window_s)
            self.live = LiveProtection(cfg.kafka, stages.fingerprints, window)

    def _queue_depth(self, name: str) -> int:
        return self.pipeline.queue_depths()[name]

    # -- assignment callbacks (serialized by the assigner) --------------------------

    def _on_start(self, stream_id: str, url: str) -> None:
        if stream_id in self.pipeline.stream_ids():  # handed back before its old runner finished draining
            self.pipeline.remove_stream(stream_id, timeout=self.options.drain_timeout_s)
            self.pipeline.discard_stream(stream_id)
        session = self.sessions.open(stream_id, url)  # before the runner starts: its first evidence needs it
        self._seen[stream_id] = _Seen()
        try:
            self.pipeline.add_stream(stream_id, url, session)
        except BaseException:
            self._seen.pop(stream_id, None)
            self.sessions.drop(stream_id)
            raise
        log.info("stream started on this worker", extra={"stream_id": stream_id, "session": session})

    def _on_stop(self, stream_id: str) -> None:
        """Stop reading at once; wait (bounded) for the drain, which also continues after we return."""
        timeout = 0.0 if self._closing.is_set() else self.options.stop_join_s
        self.pipeline.remove_stream(stream_id, timeout=timeout)
        self._forget_series(stream_id)

    def _forget_series(self, stream_id: str) -> None:
        """The stream may move to another worker: its series leave this worker's /metrics."""
        self.metrics.forget_stream(stream_id)
        with contextlib.suppress(KeyError):
            self.stream_live.remove(stream_id)

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> StreamWorker:
        if self.live is not None:
            self.live.start()
        self.assigner.start()
        return self

    @property
    def ready(self) -> bool:
        """In the group and caught up, and the alert store takes writes (alerts are not waiting in memory)."""
        return self.assigner.ready and (self.publisher is None or self.publisher.store_ok)

    def update_metrics(self) -> None:
        """Fold the pipeline's cumulative per-stream figures into the Prometheus metrics."""
        owned = self.assigner.owned()
        for s in self.pipeline.status():
            seen = self._seen.get(s.stream_id)
            if s.stream_id not in owned:
                self._forget_series(s.stream_id)
                if self.pipeline.discard_stream(s.stream_id):
                    self._seen.pop(s.stream_id, None)
                    self.sessions.drop(s.stream_id)
                continue
            if seen is None:
                continue
            labels = {"stream_id": s.stream_id}
            self.metrics.stream_lag.labels(**labels).set(s.lag_s)
            self.stream_live.labels(**labels).set(1.0 if s.state in (StreamState.LIVE, StreamState.STARTING) else 0.0)
            for attr, value, counter in (
                ("sampled", s.frames_sampled, self.metrics.frames_sampled),
                ("skipped", s.frames_duplicate, self.metrics.frames_skipped),
                ("dropped", s.frames_dropped, self.metrics.frames_dropped),
            ):
                delta = value - getattr(seen, attr)
                if delta > 0:
                    counter.labels(**labels).inc(delta)
                    setattr(seen, attr, value)
        self.metrics.streams_watched.set(len(owned))

    def close(self, timeout_s: float | None = None) -> None:
        """Graceful stop within ``timeout_s``: stop reading, leave the group, drain, flush."""
        deadline = time.monotonic() + (self.options.drain_timeout_s if timeout_s is None else timeout_s)

        def left(share: float = 1.0) -> float:
            return max(0.5, (deadline - time.monotonic()) * share)

        self._closing.set()
        for stream_id in self.pipeline.stream_ids():
            self.pipeline.remove_stream(stream_id, timeout=0)  # every source stops reading now, in parallel
        self.assigner.close(left(0.3))  # leaves the group: the survivors take the streams over
        self.pipeline.close(left(0.4))  # drains frames and audio already read, flushes the rules or the evidence
        if self.live is not None:
            self.live.close(left(0.5))
        if self.publisher is not None:
            if not self.publisher.flush(left(0.8)):
                log.warning("alerts left unsent in the outbox; they go out when this worker next runs")
            self.publisher.close(left())
        if self._store is not None:
            self._store.close()


def ocr_timer(metrics: Metrics) -> VisionTimer:
    """Feeds the OCR latency histogram from the vision pool's calls (other detectors are not timed)."""

    def observe(detector: object, frame: SampledFrame, seconds: float) -> None:
        if isinstance(detector, OcrStage):
            metrics.ocr_latency.labels(stream_id=frame.stream_id).observe(seconds)

    return observe


@contextlib.contextmanager
def _metrics_server(metrics: Metrics, options: ServiceOptions, ready: Callable[[], bool]) -> Iterator[MetricsServer]:
    server = MetricsServer(metrics.registry, options.metrics_port, host=options.metrics_host, ready=ready).start()
    try:
        yield server
    finally:
        server.stop()


def require_broker(cfg: Config, options: ServiceOptions, service: str) -> str:
    """The shared broker a distributed service needs (no embedded fallback: every member must meet on one)."""
    if not cfg.kafka.bootstrap_servers:
        raise ConfigError(f"livewatch {service} needs the shared Kafka broker: set LIVEWATCH_KAFKA or --kafka HOST:PORT")
    check_broker(cfg.kafka, timeout_s=options.broker_check_timeout_s)
    return cfg.kafka.bootstrap_servers


def run_worker(cfg: Config, options: WorkerOptions, stop: threading.Event) -> int:
    """``livewatch worker`` until ``stop`` is set (SIGTERM); 1 if the group membership fails."""
    bootstrap = require_broker(cfg, options, "worker")
    check_free_space(cfg.data_dir, cfg.min_free_mb)
    metrics = Metrics()
    holder: dict[str, StreamWorker] = {}
    with _metrics_server(metrics, options, lambda: "w" in holder and holder["w"].ready):
        # the slow part (models): /healthz answers meanwhile, /readyz says no
        stages = Stages.load(cfg, vision_timer=ocr_timer(metrics))
        try:
            worker = holder["w"] = StreamWorker(cfg, options, metrics, stages)
        except BaseException:
            stages.close()
            raise
        worker.start()
        log.info("worker started", extra={"group": options.group_id, "split": options.split, "kafka": bootstrap})
        code = 0
        try:
            while not stop.wait(options.status_interval_s):
                worker.pipeline.schedule()
                worker.update_metrics()
                if worker.assigner.error is not None:
                    log.error("worker left the group: %s", worker.assigner.error)
                    code = 1
                    break
        finally:
            log.info("worker stopping: draining frames, audio and alerts")
            worker.close()
            log.info("worker stopped")
    return code


# --- the rules service ----------------------------------------------------------------


class _JudgedSession(NamedTuple):
    """A watch session the rules service is judging: its token, URL, evidence partition, and the
    ``time.monotonic()`` of its last record."""

    token: str
    url: str | None
    partition: int
    last_seen: float


class RulesService(ConsumerRebalanceListener):  # type: ignore[misc]  # kafka-python ships no type information
    """Consumes evidence in a group, judges it with the rule engine, delivers alerts through its own outbox.

    Offsets are committed after the batch's alerts are in the outbox (durable),
    so a crash replays evidence rather than losing alerts. A partition taken
    away closes its streams' alerts here first; the new owner starts their
    rule windows afresh from the committed offsets.
    """

    def __init__(self, cfg: Config, options: RulesServiceOptions, metrics: Metrics) -> None:
        from prometheus_client import Counter

        self.options = options
        self.metrics = metrics
        self.kafka = cfg.kafka
        self.topic = cfg.kafka.topics.evidence
        self.engine = Stages.load(cfg, rules_only=True).rules
        self.evidence_in = Counter("evidence_consumed", "Evidence records judged by the rules service.", ["stream_id"],
                                   namespace="livewatch", registry=metrics.registry)
        self._sessions: dict[str, _JudgedSession] = {}  # stream -> its open session
        self._joined = threading.Event()
        ensure_topics(self.kafka, [self.topic], partitions=options.evidence_partitions)
        self.store = AlertStore(cfg.store_path, snapshot_root=cfg.snapshot_dir)
        self.publisher = AlertPublisher(self.store, self.kafka)
        metrics.watch_queue("alerts_unsent", lambda: self.store.counts()["unsent"])
        watch_health(metrics, publisher=self.publisher)

    @property
    def ready(self) -> bool:
        """Holding evidence partitions, and the alert store takes writes."""
        return self._joined.is_set() and self.publisher.store_ok

    # -- rebalance listener --------------------------------------------------------------

    def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        gone = {tp.partition for tp in revoked if tp.topic == self.topic}
        for stream_id in [s for s, judged in self._sessions.items() if judged.partition in gone]:
            self._close_session(stream_id)

    def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        self._joined.set()
        log.info("evidence partitions assigned", extra={"partitions": sorted(tp.partition for tp in assigned)})

    # -- judging --------------------------------------------------------------------------

    def handle(self, key: bytes | None, value: bytes | None, headers: Iterable[tuple[str, bytes]], partition: int) -> None:
        """One evidence record (or end-of-stream marker) through the rules."""
        if key is None or value is None:
            return
        stream_id = key.decode("utf-8", "replace")
        h = dict(headers or ())
        session = h.get("session", b"").decode()
        url = h["url"].decode() if h.get("url") else None
        current = self._sessions.get(stream_id)
        if current is not None and current.token != session:
            self._close_session(stream_id)  # the stream restarted (another worker took it): close the old alerts
        opening = current is None or current.token != session
        if h.get("kind") == KIND_FINISH:
            self._sessions[stream_id] = _JudgedSession(session, url or (current.url if current else None), partition,
                                                       time.monotonic())
            self._close_session(stream_id)
            return
        try:
            ev = Evidence.from_dict(json.loads(value))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("unreadable evidence record skipped: %s", exc, extra={"stream_id": stream_id})
            return
        if opening:
            self.engine.open_stream(stream_id, session)  # the engine scopes the ids of this session's alerts
        self._sessions[stream_id] = _JudgedSession(session, url, partition, time.monotonic())
        self.evidence_in.labels(stream_id=stream_id).inc()
        for alert in self.engine.process(ev):
            emit_alert(self.publisher, self.metrics, with_url(alert, url))

    def close_idle_sessions(self, now: float | None = None) -> list[str]:
        """Close the sessions that sent nothing for ``idle_session_s`` (``now``: a ``time.monotonic()``)."""
        now = time.monotonic() if now is None else now
        idle = [s for s, judged in self._sessions.items() if now - judged.last_seen > self.options.idle_session_s]
        for stream_id in idle:
            log.info("idle watch session closed", extra={"stream_id": stream_id, "idle_s": self.options.idle_session_s})
            self._close_session(stream_id)
        return idle

    def _close_session(self, stream_id: str) -> None:
        """Close the session's alerts, then drop its series: a rules service running for days would
        otherwise export a counter for every stream it ever judged (a restarted stream counts from 0)."""
        found = self._sessions.pop(stream_id, None)
        url = found.url if found else None
        for alert in self.engine.finish(stream_id):
            emit_alert(self.publisher, self.metrics, with_url(alert, url))
        self.metrics.forget_stream(stream_id)
        with contextlib.suppress(KeyError):
            self.evidence_in.remove(stream_id)

    def run(self, stop: threading.Event) -> None:
        consumer = make_consumer(self.kafka, "rules", group_id=self.options.group_id, enable_auto_commit=False,
                                 auto_offset_reset="earliest")
        try:
            consumer.subscribe([self.topic], listener=self)
            while not stop.is_set():
                batches = consumer.poll(timeout_ms=self.options.poll_timeout_ms)
                for tp, records in batches.items():
                    for record in records:
                        self.handle(record.key, record.value, record.headers, tp.partition)
                self.close_idle_sessions()
                if batches:
                    consumer.commit()  # the alerts of this batch are in the outbox already
        finally:
            with contextlib.suppress(Exception):
                consumer.commit()
            consumer.close()  # leaves the group: another rules service takes the partitions over

    def close(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        for stream_id in list(self._sessions):
            self._close_session(stream_id)
        if not self.publisher.flush(max(0.5, deadline - time.monotonic())):
            log.warning("alerts left unsent in the outbox; they go out when the rules service next runs")
        self.publisher.close(max(0.5, deadline - time.monotonic()))
        self.store.close()


def run_rules_service(cfg: Config, options: RulesServiceOptions, stop: threading.Event) -> int:
    """``livewatch rules-service`` until ``stop`` is set."""
    bootstrap = require_broker(cfg, options, "rules-service")
    check_free_space(cfg.data_dir, cfg.min_free_mb)
    metrics = Metrics()
    holder: dict[str, RulesService] = {}
    with _metrics_server(metrics, options, lambda: "r" in holder and holder["r"].ready):
        service = holder["r"] = RulesService(cfg, options, metrics)
        log.info("rules service started", extra={"group": options.group_id, "topic": cfg.kafka.topics.evidence})
        try:
            service.run(stop)
        except KafkaError as exc:
            raise LivewatchError(f"rules service stopped: {type(exc).__name__}: {exc}; check the broker at {bootstrap}") from None
        finally:
            log.info("rules service stopping: flushing alerts")
            service.close(options.drain_timeout_s)
    return 0
