"""The evidence ledger: verification and export of the hash-chained evidence records.

``AlertStore.append`` records each evidence item of an alert in a per-stream
hash chain (``alerts.ledger`` computes the records; the store keeps them).
``verify_evidence`` recomputes all of it and re-reads the snapshot files.
Evidence raised without its snapshot because the file could not be written
(``snapshot_missing`` in the record: a full disk) is not tampering: it is
listed apart by ``snapshots_not_written``.
(A chain proves internal consistency; to also catch someone rewriting the
whole chain, publish or countersign ``AlertStore.chain_heads()`` elsewhere.)
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from alerts.ledger import GENESIS_HASH, record_hash, resolve_snapshot, sha256_file, sha256_text
from alerts.store import AlertStore
from events import LivewatchError, utc_now_iso

BUNDLE_FORMAT = "livewatch-evidence-bundle/1"


@dataclass(frozen=True)
class Problem:
    """One thing ``verify_evidence`` found wrong.

    kind: ``record_changed`` (a record's fields or text no longer match its
    hashes), ``chain_broken`` (a record was removed, inserted or re-linked),
    ``alert_changed`` (the stored alert no longer matches what was recorded),
    ``unrecorded_alert`` (an alert without evidence records),
    ``snapshot_missing`` (a recorded snapshot file is gone), ``snapshot_changed``.
    ``snapshots_not_written`` reports ``snapshot_not_written``: no tampering, the
    snapshot could not be written when the alert was raised.
    """

    kind: str
    stream_id: str
    alert_id: str
    detail: str
    record_seq: int | None = None

    def __str__(self) -> str:
        where = f" record {self.record_seq}" if self.record_seq is not None else ""
        return f"{self.kind}: stream {self.stream_id} alert {self.alert_id}{where}: {self.detail}"


def verify_evidence(store: AlertStore, snapshot_root: str | Path | None = None, *,
                    alert_id: str | None = None) -> list[Problem]:
    """Recompute every hash and link of the ledger and re-read every snapshot; [] means intact."""
    root = Path(snapshot_root) if snapshot_root is not None else store.snapshot_root
    payloads = {(r.alert_id, r.revision): r.payload for r in store.revisions()}
    problems: list[Problem] = []
    recorded: set[tuple[str, int]] = set()
    prev_by_stream: dict[str, tuple[int, str]] = {}
    for rec in store.evidence_records():
        key = (rec["alert_id"], rec["revision"])
        recorded.add(key)
        expected_n, expected_prev = prev_by_stream.get(rec["stream_id"], (0, GENESIS_HASH))
        prev_by_stream[rec["stream_id"]] = (rec["n"] + 1, rec["record_hash"])
        if alert_id is not None and rec["alert_id"] != alert_id:
            continue
        problems.extend(_check_record(rec, expected_n, expected_prev, payloads.get(key), root))
    if alert_id is None:
        for (aid, rev), payload in payloads.items():
            if (aid, rev) not in recorded:
                problems.append(Problem("unrecorded_alert", json.loads(payload)["stream_id"], aid,
                                        f"revision {rev} has no evidence records"))
    return problems


def snapshots_not_written(store: AlertStore, *, alert_id: str | None = None) -> list[Problem]:
    """Evidence items recorded without their snapshot because it could not be written (not tampering).

    The alert marked them (``snapshot_missing``) when it was raised, and the record's hash
    covers that mark, so ``verify_evidence`` still holds them to the chain; this only says
    which evidence stands without a picture, one ``snapshot_not_written`` entry per item.
    """
    found = []
    for row in store.evidence_records(alert_id):
        try:
            content = json.loads(row["content"])
        except ValueError:
            continue  # verify_evidence reports the record as changed
        if isinstance(content, dict) and content.get("snapshot_missing") is True:
            found.append(Problem("snapshot_not_written", row["stream_id"], row["alert_id"],
                                 f"revision {row['revision']} item {row['item']} ({content.get('modality')}) was raised "
                                 "without its snapshot: it could not be written (disk full?)", row["seq"]))
    return found


def _check_record(rec: Mapping[str, Any], expected_n: int, expected_prev: str, payload: str | None,
                  root: Path | None) -> Iterable[Problem]:
    def problem(kind: str, detail: str) -> Problem:
        return Problem(kind, rec["stream_id"], rec["alert_id"], detail, rec["seq"])

    if rec["n"] != expected_n or rec["prev_hash"] != expected_prev:
        yield problem("chain_broken", f"expected link #{expected_n} after {expected_prev[:12]}, "
                                      f"found #{rec['n']} after {rec['prev_hash'][:12]}")
    if record_hash(rec["prev_hash"], rec) != rec["record_hash"]:
        yield problem("record_changed", "record fields no longer match its hash")
    if sha256_text(rec["content"]) != rec["content_sha256"]:
        yield problem("record_changed", "evidence text/JSON no longer matches its SHA-256")
    if payload is None:
        yield problem("alert_changed", f"revision {rec['revision']} is gone from the store")
    elif sha256_text(payload) != rec["alert_sha256"]:
        yield problem("alert_changed", f"revision {rec['revision']} no longer matches its recorded SHA-256")
    declared = _declared_snapshot_sha256(rec["content"])
    if declared and rec["snapshot_sha256"] and declared != rec["snapshot_sha256"]:
        yield problem("snapshot_changed", "snapshot bytes already differed from the alert's SHA-256 when recorded")
    if rec["snapshot_path"]:
        path = resolve_snapshot(rec["snapshot_path"], root)
        if not path.is_file():
            yield problem("snapshot_missing", f"{path} is missing")
        elif rec["snapshot_sha256"] and sha256_file(path) != rec["snapshot_sha256"]:
            yield problem("snapshot_changed", f"{path} bytes no longer match SHA-256 {rec['snapshot_sha256']}")


def _declared_snapshot_sha256(content: str) -> str | None:
    try:
        value = json.loads(content)
    except ValueError:
        return None  # already reported: the content no longer matches its hash
    return value.get("snapshot_sha256") if isinstance(value, dict) else None


def export_bundle(store: AlertStore, alert_id: str, out: str | Path, *,
                  snapshot_root: str | Path | None = None) -> Path:
    """Write a self-contained evidence bundle for one alert: a directory, or a zip if ``out`` ends in .zip.

    Contents: ``alert.json`` (latest revision), ``revisions/<n>.json``,
    ``evidence.json`` (the ledger records with their chain hashes),
    ``snapshots/<name>``, ``verification.json`` (what ``verify_evidence``
    found for this alert at export time) and ``manifest.json`` (SHA-256 of every
    other file). Anyone can check it with ``verify_bundle`` or ``sha256sum``.
    """
    out = Path(out)
    root = Path(snapshot_root) if snapshot_root is not None else store.snapshot_root
    revisions = store.revisions(alert_id)
    if not revisions:
        raise LivewatchError(f"no alert {alert_id} in the alert store {store.path}: check the alert id and the store path")
    records = sorted(store.evidence_records(alert_id), key=lambda r: (r["revision"], r["item"]))
    problems = verify_evidence(store, root, alert_id=alert_id)
    not_written = snapshots_not_written(store, alert_id=alert_id)
    with tempfile.TemporaryDirectory(prefix="lw-bundle-") as tmp:
        staging = Path(tmp) / "bundle"
        (staging / "revisions").mkdir(parents=True)
        latest = revisions[-1].record
        _write_json(staging / "alert.json", latest)
        for r in revisions:
            (staging / "revisions" / f"{r.revision}.json").write_text(r.payload, encoding="utf-8")
        _write_json(staging / "evidence.json", records)
        missing = _copy_snapshots(records, root, staging / "snapshots")
        _write_json(staging / "verification.json", {
            "verified_at": utc_now_iso(),
            "problems": [str(p) for p in problems],
            "missing_snapshots": missing,
            "snapshots_not_written": [str(p) for p in not_written],
        })
        files = sorted(p for p in staging.rglob("*") if p.is_file())
        _write_json(staging / "manifest.json", {
            "format": BUNDLE_FORMAT,
            "alert_id": alert_id,
            "revision": latest["revision"],
            "stream_id": latest["stream_id"],
            "exported_at": utc_now_iso(),
            "files": {p.relative_to(staging).as_posix(): sha256_file(p) for p in files},
        })
        return _place(staging, out)


def _copy_snapshots(records: list[dict[str, Any]], root: Path | None, dest: Path) -> list[str]:
    dest.mkdir()
    missing = []
    for rec in records:
        if not rec["snapshot_path"]:
            continue
        src = resolve_snapshot(rec["snapshot_path"], root)
        target = dest / src.name
        if target.exists():
            continue
        if src.is_file():
            shutil.copyfile(src, target)
        else:
            missing.append(rec["snapshot_path"])
    return missing


def _write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _place(staging: Path, out: Path) -> Path:
    if out.suffix.lower() == ".zip":
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            for p in sorted(staging.rglob("*")):
                if p.is_file():
                    zf.write(p, p.relative_to(staging).as_posix())
        return out
    if out.exists() and any(out.iterdir()):
        raise LivewatchError(f"bundle directory {out} is not empty: choose a new directory or a .zip path")
    shutil.copytree(staging, out, dirs_exist_ok=True)
    return out


def verify_bundle(bundle: str | Path) -> list[str]:
    """Check an exported bundle (directory or zip) against its manifest; [] means every file matches."""
    bundle = Path(bundle)
    if bundle.suffix.lower() == ".zip":
        with zipfile.ZipFile(bundle) as zf:
            blobs = {name: zf.read(name) for name in zf.namelist() if not name.endswith("/")}
    else:
        blobs = {p.relative_to(bundle).as_posix(): p.read_bytes() for p in bundle.rglob("*") if p.is_file()}
    manifest = json.loads(blobs.pop("manifest.json"))
    found = []
    for name, digest in manifest["files"].items():
        if name not in blobs:
            found.append(f"{name}: missing from the bundle")
        elif hashlib.sha256(blobs[name]).hexdigest() != digest:
            found.append(f"{name}: SHA-256 does not match the manifest")
    found.extend(f"{name}: not listed in the manifest" for name in sorted(set(blobs) - set(manifest["files"])))
    return found
