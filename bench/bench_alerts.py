"""What durability costs: alerts appended to the SQLite outbox and delivered with acks=all.

Figures (each against a baseline measured in the same run, on an embedded Tansu broker):
- alerts/s appended (fsync'd, validated, evidence-ledger records) and then
  delivered by ``AlertPublisher`` (idempotent producer, acks=all, marked sent
  after the acknowledgement) vs a plain kafka-python producer with acks=0
  that fires the same JSON records and forgets them (no store, no acks);
- alerts/s appended to the store alone vs inserting the same JSON into a bare
  SQLite table with synchronous=OFF (the cost of validation, the ledger and fsync).
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import tempfile
import time
from pathlib import Path

from alerts import AlertPublisher, AlertStore, PublisherOptions
from bench.figures import figure
from events import Alert, AlertEvidence, Category, Modality, Severity, alert_id_for
from events.kafka import KafkaOptions, make_producer
from livewatch.broker import EmbeddedBroker

N_ALERTS = 1500


def _alerts(n: int) -> list[Alert]:
    """``n`` false-claim alerts over four streams, one ASR evidence item each."""
    template = Alert(
        alert_id="", stream_id="", rule_id="bench.rule", rule_version=1, category=Category.FALSE_CLAIM,
        severity=Severity.MEDIUM, score=0.7, media_start=0.0, media_end=0.0, title="能治愈癌症", evidence=(),
    )
    out = []
    for i in range(n):
        stream_id, t = f"bench-{i % 4}", float(i)
        item = AlertEvidence(Modality.ASR, "这个产品能治愈癌症", ("治愈癌症",), t, t + 3.0, 0.9)
        out.append(dataclasses.replace(template, alert_id=alert_id_for(stream_id, template.rule_id, None, t),
                                       stream_id=stream_id, media_start=t, media_end=t + 3.0, evidence=(item,)))
    return out


def _publisher_rate(kafka: KafkaOptions, db: Path, alerts: list[Alert]) -> tuple[float, int]:
    """Append every alert, then wait until all are acknowledged; returns (alerts/s, unsent left)."""
    store = AlertStore(db)
    publisher = AlertPublisher(store, kafka.with_topics(alerts="bench.alerts", shadow_alerts="bench.alerts.shadow"),
                               options=PublisherOptions(send_timeout_s=30.0))
    try:
        started = time.perf_counter()
        for alert in alerts:
            publisher.emit(alert)
        publisher.flush(55)
        elapsed = time.perf_counter() - started
        return len(alerts) / elapsed, store.counts()["unsent"]
    finally:
        publisher.close(5)
        store.close()


def _fire_and_forget_rate(kafka: KafkaOptions, alerts: list[Alert]) -> float:
    producer = make_producer(kafka, "bench", acks=0, enable_idempotence=False, linger_ms=5)
    try:
        producer.send("bench.plain", b"warm-up").get(10)
        started = time.perf_counter()
        for alert in alerts:
            producer.send("bench.plain", key=alert.stream_id.encode(), value=json.dumps(alert.to_dict()).encode())
        producer.flush(55)
        return len(alerts) / (time.perf_counter() - started)
    finally:
        producer.close(5)


def _append_rates(tmp: Path, alerts: list[Alert]) -> tuple[float, float]:
    with AlertStore(tmp / "append-only.db") as store:
        started = time.perf_counter()
        for alert in alerts:
            store.append(alert)
        store_rate = len(alerts) / (time.perf_counter() - started)
    bare = sqlite3.connect(tmp / "bare.db", isolation_level=None)
    bare.execute("PRAGMA synchronous=OFF")
    bare.execute("CREATE TABLE a (id TEXT PRIMARY KEY, payload TEXT)")
    started = time.perf_counter()
    for alert in alerts:
        bare.execute("INSERT INTO a VALUES (?, ?)", (alert.alert_id, json.dumps(alert.to_dict())))
    bare_rate = len(alerts) / (time.perf_counter() - started)
    bare.close()
    return store_rate, bare_rate


def run() -> list[dict]:
    alerts = _alerts(N_ALERTS)
    with tempfile.TemporaryDirectory(prefix="bench-alerts-") as tmp, EmbeddedBroker() as broker:
        tmp_path = Path(tmp)
        plain = _fire_and_forget_rate(broker.kafka_options(), alerts)
        durable, unsent = _publisher_rate(broker.kafka_options(), tmp_path / "alerts.db", alerts)
        store_rate, bare_rate = _append_rates(tmp_path, alerts)
    return [
        figure("alerts appended + delivered (store, acks=all, idempotent)", durable, "alerts/s",
               "kafka-python acks=0 fire-and-forget, no store", plain,
               f"{N_ALERTS} alerts, embedded Tansu; {unsent} left unsent at the end"),
        figure("alert store append (validate + ledger + fsync)", store_rate, "alerts/s",
               "bare SQLite insert, synchronous=OFF", bare_rate,
               "SQLite WAL, synchronous=FULL: one fsync per alert so it survives a crash before the send"),
    ]


if __name__ == "__main__":
    for fig in run():
        print(json.dumps(fig, ensure_ascii=False))
