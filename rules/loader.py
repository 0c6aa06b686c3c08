"""Loading rules and lexicons from YAML, with the file and line of every problem.

Ops edit these files on a live system, so a mistake must be found before it runs and be easy to
fix: each error names the file and line (from the YAML node marks), and nothing in a file is
executed (``yaml.SafeLoader``, a JSON Schema, then a few cross-file checks such as unknown
lexicons and duplicate rule ids).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import jsonschema
import yaml

from events import Action, Category, Modality, Mode, Severity
from rules.conditions import (
    BRAND_MODALITIES,
    TEXT_MODALITIES,
    AllOf,
    AnyOf,
    BrandSeen,
    Condition,
    FingerprintRun,
    Not,
    PriceBelow,
    Rule,
    Terms,
)
from rules.lexicon import CONTEXT_ROLE, TERMS_ROLE, Exemption, Lexicon, LexiconTerm

_SCHEMA_DIR = Path(__file__).parent / "schema"
DEFAULT_DIR = Path(__file__).parent / "default"
_YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True, slots=True)
class RuleError:
    """One problem in one rule or lexicon file, at one line (0 when the file itself is the problem)."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" if self.line else f"{self.file}: {self.message}"


def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((_SCHEMA_DIR / name).read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


_RULE_VALIDATOR = _validator("rule.schema.json")
_LEXICON_VALIDATOR = _validator("lexicon.schema.json")


class _Doc:
    """A parsed YAML file: its data, and the line of every path in it."""

    def __init__(self, path: Path, data: Any, lines: dict[tuple[str, ...], int]) -> None:
        self.path = path
        self.data = data
        self._lines = lines

    def line(self, path: tuple[Any, ...]) -> int:
        key = tuple(str(p) for p in path)
        while key and key not in self._lines:
            key = key[:-1]
        return self._lines.get(key, 1)

    def error(self, path: tuple[Any, ...], message: str) -> RuleError:
        return RuleError(str(self.path), self.line(path), message)


def _node_lines(node: yaml.Node, path: tuple[str, ...], lines: dict[tuple[str, ...], int], errors: list[str]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value)
            if name in seen:
                errors.append(f"{key.start_mark.line + 1}\0duplicate key {name!r}: keep one")
            seen.add(name)
            _node_lines(value, path + (name,), lines, errors)
            lines[path + (name,)] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _node_lines(item, path + (str(i),), lines, errors)


def _parse(path: Path) -> tuple[_Doc | None, list[RuleError]]:
    """Read one YAML file as plain data: capped in size, with no anchors or aliases.

    Aliases let a few hundred bytes expand into gigabytes ("billion laughs") when the
    document is walked; rules and lexicons never need them, so they are refused.
    """
    max_bytes = 4 * 1024 * 1024  # hand-written data is never this large
    try:
        if path.stat().st_size > max_bytes:
            return None, [RuleError(str(path), 0, f"file is larger than {max_bytes:,} bytes: split it")]
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [RuleError(str(path), 0, f"cannot read: {exc}; check the file is UTF-8 text")]
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                line = event.start_mark.line + 1 if event.start_mark is not None else 0
                return None, [RuleError(str(path), line,
                                        "YAML anchors and aliases (& and *) are not allowed: write the value out")]
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        return None, [RuleError(str(path), mark.line + 1 if mark else 0, f"invalid YAML: {problem}")]
    lines: dict[tuple[str, ...], int] = {}
    dupes: list[str] = []
    if node is not None:
        _node_lines(node, (), lines, dupes)
    doc = _Doc(path, data, lines)
    return doc, [RuleError(str(path), int(d.split("\0")[0]), d.split("\0")[1]) for d in dupes]


def _schema_errors(doc: _Doc, validator: jsonschema.Validator, data: Any, prefix: tuple[Any, ...]) -> list[RuleError]:
    errors = []
    for err in sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        path = prefix + tuple(err.absolute_path)
        message = err.message
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            allowed = set(err.schema.get("properties", {}))
            extra = sorted(k for k in err.instance if k not in allowed)
            if extra:
                path += (extra[0],)
                message = f"unknown key {extra[0]!r} (allowed: {', '.join(sorted(allowed))})"
        elif err.validator == "oneOf" and not isinstance(err.instance, (str, dict)):
            message = f"{err.instance!r} is not text: put it in quotes (YAML reads 1:1 as a number)"
        elif err.validator in ("minProperties", "maxProperties"):
            message = "a condition has exactly one of: all, any, not, terms, brand, price_below, fingerprint"
        where = ".".join(str(p) for p in path) or "top level"
        errors.append(doc.error(path, f"{where}: {message}"))
    return errors


def _yaml_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.suffix in _YAML_SUFFIXES and p.is_file())


# -- lexicons -------------------------------------------------------------------------------


def _lexicon_from(name: str, data: dict[str, Any], source: str) -> Lexicon:
    default_pinyin = bool(data.get("pinyin", True))
    terms = tuple(
        LexiconTerm(t, (), default_pinyin)
        if isinstance(t, str)
        else LexiconTerm(t["term"], tuple(t.get("aliases", ())), bool(t.get("pinyin", default_pinyin)), str(t.get("effect", "")))
        for t in data.get("terms") or ()
    )
    exemptions = tuple(
        Exemption(e) if isinstance(e, str) else Exemption(e["phrase"], str(e.get("reason", "")), bool(e.get("pinyin", True)))
        for e in data.get("exemptions") or ()
    )
    return Lexicon(
        name, terms, exemptions, str(data.get("description", "")), source,
        role=str(data.get("role", TERMS_ROLE)), applies_to=tuple(data.get("applies_to", ())), scope=int(data.get("scope", 8)),
    )


def _role_errors(doc: _Doc) -> list[RuleError]:
    """A context lexicon's terms each say their effect; other lexicons' terms have none."""
    context = doc.data.get("role") == CONTEXT_ROLE
    errors = []
    for i, t in enumerate(doc.data.get("terms") or ()):
        effect = isinstance(t, dict) and "effect" in t
        if context and not effect:
            errors.append(doc.error(("terms", i), f"terms.{i}: a context lexicon's term needs an effect "
                                                  "(negation, denial, comparison, mention, authorised, secondhand)"))
        elif effect and not context:
            errors.append(doc.error(("terms", i, "effect"), f"terms.{i}.effect: only lexicons with role: context give terms an effect"))
    return errors


def load_lexicons(directory: Path) -> tuple[tuple[Lexicon, ...], list[RuleError]]:
    """Every ``*.yaml`` of a lexicon directory; the file stem is the lexicon name."""
    if not directory.is_dir():
        return (), [RuleError(str(directory), 0, "lexicon directory not found: pass an existing directory")]
    lexicons, errors = [], []
    for path in _yaml_files(directory):
        doc, parse_errors = _parse(path)
        errors += parse_errors
        if doc is None:
            continue
        schema_errors = _schema_errors(doc, _LEXICON_VALIDATOR, doc.data, ())
        schema_errors = schema_errors or _role_errors(doc)
        errors += schema_errors
        if not schema_errors:
            lexicons.append(_lexicon_from(path.stem, doc.data, str(path)))
    return tuple(lexicons), errors


# -- rules ----------------------------------------------------------------------------------


def _condition(data: dict[str, Any]) -> Condition:
    (kind, body), = data.items()
    body = body or {}
    if kind == "all":
        return AllOf(tuple(_condition(c) for c in body))
    if kind == "any":
        return AnyOf(tuple(_condition(c) for c in body))
    if kind == "not":
        return Not(_condition(body))
    if kind == "terms":
        modalities = tuple(Modality(m) for m in body.get("modalities", TEXT_MODALITIES))
        return Terms(tuple(body["lexicons"]), modalities, int(body.get("min_count", 1)), tuple(body.get("corroborated_by", ())))
    if kind == "brand":
        modalities = tuple(Modality(m) for m in body.get("modalities", BRAND_MODALITIES))
        return BrandSeen(modalities, tuple(body.get("brands", ())))
    if kind == "price_below":
        modalities = tuple(Modality(m) for m in body.get("modalities", TEXT_MODALITIES))
        return PriceBelow(float(body["fraction"]), modalities, str(body.get("bind", "product")))
    return FingerprintRun(float(body["min_duration_s"]), tuple(body.get("contents", ())), str(body.get("kind", "any")),
                          body.get("live"))


def _lexicon_refs(data: Any, path: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], str]]:
    """(path, lexicon name) of every lexicon a condition tree names."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "terms" and isinstance(value, dict):
                for field in ("lexicons", "corroborated_by"):
                    for i, name in enumerate(value.get(field, ())):
                        yield path + (key, field, i), name
            else:
                yield from _lexicon_refs(value, path + (key,))
    elif isinstance(data, list):
        for i, item in enumerate(data):
            yield from _lexicon_refs(item, path + (i,))


def _rule_from(data: dict[str, Any], source: str) -> Rule:
    return Rule(
        id=data["id"],
        version=int(data["version"]),
        category=Category(data["category"]),
        severity=Severity(data["severity"]),
        description=str(data.get("description", "")).strip(),
        condition=_condition(data["conditions"]),
        window_s=float(data.get("window_s", 30.0)),
        cooldown_s=float(data.get("cooldown_s", 300.0)),
        mode=Mode(data.get("mode", "enforce")),
        action=Action(data.get("action", "review")),
        scope=str(data.get("scope", "window")),
        benign_context=frozenset(data.get("benign_context", ())),
        takedown_confidence=float(data.get("takedown_confidence", 0.8)),
        min_confidence={Modality(k): float(v) for k, v in (data.get("min_confidence") or {}).items()},
        title=str(data.get("title", "")),
        source=source,
    )


def load_rules(directory: Path, lexicon_names: set[str]) -> tuple[tuple[Rule, ...], list[RuleError]]:
    """Every rule of every ``*.yaml`` in a directory (a file holds one rule or a list of them)."""
    if not directory.is_dir():
        return (), [RuleError(str(directory), 0, "rules directory not found: pass an existing directory")]
    rules: list[Rule] = []
    errors: list[RuleError] = []
    first_seen: dict[str, str] = {}
    for path in _yaml_files(directory):
        doc, parse_errors = _parse(path)
        errors += parse_errors
        if doc is None:
            continue
        items = doc.data if isinstance(doc.data, list) else [doc.data]
        prefixes: list[tuple[Any, ...]] = [(i,) for i in range(len(items))] if isinstance(doc.data, list) else [()]
        for item, prefix in zip(items, prefixes):
            item_errors = _schema_errors(doc, _RULE_VALIDATOR, item, prefix)
            if not item_errors:
                for ref_path, name in _lexicon_refs(item["conditions"], prefix + ("conditions",)):
                    if name not in lexicon_names:
                        known = ", ".join(sorted(lexicon_names)) or "none"
                        item_errors.append(doc.error(ref_path, f"unknown lexicon {name!r} (known: {known})"))
                source = f"{path}:{doc.line(prefix)}"
                if item["id"] in first_seen:
                    item_errors.append(doc.error(prefix + ("id",), f"duplicate rule id {item['id']!r}, first at {first_seen[item['id']]}"))
                first_seen.setdefault(item["id"], source)
            errors += item_errors
            if not item_errors:
                rules.append(_rule_from(item, f"{path}:{doc.line(prefix)}"))
    return tuple(rules), errors


def resolve_dirs(path: str | Path, lexicon_dir: str | Path | None = None) -> tuple[Path, Path]:
    """(rules dir, lexicon dir) for a rules directory or a rule-set directory.

    A rule set is a directory holding ``rules/`` and ``lexicons/`` (like ``rules/default``).
    A plain rules directory takes its lexicons from ``lexicon_dir``, else from a sibling
    ``lexicons/`` directory, else from the bundled default lexicons.
    """
    path = Path(path)
    if (path / "rules").is_dir():
        return path / "rules", Path(lexicon_dir) if lexicon_dir else path / "lexicons"
    if lexicon_dir:
        return path, Path(lexicon_dir)
    sibling = path.parent / "lexicons"
    return path, sibling if sibling.is_dir() else DEFAULT_DIR / "lexicons"


def load_all(path: str | Path, lexicon_dir: str | Path | None = None) -> tuple[tuple[Rule, ...], tuple[Lexicon, ...], list[RuleError]]:
    rules_dir, lex_dir = resolve_dirs(path, lexicon_dir)
    lexicons, errors = load_lexicons(lex_dir)
    errors += _applies_to_errors(lexicons)
    rules, rule_errors = load_rules(rules_dir, {lex.name for lex in lexicons if lex.role == TERMS_ROLE})
    return rules, lexicons, errors + rule_errors


def _applies_to_errors(lexicons: tuple[Lexicon, ...]) -> list[RuleError]:
    """A context lexicon acts on term lexicons that exist, or on "brands"."""
    known = {lex.name for lex in lexicons if lex.role == TERMS_ROLE} | {"brands"}
    return [
        RuleError(lex.source, 0, f"applies_to names unknown lexicon {name!r} (known: {', '.join(sorted(known))})")
        for lex in lexicons
        for name in lex.applies_to
        if name not in known
    ]


def check_rules(path: str | Path, lexicon_dir: str | Path | None = None) -> list[RuleError]:
    """Validate a rule set without running it (``livewatch rules check DIR``): [] when valid."""
    return load_all(path, lexicon_dir)[2]


def watched_files(path: str | Path, lexicon_dir: str | Path | None = None) -> list[Path]:
    rules_dir, lex_dir = resolve_dirs(path, lexicon_dir)
    return [p for d in (rules_dir, lex_dir) if d.is_dir() for p in _yaml_files(d)]
