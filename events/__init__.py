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

Detectors (OCR, logos, ASR, the fingerprint index) all speak ``Detector``
(``events.detector``): ``process(item)``, ``finish(stream_id)``, ``close()``.
Logos and fingerprints follow what they see with one ``ObservationTracker``
(``events.observations``): open on first sight, extend while seen, close when gone.

``parse_prices(text)`` lives here too: OCR, ASR and the rules must read a
price ("原价2999 现价299", "九块九", "12,999元") the same way, and stages may
share code only through this floor.

``events.kafka`` (imported by name, not re-exported here) is the one place Kafka
clients are made: ``KafkaOptions`` and the producer/consumer/admin factory, used
by ``alerts`` and the top floor alike. It imports kafka-python only when a client
is made, so importing ``events`` stays cheap.

Events are frozen dataclasses. The ones that cross a process or network
boundary (Evidence, Alert, StreamStatus) round-trip through ``to_dict`` /
``from_dict`` as plain JSON values.
"""

from events.detector import AudioDetector, Detector, FrameDetector
from events.errors import ConfigError, LivewatchError, SourceError
from events.live import LIVE_CONTENT_PREFIX, WHOLE_HASHES, LiveFingerprints, live_content_id, live_source
from events.observations import Observation, ObservationTracker
from events.prices import parse_prices
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
    MatchStrength,
    Modality,
    Mode,
    Price,
    SampledFrame,
    Segment,
    Severity,
    Snapshot,
    StreamState,
    StreamStatus,
    VideoFrame,
    alert_id_for,
    utc_now_iso,
)

__all__ = [
    "ALERT_SCHEMA_VERSION",
    "LIVE_CONTENT_PREFIX",
    "WHOLE_HASHES",
    "Action",
    "Alert",
    "AlertEvidence",
    "AudioChunk",
    "AudioDetector",
    "Box",
    "Brand",
    "Category",
    "ConfigError",
    "Detector",
    "Evidence",
    "FrameDetector",
    "MatchStrength",
    "LiveFingerprints",
    "LivewatchError",
    "Modality",
    "Mode",
    "Observation",
    "ObservationTracker",
    "Price",
    "SampledFrame",
    "Segment",
    "Severity",
    "Snapshot",
    "SourceError",
    "StreamState",
    "StreamStatus",
    "VideoFrame",
    "alert_id_for",
    "live_content_id",
    "live_source",
    "parse_prices",
    "utc_now_iso",
]
