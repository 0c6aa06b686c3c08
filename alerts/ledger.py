"""The evidence ledger's records and their hashes: what ``AlertStore.append`` writes beside an alert.

An alert may end up in front of a platform's legal team or a court, so its
evidence must show it was not changed after the fact. When an alert is
appended to the store, each evidence item becomes a record holding the
SHA-256 of its canonical JSON, of the whole alert, and of its snapshot's bytes
as they were on disk at that moment. Records of one stream form a hash chain:

    record_hash = sha256(prev_hash + canonical(record))

so editing, deleting or re-ordering any record breaks every later link.
This module only computes; the store keeps the records (all SQL is in
``alerts.store``) and ``alerts.evidence`` verifies and exports them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Mapping

from events import utc_now_iso

GENESIS_HASH = "0" * 64

# The fields a record hash covers, in the order they are stored.
_HASHED = ("stream_id", "n", "alert_id", "revision", "item", "modality", "content_sha256", "alert_sha256",
           "snapshot_path", "snapshot_sha256", "recorded_at")


def canonical_json(value: Any) -> str:
    """One byte-exact JSON form per value (sorted keys, no spaces, UTF-8), so hashes are reproducible."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def record_hash(prev_hash: str, record: Mapping[str, Any]) -> str:
    return sha256_text(prev_hash + canonical_json({k: record[k] for k in _HASHED}))


def resolve_snapshot(path: str, root: Path | None) -> Path:
    p = Path(path)
    return p if p.is_absolute() or root is None else root / p


def ledger_rows(alert: Mapping[str, Any], alert_sha256: str, snapshot_root: Path | None,
                tip: tuple[int, str] | None) -> list[dict[str, Any]]:
    """The evidence records for a newly appended alert, chained after ``tip``.

    ``tip`` is (n, record_hash) of the stream's last record, None for a new stream; the
    store reads it inside its append transaction, so it cannot move before the rows are
    inserted.
    """
    n, prev = (tip[0] + 1, tip[1]) if tip else (0, GENESIS_HASH)
    recorded_at = utc_now_iso()
    rows = []
    for item, ev in enumerate(alert["evidence"]):
        content = canonical_json(ev)
        row = {
            "stream_id": alert["stream_id"],
            "n": n,
            "alert_id": alert["alert_id"],
            "revision": alert["revision"],
            "item": item,
            "modality": ev["modality"],
            "content_sha256": sha256_text(content),
            "alert_sha256": alert_sha256,
            "snapshot_path": ev.get("snapshot_path"),
            "snapshot_sha256": _snapshot_sha256(ev, snapshot_root),
            "recorded_at": recorded_at,
        }
        row["record_hash"] = record_hash(prev, row)
        row["prev_hash"] = prev
        row["content"] = content
        rows.append(row)
        n, prev = n + 1, row["record_hash"]
    return rows


def _snapshot_sha256(ev: Mapping[str, Any], root: Path | None) -> str | None:
    """Hash of the snapshot bytes as they are now; the declared hash if the file is not readable here."""
    if not ev.get("snapshot_path"):
        return ev.get("snapshot_sha256")
    try:
        return sha256_file(resolve_snapshot(ev["snapshot_path"], root))
    except OSError:
        return ev.get("snapshot_sha256")
