"""The one place the dashboard calls the pipeline's stages: ``rules``, ``alerts`` and ``logos``.

Ops pages validate rule and lexicon edits with the rules engine's own
``check_rules`` (the same check ``livewatch rules check`` runs on the files),
explain text with ``explain``, and show evidence integrity and bundles with
``alerts.verify_evidence`` / ``alerts.export_bundle``. Everything else in the
dashboard is independent of the stages, so a change of their public faces
lands here only. When a stage is not installed, its feature says so instead
of failing the page. The streams API reaches the workers' control topic
through a ``StreamControl`` the top floor passes in (``create_app(streams=...)``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import re
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol

import yaml

from events import ALERT_SCHEMA_VERSION, ConfigError

log = logging.getLogger(__name__)

EDITABLE_SUFFIXES = (".yaml", ".yml", ".txt", ".json")
YAML_SUFFIXES = (".yaml", ".yml")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")


class Unavailable(RuntimeError):
    """A stage feature the dashboard needs is not installed or not configured."""


def _rules_module() -> Any:
    try:
        import rules
    except ImportError as exc:
        raise Unavailable(f"the rules engine is not installed: {exc}") from exc
    return rules


def _alerts_module() -> Any:
    try:
        import alerts
    except ImportError as exc:
        raise Unavailable(f"the alerts stage is not installed: {exc}") from exc
    return alerts


# -- alerts ------------------------------------------------------------------------


# Schema versions in order, and what each added to the alert and to each evidence item, with the
# value that stands for "not said". Every version only added fields, so a record of an older one
# is checked as the current schema with those fields filled in: workers not yet upgraded keep
# reaching moderators.
SCHEMA_VERSIONS = ("1.0", "1.1", "1.2")
_ADDED_FIELDS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "1.1": ({"confidence": 0.0, "segment": None, "price": None}, {"strength": None, "segment_id": None}),
    "1.2": ({}, {"snapshot_missing": False}),
}


def _as_current(record: dict[str, Any]) -> dict[str, Any]:
    """An older record with the fields later versions added (empty), to check the rest against the schema.

    Only the check sees this copy: the record is stored as it came, so its page shows "—" for
    what its version does not say. Fields the record does carry are checked as they are. A
    version this dashboard does not know (or a newer one) is left to the schema to refuse.
    """
    version = record.get("schema_version")
    if version not in SCHEMA_VERSIONS or ALERT_SCHEMA_VERSION not in SCHEMA_VERSIONS:
        return record
    later = SCHEMA_VERSIONS[SCHEMA_VERSIONS.index(version) + 1:SCHEMA_VERSIONS.index(ALERT_SCHEMA_VERSION) + 1]
    if not later:
        return record
    alert_fields = {k: v for added in later for k, v in _ADDED_FIELDS[added][0].items()}
    evidence_fields = {k: v for added in later for k, v in _ADDED_FIELDS[added][1].items()}
    items = record.get("evidence")
    if isinstance(items, list):
        items = [{**evidence_fields, **ev} if isinstance(ev, dict) else ev for ev in items]
    return {**alert_fields, **record, "schema_version": ALERT_SCHEMA_VERSION, "evidence": items}


def check_alert(record: Any) -> None:
    """Raise ValueError unless ``record`` is an alert under the published JSON Schema (or an older version)."""
    from events import Alert

    validate: Callable[[Mapping[str, Any]], None] | None
    try:
        from alerts import validate_alert as validate
    except ImportError:  # without the schema, the event type's own parsing still checks the shape
        validate = None
    try:
        if not isinstance(record, dict):
            raise TypeError("record is not a JSON object")
        current = _as_current(record)
        if validate is not None:
            validate(current)
        Alert.from_dict(current)
    except Exception as exc:  # AlertSchemaError, KeyError, TypeError...: all mean "not an alert"
        raise ValueError(f"not an alert: {exc}") from exc


# -- rule and lexicon files -----------------------------------------------------------


def data_dir(rules_dir: Path | None, lexicon_dir: Path | None, kind: str) -> Path:
    folder = {"rules": rules_dir, "lexicons": lexicon_dir}.get(kind)
    if folder is None:
        raise Unavailable(f"no {kind} directory is configured: set LIVEWATCH_RULES_DIR / LIVEWATCH_LEXICON_DIR")
    return Path(folder)


def resolve_dirs(rules_dir: Path | None, lexicon_dir: Path | None) -> tuple[Path | None, Path | None]:
    """The folders holding the rule files and the lexicon files, as the rules engine reads them.

    A rule set (like ``rules/default``) keeps them in ``rules/`` and ``lexicons/`` subfolders; a
    plain rules folder takes its lexicons from ``lexicon_dir`` or a sibling ``lexicons/`` folder.
    """
    if rules_dir is None:
        return None, lexicon_dir
    rules_dir = Path(rules_dir)
    if (rules_dir / "rules").is_dir():
        return rules_dir / "rules", Path(lexicon_dir) if lexicon_dir else rules_dir / "lexicons"
    sibling = rules_dir.parent / "lexicons"
    return rules_dir, Path(lexicon_dir) if lexicon_dir else (sibling if sibling.is_dir() else None)


def list_files(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_file() and p.suffix in EDITABLE_SUFFIXES)


def file_path(folder: Path, name: str) -> Path:
    """The file ``name`` directly inside ``folder``; refuses anything that could leave it."""
    if not _NAME_RE.match(name) or Path(name).suffix not in EDITABLE_SUFFIXES:
        raise KeyError(name)
    return folder / name


def creation_refused(path: Path) -> str | None:
    """Why saving ``path`` may not create it: only YAML files, which the rules engine validates, are new files."""
    if path.exists() or path.suffix in YAML_SUFFIXES:
        return None
    return f"{path.name}: only .yaml or .yml files can be created here; .txt and .json files can only be edited"


def check_edit(rules_dir: Path | None, lexicon_dir: Path | None, kind: str, name: str, content: str) -> list[str]:
    """Errors the edited file set would have, with the rules engine's own validation.

    The edit is tried on a copy of both directories, so the live files never
    hold a broken state. Without a rules engine only YAML syntax is checked.
    """
    errors = yaml_errors(name, content)
    if errors:
        return errors
    try:
        rules = _rules_module()
    except Unavailable:
        return []
    with tempfile.TemporaryDirectory(prefix="lw-rules-check-") as tmp:
        copies = {}
        for k, folder in (("rules", rules_dir), ("lexicons", lexicon_dir)):
            dst = Path(tmp) / k
            if folder is not None and Path(folder).is_dir():
                shutil.copytree(folder, dst)
            else:
                dst.mkdir()
            copies[k] = dst
        (copies[kind] / name).write_text(content, encoding="utf-8")
        try:
            found = rules.check_rules(copies["rules"], copies["lexicons"])
        except Exception as exc:  # a crash of the check is a refusal, not a 500
            return [f"{name}: {exc}"]
    return [_relabel(str(e), tmp) for e in (found or [])]


def write_file(path: Path, content: str) -> None:
    """Atomic replace, so the engine's hot reload never reads half a file.

    The file keeps its mode (a worker running as another user must still read it); a new
    file gets the usual mode under the process umask, not ``mkstemp``'s 0600.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(content)
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _mode_for(path: Path) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def list_rules(rules_dir: Path | None) -> list[dict[str, Any]]:
    """Every rule found in the rule files: id, mode, action, takedown_confidence, version, file.

    ``takedown_confidence`` is None when the file leaves it to the engine's default.
    """
    if rules_dir is None:
        return []
    found = []
    for name in list_files(Path(rules_dir)):
        try:
            doc = yaml.safe_load((Path(rules_dir) / name).read_text(encoding="utf-8"))
        except (yaml.YAMLError, OSError, UnicodeDecodeError):
            continue
        for rule in _rule_mappings(doc):
            found.append({
                "rule_id": str(rule["id"]),
                "mode": str(rule.get("mode", "enforce")),
                "action": str(rule.get("action", "review")),
                "takedown_confidence": _fraction(rule.get("takedown_confidence")),
                "version": rule.get("version"),
                "category": rule.get("category"),
                "file": name,
            })
    return sorted(found, key=lambda r: r["rule_id"])


def _fraction(value: Any) -> float | None:
    """A 0..1 number as written in a rule file; None when absent or not one."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        return None
    return float(value)


def set_mode_text(content: str, rule_id: str, mode: str) -> str:
    """``content`` with the rule's ``mode:`` set, editing the text so comments survive."""
    lines = content.splitlines(keepends=True)
    id_re = re.compile(r"^(\s*)(-\s+)?id:\s*['\"]?" + re.escape(rule_id) + r"['\"]?\s*(#.*)?$")
    for i, line in enumerate(lines):
        m = id_re.match(line.rstrip("\n"))
        if not m:
            continue
        indent = m.group(1) + (" " * len(m.group(2)) if m.group(2) else "")
        j = i + 1
        while j < len(lines):
            cur = lines[j]
            stripped = cur.strip()
            cur_indent = cur[: len(cur) - len(cur.lstrip())]
            if stripped and (len(cur_indent) < len(indent) or cur.lstrip().startswith("- ")
                             and len(cur_indent) <= len(indent) - 2):
                break
            if len(cur_indent) == len(indent) and re.match(r"mode:\s", cur.lstrip() + " "):
                lines[j] = f"{indent}mode: {mode}\n"
                return "".join(lines)
            j += 1
        lines.insert(i + 1, f"{indent}mode: {mode}\n")
        return "".join(lines)
    raise KeyError(rule_id)


def explain(rules_dir: Path | None, lexicon_dir: Path | None, text: str,
            brands_dir: Path | None = None) -> dict[str, Any]:
    """What the current rules make of ``text``: a readable summary and the same as JSON values."""
    rules = _rules_module()
    if rules_dir is None:
        raise Unavailable("no rules directory is configured: set LIVEWATCH_RULES_DIR")
    try:
        engine = rules.load_engine(rules_dir, lexicon_dir, _brands(brands_dir))
    except Exception as exc:
        raise ConfigError(f"{rules_dir}: the rules do not load: {exc}") from exc
    result = rules.explain(engine, text)
    return {"summary": str(result), "details": to_jsonable(result)}


def _brands(brands_dir: Path | None) -> list[Any]:
    """The brand registry, so brand conditions can match names in the text."""
    if brands_dir is None:
        return []
    try:
        from logos import load_brand_registry
    except ImportError:
        return []
    return list(load_brand_registry(brands_dir))


# -- evidence ----------------------------------------------------------------------


def verify_evidence(alert_store: Path | None, snapshot_root: Path, alert_id: str) -> list[str]:
    """Problems in this alert's part of the evidence hash chain (empty: intact)."""
    alerts = _alerts_module()
    if alert_store is None:
        raise Unavailable("evidence verification needs the worker's alert store: set alert_store in the settings")
    store = alerts.AlertStore(alert_store, snapshot_root=snapshot_root)
    try:
        return [str(p) for p in alerts.verify_evidence(store, snapshot_root, alert_id=alert_id)]
    finally:
        store.close()


def evidence_bundle(alert_store: Path | None, snapshot_root: Path, alert_id: str, out_dir: Path) -> Path:
    """The alert's self-contained evidence bundle (JSON + snapshots + hashes), as a zip file."""
    alerts = _alerts_module()
    if alert_store is None:
        raise Unavailable("evidence bundles need the worker's alert store: set alert_store in the settings")
    store = alerts.AlertStore(alert_store, snapshot_root=snapshot_root)
    try:
        if store.get(alert_id) is None:
            raise KeyError(f"alert {alert_id} is not in the worker's alert store")
        return Path(alerts.export_bundle(store, alert_id, out_dir / f"evidence-{alert_id}.zip",
                                         snapshot_root=snapshot_root))
    finally:
        store.close()


# -- helpers -------------------------------------------------------------------------


def to_jsonable(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return to_jsonable(value.to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def yaml_errors(name: str, content: str) -> list[str]:
    """Why a rules file is not acceptable YAML at all (anchors/aliases, syntax): checked before any schema."""
    if Path(name).suffix not in YAML_SUFFIXES:
        return []
    try:
        for event in yaml.parse(content, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                where = f"{name}:{event.start_mark.line + 1}" if event.start_mark is not None else name
                return [f"{where}: YAML anchors and aliases (& and *) are not allowed: write the value out"]
    except yaml.YAMLError as exc:
        return [f"{name}: not valid YAML: {' '.join(str(exc).split())}"]
    return []


def _rule_mappings(doc: Any) -> list[dict[str, Any]]:
    items = doc.get("rules", [doc]) if isinstance(doc, dict) else doc if isinstance(doc, list) else []
    return [r for r in items if isinstance(r, dict) and "id" in r]


def _relabel(message: str, tmp: str) -> str:
    """Error messages name the temp copy; show the file name the user edited."""
    return message.replace(tmp + os.sep + "rules" + os.sep, "").replace(tmp + os.sep + "lexicons" + os.sep, "")


# -- streams to watch (the workers' control topic) -----------------------------------------------


class StreamControl(Protocol):
    """A client of the workers' control topics: ``livewatch.streams`` (what to watch,
    ``livewatch.assignment.StreamControl``) and ``livewatch.protect`` (what to protect live,
    ``livewatch.live_protect.ProtectControl``)."""

    def list(self) -> dict[str, str]: ...

    def add(self, stream_id: str, url: str) -> None: ...

    def remove(self, stream_id: str) -> None: ...

    def protect(self, stream_id: str, on: bool) -> None: ...

    def close(self) -> None: ...


# Opens a client for one request; the top floor passes it in (``livewatch dashboard`` builds it
# from the config), so the dashboard needs no Kafka client of its own for the control topic.
StreamControlFactory = Callable[[], StreamControl]


def _stream_control(factory: StreamControlFactory | None) -> contextlib.closing[StreamControl]:
    if factory is None:
        raise Unavailable("no Kafka broker configured (LIVEWATCH_KAFKA): streams are managed through livewatch.streams")
    return contextlib.closing(factory())


def list_streams(control: StreamControlFactory | None) -> dict[str, str]:
    """{stream id: url} the workers are asked to watch."""
    with _stream_control(control) as client:
        return client.list()


def add_stream(control: StreamControlFactory | None, stream_id: str, url: str) -> None:
    """Ask the workers to watch ``url`` (validated by the client first) as ``stream_id``."""
    with _stream_control(control) as client:
        client.add(stream_id, url)


def remove_stream(control: StreamControlFactory | None, stream_id: str) -> None:
    with _stream_control(control) as client:
        client.remove(stream_id)


def protect_stream(control: StreamControlFactory | None, stream_id: str, on: bool) -> None:
    """Ask the worker watching ``stream_id`` to fingerprint it live (``on``), so its re-broadcasts are caught, or to stop."""
    with _stream_control(control) as client:
        client.protect(stream_id, on)
