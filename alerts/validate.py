"""The alert record's JSON Schema (``schema/alert.schema.json``) and its validator.

The schema file is the contract with every consumer of ``livewatch.alerts``
(dashboard, takedown hooks, other teams' services), so it is committed and
versioned; this module only loads it and checks records against it.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from jsonschema import Draft202012Validator, FormatChecker

from events import LivewatchError

SCHEMA_PATH = Path(__file__).with_name("schema") / "alert.schema.json"


class AlertSchemaError(LivewatchError):
    """An alert record does not follow ``alerts/schema/alert.schema.json``."""


def load_schema() -> dict[str, Any]:
    """The alert JSON Schema as a dict (a fresh copy: callers may not share it)."""
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


def _format_checker() -> FormatChecker:
    """Standard formats plus an RFC 3339 ``date-time`` check that needs no extra package.

    jsonschema only checks ``date-time`` when ``rfc3339-validator`` is installed;
    a schema whose formats silently pass would not be a contract.
    """
    checker = FormatChecker()

    def _date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if "T" not in value.upper():
            raise ValueError("date and time must be separated by 'T'")
        parsed = datetime.fromisoformat(value.replace("z", "Z"))
        if parsed.tzinfo is None:
            raise ValueError("a time zone (Z or +hh:mm) is required")
        return True

    checker.checks("date-time", raises=ValueError)(_date_time)
    return checker


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    schema = load_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=_format_checker())


def validate_alert(record: Mapping[str, Any]) -> None:
    """Raise ``AlertSchemaError`` naming the first offending field when ``record`` breaks the schema."""
    errors = sorted(_validator().iter_errors(record), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(record)"
        alert_id = record.get("alert_id", "?") if isinstance(record, Mapping) else "?"
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        raise AlertSchemaError(
            f"alert {alert_id} does not follow {SCHEMA_PATH.name} at {where}: {first.message}{more}"
        )
