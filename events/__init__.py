"""The ground floor: typed events that livewatch stages pass to each other.

Every stage package (ingest, frames, asr, ocr, logos, rules, alerts) imports
this package and nothing else of livewatch. Only the top floor (``livewatch``,
``dashboard``) imports stages and wires them together, so imports never run
back up the pipeline.

Data flows one way::

    ingest -> VideoFrame / AudioChunk
    frames -> SampledFrame (+ Snapshot for evidence)
    asr, ocr, logos, frames.fingerprint -> Evidence
    rules -> Alert
    alerts -> Kafka / local store

Events are frozen dataclasses. The ones that cross a process or network
boundary (Evidence, Alert, StreamStatus) round-trip through ``to_dict`` /
``from_dict`` as plain JSON values.
"""

from events.types import (
    ALERT_SCHEMA_VERSION,
    Action,
    Alert,
    AlertEvidence,
    AudioChunk,
    Box,
    Brand,
    Category,
    Evidence,
    Modality,
    Mode,
    Price,
    SampledFrame,
    Severity,
    Snapshot,
    StreamState,
    StreamStatus,
    VideoFrame,
    alert_id_for,
    utc_now_iso,
)
from events.errors import LivewatchError, SourceError, ConfigError

__all__ = [
    "ALERT_SCHEMA_VERSION",
    "Action",
    "Alert",
    "AlertEvidence",
    "AudioChunk",
    "Box",
    "Brand",
    "Category",
    "ConfigError",
    "Evidence",
    "LivewatchError",
    "Modality",
    "Mode",
    "Price",
    "SampledFrame",
    "Severity",
    "Snapshot",
    "SourceError",
    "StreamState",
    "StreamStatus",
    "VideoFrame",
    "alert_id_for",
    "utc_now_iso",
]
