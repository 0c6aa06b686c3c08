"""Alert factories for the alerts tests."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from events import Alert, AlertEvidence, Box, Category, Modality, Mode, Price, Severity, alert_id_for


def _make_alert(i: int, *, stream_id: str = "stream-1", mode: Mode = Mode.ENFORCE, revision: int = 1,
               snapshot: Path | None = None, text: str = "正品保证 高仿 原单") -> Alert:
    """Alert number ``i`` of a stream: two evidence items (OCR with a snapshot if given, ASR)."""
    snap_path = str(snapshot) if snapshot else None
    snap_sha = hashlib.sha256(snapshot.read_bytes()).hexdigest() if snapshot else None
    return Alert(
        alert_id=alert_id_for(stream_id, "counterfeit.keywords", "gucci", float(i)),
        stream_id=stream_id,
        stream_url=f"rtmp://127.0.0.1/live/{stream_id}",
        rule_id="counterfeit.keywords",
        rule_version=3,
        category=Category.COUNTERFEIT,
        severity=Severity.HIGH,
        score=0.87,
        mode=mode,
        title=f"counterfeit promotion #{i}",
        media_start=float(i),
        media_end=float(i) + 4.5,
        brand="gucci",
        revision=revision,
        evidence=(
            AlertEvidence(Modality.OCR, text, ("高仿", "原单"), float(i), float(i) + 2.0, 0.93,
                          snapshot_path=snap_path, snapshot_sha256=snap_sha, brand="gucci",
                          box=Box(10, 20, 300, 60), prices=(Price(199.0, "CNY", "selling", "到手价199"),)),
            AlertEvidence(Modality.ASR, f"这款是高仿的 {i}", ("高仿",), float(i) + 1.0, float(i) + 4.5, 0.8),
        ),
    )


@pytest.fixture
def make_alert():
    """``make_alert(i, stream_id=..., mode=..., revision=..., snapshot=...)`` -> a valid Alert."""
    return _make_alert


@pytest.fixture
def snapshot_file(tmp_path) -> Path:
    """A small JPEG-like file named by its SHA-256, as frames.SnapshotStore names them."""
    data = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8 + b"\xff\xd9"
    path = tmp_path / "snapshots" / f"{hashlib.sha256(data).hexdigest()}.jpg"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
