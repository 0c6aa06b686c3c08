"""Alerts: the record's JSON Schema, the durable local store, Kafka delivery, the evidence ledger.

Public face (used by ``livewatch`` and ``dashboard``):

- ``validate_alert(record)`` / ``SCHEMA_PATH``: ``schema/alert.schema.json``, the versioned
  contract of ``events.Alert.to_dict()`` and of every record on the alert topics.
- ``AlertStore(path, snapshot_root=None)``: SQLite outbox; every alert is appended (durably,
  idempotently by alert id + revision) before any send.
- ``AlertPublisher(store, kafka, options=PublisherOptions())``: background delivery to the
  topics of ``kafka`` (``events.kafka.KafkaOptions``; its clients come from ``events.kafka``'s
  factory) in order, acks=all, idempotent; survives the broker being down and delivers each
  alert exactly once by alert id when it returns.
- ``verify_evidence(store)``, ``export_bundle(store, alert_id, out)``, ``verify_bundle(path)``:
  the hash-chained evidence ledger kept in the same SQLite file (``store.chain_heads()`` anchors
  it); ``snapshots_not_written(store)`` lists evidence raised without its snapshot (it could not
  be written), which is not tampering.
- ``StoreWriteError``: the store cannot be written now (full disk); the publisher holds alerts in
  memory meanwhile (``store_ok`` False).
"""

from alerts.evidence import (
    Problem,
    export_bundle,
    snapshots_not_written,
    verify_bundle,
    verify_evidence,
)
from alerts.publisher import AlertPublisher, PublisherOptions
from alerts.store import AlertStore, StoredAlert, StoreWriteError
from alerts.validate import SCHEMA_PATH, AlertSchemaError, load_schema, validate_alert

__all__ = [
    "SCHEMA_PATH",
    "AlertPublisher",
    "AlertSchemaError",
    "AlertStore",
    "Problem",
    "PublisherOptions",
    "StoreWriteError",
    "StoredAlert",
    "export_bundle",
    "load_schema",
    "snapshots_not_written",
    "validate_alert",
    "verify_bundle",
    "verify_evidence",
]
