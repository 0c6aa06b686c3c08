"""The committed alert JSON Schema against what events.Alert.to_dict() produces."""

from __future__ import annotations

import copy
import json

import pytest
from jsonschema import Draft202012Validator

from alerts import SCHEMA_PATH, AlertSchemaError, load_schema, validate_alert
from events import ALERT_SCHEMA_VERSION, Alert, Mode


def test_schema_is_valid_draft_2020_12_and_versioned():
    schema = load_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert f"/{ALERT_SCHEMA_VERSION}/" in schema["$id"]
    assert schema["properties"]["schema_version"]["const"] == ALERT_SCHEMA_VERSION


@pytest.mark.parametrize("mode", list(Mode))
def test_to_dict_round_trips_through_json_and_validates(make_alert, snapshot_file, mode):
    alert = make_alert(3, mode=mode, snapshot=snapshot_file)
    record = json.loads(json.dumps(alert.to_dict(), ensure_ascii=False))
    validate_alert(record)
    assert Alert.from_dict(record) == alert
    assert Alert.from_dict(record).to_dict() == record


def test_schema_lists_exactly_the_fields_to_dict_produces(make_alert, snapshot_file):
    record = make_alert(1, snapshot=snapshot_file).to_dict()
    schema = load_schema()
    assert set(schema["properties"]) == set(record) == set(schema["required"])
    item = schema["$defs"]["evidence"]
    assert set(item["properties"]) == set(record["evidence"][0]) == set(item["required"])


@pytest.mark.parametrize(
    ("path", "value", "where"),
    [
        (("category",), "fraud", "category"),
        (("severity",), "urgent", "severity"),
        (("detected_at",), "2026-11-02 10:00:00", "detected_at"),
        (("detected_at",), "2026-11-02T10:00:00", "detected_at"),
        (("schema_version",), "2.0", "schema_version"),
        (("evidence", 0, "modality"), "video", "evidence/0/modality"),
        (("evidence", 0, "snapshot_sha256"), "abc", "evidence/0/snapshot_sha256"),
        (("evidence", 0, "box"), [1, 2, 3], "evidence/0/box"),
        (("evidence",), [], "evidence"),
        (("surprise",), 1, "(record)"),
    ],
)
def test_invalid_records_get_a_clear_one_line_error(make_alert, path, value, where):
    record = copy.deepcopy(make_alert(1).to_dict())
    target = record
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(AlertSchemaError) as err:
        validate_alert(record)
    message = str(err.value)
    assert "\n" not in message and SCHEMA_PATH.name in message
    assert f" at {where}:" in message and record["alert_id"] in message


def test_missing_required_field_is_named(make_alert):
    record = make_alert(1).to_dict()
    del record["rule_version"]
    with pytest.raises(AlertSchemaError, match="rule_version"):
        validate_alert(record)


def test_records_of_earlier_versions_still_read_and_snapshot_missing_defaults_to_false(make_alert, snapshot_file):
    """1.2 adds snapshot_missing to each evidence item; stored 1.1 records (and 1.0) lack it."""
    record = make_alert(2, snapshot=snapshot_file).to_dict()
    assert record["schema_version"] == ALERT_SCHEMA_VERSION == "1.2"
    assert [e["snapshot_missing"] for e in record["evidence"]] == [False, False]
    older = copy.deepcopy(record)
    older["schema_version"] = "1.1"
    for item in older["evidence"]:
        del item["snapshot_missing"]
    alert = Alert.from_dict(older)
    assert alert.schema_version == "1.1" and not any(e.snapshot_missing for e in alert.evidence)
    marked = copy.deepcopy(record)
    marked["evidence"][1]["snapshot_missing"] = True
    validate_alert(marked)
    assert Alert.from_dict(marked).evidence[1].snapshot_missing
    marked["evidence"][1]["snapshot_missing"] = "yes"
    with pytest.raises(AlertSchemaError, match="evidence/1/snapshot_missing"):
        validate_alert(marked)
