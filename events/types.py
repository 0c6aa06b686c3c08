"""Event types passed between livewatch stages.

Media time is seconds from the start of the stream (the demuxer's clock);
wall time is Unix epoch seconds on this machine. Keeping both lets the rules
reason in media time (what the viewer saw, when) while status and benches
measure lag in wall time.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any, Mapping

import numpy as np

ALERT_SCHEMA_VERSION = "1.2"

# Namespace for deterministic alert ids: the same violation onset seen twice
# (a retry, a re-scan of a recording) gets the same id, so consumers dedupe.
_ALERT_ID_NAMESPACE = uuid.UUID("6f1d7a52-1c8e-4c61-9a43-5b0f3a9d2e10")


class Modality(StrEnum):
    ASR = "asr"
    OCR = "ocr"
    LOGO = "logo"
    FINGERPRINT = "fingerprint"


class Category(StrEnum):
    COUNTERFEIT = "counterfeit"
    FALSE_CLAIM = "false_claim"
    PIRACY = "piracy"


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Mode(StrEnum):
    """``shadow`` rules are evaluated on live traffic but never acted on."""

    ENFORCE = "enforce"
    SHADOW = "shadow"


class Action(StrEnum):
    REVIEW = "review"
    TAKEDOWN = "takedown"


class StreamState(StrEnum):
    STARTING = "starting"
    LIVE = "live"
    RECONNECTING = "reconnecting"
    ENDED = "ended"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Box:
    """An axis-aligned rectangle in frame pixels."""

    x: int
    y: int
    w: int
    h: int

    def to_list(self) -> list[int]:
        return [self.x, self.y, self.w, self.h]

    def intersection(self, other: Box) -> int:
        """Area both boxes cover, in pixels."""
        w = min(self.x + self.w, other.x + other.w) - max(self.x, other.x)
        h = min(self.y + self.h, other.y + other.h) - max(self.y, other.y)
        return max(0, w) * max(0, h)

    def grown(self, margin: int, size: tuple[int, int]) -> Box:
        """This box with ``margin`` pixels added on every side, clipped to a ``size`` (width, height) frame."""
        x0, y0 = max(0, self.x - margin), max(0, self.y - margin)
        x1, y1 = min(size[0], self.x + self.w + margin), min(size[1], self.y + self.h + margin)
        return Box(x0, y0, max(0, x1 - x0), max(0, y1 - y0))

    def bounding(self, other: Box) -> Box:
        """The smallest box covering both."""
        x0, y0 = min(self.x, other.x), min(self.y, other.y)
        x1, y1 = max(self.x + self.w, other.x + other.w), max(self.y + self.h, other.y + other.h)
        return Box(x0, y0, x1 - x0, y1 - y0)

    def iou(self, other: Box) -> float:
        """Intersection over union: 1 for the same box, 0 for boxes apart."""
        inter = self.intersection(other)
        union = self.w * self.h + other.w * other.h - inter
        return inter / union if union > 0 else 0.0

    @classmethod
    def from_list(cls, values: Any) -> Box | None:
        if values is None:
            return None
        x, y, w, h = (int(v) for v in values)
        return cls(x, y, w, h)


@dataclass(frozen=True, slots=True)
class VideoFrame:
    """One decoded video frame (BGR, uint8, H x W x 3)."""

    stream_id: str
    index: int
    media_time: float
    wall_time: float
    image: np.ndarray = field(repr=False, compare=False)
    keyframe: bool = False


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """Mono float32 PCM in [-1, 1] at ``sample_rate`` Hz, contiguous in media time."""

    stream_id: str
    media_start: float
    media_end: float
    wall_time: float
    samples: np.ndarray = field(repr=False, compare=False)
    sample_rate: int = 16000


@dataclass(frozen=True, slots=True)
class SampledFrame:
    """A frame the sampler kept, with its perceptual hash.

    ``changed`` is False when the frame is a near-duplicate of the previous
    sampled frame: detectors may skip it. ``changed_box`` is the region that
    differs from that frame (None means the whole frame).
    """

    frame: VideoFrame
    phash: int
    changed: bool = True
    changed_box: Box | None = None

    @property
    def stream_id(self) -> str:
        return self.frame.stream_id

    @property
    def media_time(self) -> float:
        return self.frame.media_time

    @property
    def image(self) -> np.ndarray:
        return self.frame.image


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A JPEG kept as evidence, named by the SHA-256 of its bytes."""

    path: str
    sha256: str


@dataclass(frozen=True, slots=True)
class Price:
    """A price read from screen text or speech.

    ``role`` is ``selling`` (what the buyer pays now: 到手价, 现价, a lone
    price), ``original`` (原价, 专柜价: the anchor it is compared to) or
    ``unknown``.
    """

    amount: float
    currency: str = "CNY"
    role: str = "selling"
    text: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"amount": self.amount, "currency": self.currency, "role": self.role, "text": self.text}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Price:
        return cls(
            amount=float(data["amount"]),
            currency=str(data.get("currency", "CNY")),
            role=str(data.get("role", "selling")),
            text=str(data.get("text", "")),
        )


@dataclass(frozen=True, slots=True)
class Brand:
    """A protected brand, as the brand registry (``logos/``) describes it.

    Shared here because three stages need it without importing each other:
    logo matching (reference images), ASR (names as hot words) and rules
    (names and nicknames in text, the lowest genuine price for price rules).
    """

    brand_id: str
    names: tuple[str, ...]
    aliases: tuple[str, ...] = ()
    min_price: float | None = None
    currency: str = "CNY"
    logo_paths: tuple[str, ...] = ()
    category_min_prices: tuple[tuple[str, float], ...] = ()  # (product word, lowest genuine price)

    @property
    def all_names(self) -> tuple[str, ...]:
        return self.names + self.aliases

    def min_price_for(self, product_text: str) -> float | None:
        """The lowest genuine price of what ``product_text`` names: a brand's lipstick costs far
        less than its bags, so a category word in the text (口红, 香水) picks that category's floor."""
        floors = [price for word, price in self.category_min_prices if word in product_text]
        return min(floors) if floors else self.min_price


class MatchStrength(StrEnum):
    """How a text matched a term or name, strongest first.

    ``exact``: the characters as the lexicon writes them; ``normalized``: equal after
    Traditional -> Simplified, width, case and separators; ``homophone``: only the toneless
    pinyin agrees (an ASR mishearing, or an ordinary word that sounds alike); ``near_homophone``:
    a name heard in speech with one syllable's initial or final off (古驰 gu chi as 武池 wu chi).
    ``detected``: not text (a logo or fingerprint match: its own confidence says how sure).
    """

    EXACT = "exact"
    NORMALIZED = "normalized"
    HOMOPHONE = "homophone"
    NEAR_HOMOPHONE = "near_homophone"
    DETECTED = "detected"


@dataclass(frozen=True, slots=True)
class Segment:
    """One product segment of a stream: the span in which one product is on sale.

    Live commerce is a sequence of products; a price or a counterfeit cue belongs to the
    product it was shown or said with, not to whatever else the window holds. ``reason`` says
    what opened the segment (``start`` of the stream, a product ``card`` change, a ``speech``
    cue such as 下一款); ``title`` is the product card's title when one was read.
    ``media_end`` is None while the segment is still open.
    """

    segment_id: str
    media_start: float
    media_end: float | None = None
    title: str = ""
    reason: str = "start"

    def to_dict(self) -> dict[str, Any]:
        return {
            "segment_id": self.segment_id,
            "media_start": self.media_start,
            "media_end": self.media_end,
            "title": self.title,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Segment:
        end = data.get("media_end")
        return cls(
            segment_id=str(data["segment_id"]),
            media_start=float(data["media_start"]),
            media_end=None if end is None else float(end),
            title=str(data.get("title", "")),
            reason=str(data.get("reason", "start")),
        )


@dataclass(frozen=True, slots=True)
class Evidence:
    """Something a detector saw or heard in one stream, over a media-time span.

    ``text`` is what was read (OCR) or heard (ASR); for a logo it is the brand
    label, for a fingerprint the protected content id. ``observation_id`` is
    stable while the same thing stays in view, so a later event with the same
    id extends the earlier one (a caption on screen for 40 s is one
    observation, not 40).
    """

    stream_id: str
    modality: Modality
    media_start: float
    media_end: float
    text: str
    confidence: float
    wall_time: float
    brand: str | None = None
    box: Box | None = None
    snapshot: Snapshot | None = None
    prices: tuple[Price, ...] = ()
    language: str | None = None
    observation_id: str = ""
    details: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stream_id": self.stream_id,
            "modality": self.modality.value,
            "media_start": self.media_start,
            "media_end": self.media_end,
            "text": self.text,
            "confidence": self.confidence,
            "wall_time": self.wall_time,
            "brand": self.brand,
            "box": self.box.to_list() if self.box else None,
            "snapshot": {"path": self.snapshot.path, "sha256": self.snapshot.sha256} if self.snapshot else None,
            "prices": [p.to_dict() for p in self.prices],
            "language": self.language,
            "observation_id": self.observation_id,
            "details": dict(self.details),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Evidence:
        snap = data.get("snapshot")
        return cls(
            stream_id=str(data["stream_id"]),
            modality=Modality(data["modality"]),
            media_start=float(data["media_start"]),
            media_end=float(data["media_end"]),
            text=str(data.get("text", "")),
            confidence=float(data.get("confidence", 1.0)),
            wall_time=float(data.get("wall_time", 0.0)),
            brand=data.get("brand"),
            box=Box.from_list(data.get("box")),
            snapshot=Snapshot(str(snap["path"]), str(snap["sha256"])) if snap else None,
            prices=tuple(Price.from_dict(p) for p in data.get("prices", ())),
            language=data.get("language"),
            observation_id=str(data.get("observation_id", "")),
            details=dict(data.get("details") or {}),
        )


@dataclass(frozen=True, slots=True)
class AlertEvidence:
    """One piece of evidence as it stands in an alert: what matched, and where.

    ``snapshot_missing`` is True when a snapshot of the frame behind the evidence was due but
    could not be written (a full disk, a read-only volume): the alert went out without it, by
    design, rather than not at all. It is False when the item has its snapshot or none was due
    (speech before any frame, fingerprint runs).
    """

    modality: Modality
    text: str
    matched_terms: tuple[str, ...]
    media_start: float
    media_end: float
    confidence: float
    snapshot_path: str | None = None
    snapshot_sha256: str | None = None
    brand: str | None = None
    box: Box | None = None
    prices: tuple[Price, ...] = ()
    strength: MatchStrength | None = None  # the weakest match among matched_terms
    segment_id: str | None = None
    snapshot_missing: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "modality": self.modality.value,
            "text": self.text,
            "matched_terms": list(self.matched_terms),
            "media_start": self.media_start,
            "media_end": self.media_end,
            "confidence": self.confidence,
            "snapshot_path": self.snapshot_path,
            "snapshot_sha256": self.snapshot_sha256,
            "brand": self.brand,
            "box": self.box.to_list() if self.box else None,
            "prices": [p.to_dict() for p in self.prices],
            "strength": self.strength.value if self.strength else None,
            "segment_id": self.segment_id,
            "snapshot_missing": self.snapshot_missing,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AlertEvidence:
        return cls(
            modality=Modality(data["modality"]),
            text=str(data.get("text", "")),
            matched_terms=tuple(str(t) for t in data.get("matched_terms", ())),
            media_start=float(data["media_start"]),
            media_end=float(data["media_end"]),
            confidence=float(data.get("confidence", 1.0)),
            snapshot_path=data.get("snapshot_path"),
            snapshot_sha256=data.get("snapshot_sha256"),
            brand=data.get("brand"),
            box=Box.from_list(data.get("box")),
            prices=tuple(Price.from_dict(p) for p in data.get("prices", ())),
            strength=MatchStrength(data["strength"]) if data.get("strength") else None,
            segment_id=data.get("segment_id"),
            snapshot_missing=bool(data.get("snapshot_missing", False)),  # absent before schema 1.2
        )

    @classmethod
    def from_evidence(cls, ev: Evidence, matched_terms: tuple[str, ...] = ()) -> AlertEvidence:
        return cls(
            modality=ev.modality,
            text=ev.text,
            matched_terms=matched_terms,
            media_start=ev.media_start,
            media_end=ev.media_end,
            confidence=ev.confidence,
            snapshot_path=ev.snapshot.path if ev.snapshot else None,
            snapshot_sha256=ev.snapshot.sha256 if ev.snapshot else None,
            brand=ev.brand,
            box=ev.box,
            prices=ev.prices,
        )


def alert_id_for(stream_id: str, rule_id: str, brand: str | None, onset: float, scope: str = "") -> str:
    """Deterministic alert id: same stream, rule, brand, onset and scope -> same id.

    ``scope`` names a watch session of a live stream. Media time restarts at 0 each time a
    stream is (re)opened, so without it a restart, or another worker taking the stream over,
    would mint the ids of different moments of the broadcast. Empty (a recording, ``scan``)
    keeps the ids of the stream, rule, brand and onset alone, as before scopes existed.
    """
    name = f"{stream_id}|{rule_id}|{brand or ''}|{onset:.3f}"
    return str(uuid.uuid5(_ALERT_ID_NAMESPACE, f"{name}|{scope}" if scope else name))


def utc_now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Alert:
    """A suspected violation, as published to ``livewatch.alerts``.

    The JSON form is specified by ``alerts/schema/alert.schema.json``;
    ``schema_version`` names that schema's version. ``revision`` grows when
    later evidence updates an alert that is still open (same ``alert_id``).
    """

    alert_id: str
    stream_id: str
    rule_id: str
    rule_version: int
    category: Category
    severity: Severity
    score: float
    media_start: float
    media_end: float
    evidence: tuple[AlertEvidence, ...]
    detected_at: str = field(default_factory=utc_now_iso)
    brand: str | None = None
    mode: Mode = Mode.ENFORCE
    action: Action = Action.REVIEW
    title: str = ""
    stream_url: str | None = None
    revision: int = 1
    confidence: float = 0.0
    segment: Segment | None = None
    price: Price | None = None  # the selling price that made a price rule fire
    schema_version: str = ALERT_SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "alert_id": self.alert_id,
            "revision": self.revision,
            "stream_id": self.stream_id,
            "stream_url": self.stream_url,
            "rule_id": self.rule_id,
            "rule_version": self.rule_version,
            "category": self.category.value,
            "severity": self.severity.value,
            "score": self.score,
            "mode": self.mode.value,
            "action": self.action.value,
            "title": self.title,
            "media_start": self.media_start,
            "media_end": self.media_end,
            "detected_at": self.detected_at,
            "brand": self.brand,
            "confidence": self.confidence,
            "segment": self.segment.to_dict() if self.segment else None,
            "price": self.price.to_dict() if self.price else None,
            "evidence": [e.to_dict() for e in self.evidence],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Alert:
        return cls(
            schema_version=str(data.get("schema_version", ALERT_SCHEMA_VERSION)),
            alert_id=str(data["alert_id"]),
            revision=int(data.get("revision", 1)),
            stream_id=str(data["stream_id"]),
            stream_url=data.get("stream_url"),
            rule_id=str(data["rule_id"]),
            rule_version=int(data["rule_version"]),
            category=Category(data["category"]),
            severity=Severity(data["severity"]),
            score=float(data["score"]),
            mode=Mode(data.get("mode", "enforce")),
            action=Action(data.get("action", "review")),
            title=str(data.get("title", "")),
            media_start=float(data["media_start"]),
            media_end=float(data["media_end"]),
            detected_at=str(data["detected_at"]),
            brand=data.get("brand"),
            confidence=float(data.get("confidence", data["score"])),
            segment=Segment.from_dict(data["segment"]) if data.get("segment") else None,
            price=Price.from_dict(data["price"]) if data.get("price") else None,
            evidence=tuple(AlertEvidence.from_dict(e) for e in data.get("evidence", ())),
        )


@dataclass(frozen=True, slots=True)
class StreamStatus:
    """What an operator sees per stream while ``livewatch run`` works."""

    stream_id: str
    source: str
    state: StreamState
    media_time: float = 0.0
    lag_s: float = 0.0
    frames_decoded: int = 0
    frames_sampled: int = 0
    frames_duplicate: int = 0
    frames_dropped: int = 0
    audio_seconds: float = 0.0
    evidence: int = 0
    alerts: int = 0
    reconnects: int = 0
    asr_degraded: bool = False
    degrade_level: int = 0  # the worker's scheduler: 0 full ... 3 longer sampling interval (livewatch.scheduler)
    degrade_reason: str = ""  # the pressure behind the last step (empty at full quality)
    warnings: tuple[str, ...] = ()
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "stream_id": self.stream_id,
            "source": self.source,
            "state": self.state.value,
            "media_time": self.media_time,
            "lag_s": self.lag_s,
            "frames_decoded": self.frames_decoded,
            "frames_sampled": self.frames_sampled,
            "frames_duplicate": self.frames_duplicate,
            "frames_dropped": self.frames_dropped,
            "audio_seconds": self.audio_seconds,
            "evidence": self.evidence,
            "alerts": self.alerts,
            "reconnects": self.reconnects,
            "asr_degraded": self.asr_degraded,
            "degrade_level": self.degrade_level,
            "degrade_reason": self.degrade_reason,
            "warnings": list(self.warnings),
            "error": self.error,
        }
