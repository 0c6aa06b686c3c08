"""The evidence ledger: hash chain per stream, verification, tamper detection, bundles."""

from __future__ import annotations

import json
import sqlite3
import zipfile

import pytest

from alerts import AlertStore, export_bundle, snapshots_not_written, verify_bundle, verify_evidence
from events import LivewatchError


@pytest.fixture
def ledger(tmp_path, make_alert, snapshot_file):
    store = AlertStore(tmp_path / "alerts.db", snapshot_root=tmp_path)
    alerts = [make_alert(i, stream_id=f"s{i % 2}", snapshot=snapshot_file) for i in range(6)]
    for a in alerts:
        store.append(a)
    yield store, alerts
    store.close()


def _kinds(problems):
    return sorted({p.kind for p in problems})


def _sql(store, statement, *args):
    db = sqlite3.connect(store.path)
    with db:
        db.execute(statement, args)
    db.close()


def test_each_evidence_item_is_a_chained_record(ledger, snapshot_file):
    store, alerts = ledger
    rows = [r for r in store.evidence_records() if r["stream_id"] == "s0"]
    assert len(rows) == 3 * 2  # three alerts of s0, two items each
    assert rows[0]["prev_hash"] == "0" * 64
    assert all(b["prev_hash"] == a["record_hash"] for a, b in zip(rows, rows[1:]))
    ocr = [r for r in rows if r["modality"] == "ocr"]
    assert {r["snapshot_sha256"] for r in ocr} == {snapshot_file.stem}
    assert store.chain_heads()["s0"] == rows[-1]["record_hash"]
    assert verify_evidence(store) == []


def test_tampered_snapshot_is_caught(ledger, snapshot_file):
    store, _ = ledger
    data = bytearray(snapshot_file.read_bytes())
    data[100] ^= 0xFF
    snapshot_file.write_bytes(bytes(data))
    problems = verify_evidence(store)
    assert _kinds(problems) == ["snapshot_changed"]
    assert str(snapshot_file) in str(problems[0])


def test_missing_snapshot_is_caught(ledger, snapshot_file):
    store, _ = ledger
    snapshot_file.unlink()
    assert _kinds(verify_evidence(store)) == ["snapshot_missing"]


def test_changed_record_text_is_caught(ledger):
    store, alerts = ledger
    seq = next(r["seq"] for r in store.evidence_records(alerts[2].alert_id) if r["item"] == 1)
    _sql(store, "UPDATE evidence_records SET content = replace(content, '高仿', '正品') WHERE seq = ?", seq)
    problems = verify_evidence(store)
    assert _kinds(problems) == ["record_changed"] and problems[0].record_seq == seq


def test_record_rewritten_with_fresh_hashes_breaks_the_chain(ledger):
    store, alerts = ledger
    row = next(r for r in store.evidence_records(alerts[0].alert_id) if r["item"] == 0)
    from alerts.ledger import canonical_json, record_hash, sha256_text

    content = json.loads(row["content"])
    content["text"] = "正品"
    row["content"] = canonical_json(content)
    row["content_sha256"] = sha256_text(row["content"])
    row["record_hash"] = record_hash(row["prev_hash"], row)
    _sql(store, "UPDATE evidence_records SET content = ?, content_sha256 = ?, record_hash = ? WHERE seq = ?",
         row["content"], row["content_sha256"], row["record_hash"], row["seq"])
    kinds = _kinds(verify_evidence(store))
    assert "chain_broken" in kinds  # the next record no longer links to it


def test_deleted_record_and_changed_alert_are_caught(ledger):
    store, alerts = ledger
    _sql(store, "DELETE FROM evidence_records WHERE alert_id = ? AND item = 1", alerts[1].alert_id)
    _sql(store, "UPDATE alerts SET payload = replace(payload, '\"high\"', '\"low\"') WHERE alert_id = ?",
         alerts[4].alert_id)
    problems = verify_evidence(store)
    assert _kinds(problems) == ["alert_changed", "chain_broken"]
    assert {p.alert_id for p in problems if p.kind == "alert_changed"} == {alerts[4].alert_id}


def test_export_bundle_directory_and_zip(ledger, tmp_path, snapshot_file):
    store, alerts = ledger
    store.append(alerts[0].__class__.from_dict({**alerts[0].to_dict(), "revision": 2}))
    out = export_bundle(store, alerts[0].alert_id, tmp_path / "bundle")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["alert_id"] == alerts[0].alert_id and manifest["revision"] == 2
    assert manifest["files"][f"snapshots/{snapshot_file.name}"] == snapshot_file.stem
    assert set(manifest["files"]) >= {"alert.json", "evidence.json", "revisions/1.json", "revisions/2.json",
                                     "verification.json"}
    assert json.loads((out / "verification.json").read_text())["problems"] == []
    assert len(json.loads((out / "evidence.json").read_text())) == 4
    assert verify_bundle(out) == []
    (out / "alert.json").write_text("{}")
    assert verify_bundle(out) == ["alert.json: SHA-256 does not match the manifest"]

    zipped = export_bundle(store, alerts[0].alert_id, tmp_path / "bundle.zip")
    assert verify_bundle(zipped) == []
    assert f"snapshots/{snapshot_file.name}" in zipfile.ZipFile(zipped).namelist()


def test_export_unknown_alert_is_a_clear_error(ledger, tmp_path):
    store, _ = ledger
    with pytest.raises(LivewatchError, match="no alert nope in the alert store"):
        export_bundle(store, "nope", tmp_path / "b")


def test_snapshots_not_written_are_reported_apart_from_tampering(ledger, tmp_path, make_alert):
    """An alert raised on a full disk carries its evidence without the picture: said, but not as tampering."""
    import dataclasses

    store, _ = ledger
    alert = make_alert(9, stream_id="s1")
    no_picture = dataclasses.replace(alert.evidence[0], snapshot_missing=True)
    alert = dataclasses.replace(alert, evidence=(no_picture, *alert.evidence[1:]))
    store.append(alert)
    assert verify_evidence(store) == []
    (found,) = snapshots_not_written(store)
    assert (found.kind, found.stream_id, found.alert_id) == ("snapshot_not_written", "s1", alert.alert_id)
    assert "could not be written" in str(found) and "item 0 (ocr)" in str(found)
    assert snapshots_not_written(store, alert_id="other") == []
    out = export_bundle(store, alert.alert_id, tmp_path / "nosnap")
    verification = json.loads((out / "verification.json").read_text())
    assert verification["problems"] == [] and verification["snapshots_not_written"] == [str(found)]

    _sql(store, "UPDATE evidence_records SET content = replace(content, '\"snapshot_missing\":true', "
                "'\"snapshot_missing\":false') WHERE alert_id = ?", alert.alert_id)
    assert "record_changed" in _kinds(verify_evidence(store)), "the mark is covered by the record's hash"
