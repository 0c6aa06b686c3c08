"""The rules engine: evidence in, alerts out, per stream, with hot-reloaded rules.

Per stream it keeps a bounded window of facts (terms, brands, prices, fingerprint runs) and the
alerts still open. Each evidence event is normalised and matched once; only rules that depend
on the kinds of facts it produced are evaluated, so a stream of talk without any cue costs one
normalisation and two automaton passes per event.

Alert life-cycle: a rule that matches for a subject (brand, protected content, or none) opens
one alert per stream x rule x subject. Later matches with new evidence update it (same
``alert_id``, ``revision`` + 1, at most one revision per ``min_revision_interval_s``) as long as
they come within ``cooldown_s`` of the previous evidence; after a quiet gap longer than that, a
new match raises a new alert. Evidence that only stays longer in view (same observation)
extends the alert silently; that extension is published when the alert closes or the stream
finishes.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Iterable, Mapping

from events import (
    Alert,
    AlertEvidence,
    Brand,
    ConfigError,
    Evidence,
    Modality,
    Severity,
    alert_id_for,
)
from rules.conditions import Fact, Rule, Window
from rules.explain import Explanation, RuleVerdict
from rules.lexicon import BRAND, EXEMPT, Lexicon, Matcher
from rules.loader import DEFAULT_DIR, RuleError, load_all, watched_files
from rules.normalize import Normalizer, text_prices

log = logging.getLogger(__name__)

_SEVERITIES = list(Severity)
_TEXT = (Modality.ASR, Modality.OCR)


def _default_confidence() -> Mapping[Modality, float]:
    return MappingProxyType({Modality.ASR: 0.3, Modality.OCR: 0.5, Modality.LOGO: 0.6, Modality.FINGERPRINT: 0.5})


@dataclass(frozen=True)
class RulesOptions:
    """Engine settings; a rule's own ``min_confidence`` overrides ``min_confidence`` here."""

    min_confidence: Mapping[Modality, float] = field(default_factory=_default_confidence)
    pinyin_min_syllables: int = 2  # shorter terms match by characters only (too many homophones)
    brand_pinyin_min_syllables: int = 2  # 古驰 heard as 古迟; a brand alone never fires a rule
    hot_reload: bool = True
    reload_poll_s: float = 1.0  # wall-clock seconds between checks of the files' mtimes
    prices_from_text: bool = True  # parse prices from text when evidence carries none
    fingerprint_gap_s: float = 3.0  # fingerprint evidence closer than this extends one run
    max_facts_per_stream: int = 2000
    max_streams: int = 10_000  # least recently seen streams beyond this are forgotten
    max_alert_evidence: int = 20
    min_revision_interval_s: float = 5.0  # media seconds between two revisions of one alert
    escalate_score: float = 0.95  # score (and >= 2 modalities) that raises severity one level


@dataclass(frozen=True)
class _RuleSet:
    """One consistent load of rules, lexicons and brands: swapped whole on reload."""

    rules: tuple[Rule, ...]
    lexicons: tuple[Lexicon, ...]
    matcher: Matcher
    brands: Mapping[str, Brand]
    brand_ids: Mapping[str, str]  # normalised brand id / name -> brand id, for logo labels
    rule_kinds: Mapping[str, frozenset[str]]  # fact kinds that trigger a rule's evaluation
    rule_needs: Mapping[str, frozenset[str]]  # fact kinds a rule cannot hold without
    max_window_s: float
    files: tuple[tuple[str, int, int], ...]


@dataclass
class _OpenAlert:
    rule: Rule
    subject: str | None
    alert_id: str
    onset: float
    revision: int
    facts: dict[int, dict[tuple[str, str], Fact]]  # seq -> (kind, value) -> fact
    last_seen: float
    pending: bool = False  # new evidence not yet published (revision held back by the interval)
    extended: bool = False  # known evidence stayed longer in view than last published
    emitted: Alert | None = None
    emitted_at: float = float("-inf")  # stream media time of the last revision


@dataclass
class _Stream:
    facts: list[Fact] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)  # how many facts of each kind
    by_observation: dict[tuple, Fact] = field(default_factory=dict)
    alerts: dict[tuple[str, str | None], _OpenAlert] = field(default_factory=dict)
    now: float = float("-inf")


def _files_state(paths: Iterable[Path]) -> tuple[tuple[str, int, int], ...]:
    state = []
    for p in paths:
        try:
            st = p.stat()
        except OSError:
            continue
        state.append((str(p), st.st_mtime_ns, st.st_size))
    return tuple(state)


class RuleEngine:
    """Evaluates rules over evidence, per stream; thread-safe (one lock, no threads of its own).

    ``rules_dir`` is a rule set (a directory with ``rules/`` and ``lexicons/``) or a rules
    directory (lexicons from ``lexicon_dir``, a sibling ``lexicons/``, or the defaults).
    Raises :class:`events.ConfigError` if the rules cannot be loaded at start; later invalid
    edits are logged and rejected while the previous rules keep running.
    """

    def __init__(
        self,
        rules_dir: str | Path = DEFAULT_DIR,
        lexicon_dir: str | Path | None = None,
        brands: Iterable[Brand] = (),
        options: RulesOptions = RulesOptions(),
    ) -> None:
        self._paths = (Path(rules_dir), Path(lexicon_dir) if lexicon_dir else None)
        self._brands = tuple(brands)
        self._options = options
        self._normalizer = Normalizer()
        self._lock = threading.RLock()
        self._streams: OrderedDict[str, _Stream] = OrderedDict()
        self._seq = itertools.count(1)
        self.last_errors: list[RuleError] = []
        ruleset, errors = self._load()
        if ruleset is None:
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise ConfigError(f"rules in {rules_dir} are invalid: {errors[0]}{more}; run `livewatch rules check {rules_dir}`")
        self._ruleset = ruleset
        self._rejected_files: tuple | None = None
        self._next_poll = time.monotonic() + options.reload_poll_s

    # -- public --------------------------------------------------------------------------

    @property
    def rules(self) -> tuple[Rule, ...]:
        """The rules running now (after the last successful load)."""
        return self._ruleset.rules

    @property
    def lexicons(self) -> tuple[Lexicon, ...]:
        return self._ruleset.lexicons

    def reload(self) -> list[RuleError]:
        """Load the files again; on any error keep the running rules and return the errors."""
        with self._lock:
            ruleset, errors = self._load()
            self.last_errors = errors
            if ruleset is None:
                self._rejected_files = _files_state(watched_files(*self._paths))
                for err in errors:
                    log.error("rule edit rejected, previous rules keep running: %s", err, extra={"rule_file": err.file})
                return errors
            old = {r.id: r.version for r in self._ruleset.rules}
            self._ruleset = ruleset
            self._rejected_files = None
            changed = [f"{r.id} v{r.version}" for r in ruleset.rules if old.get(r.id) != r.version]
            log.info("rules reloaded: %d rules, changed: %s", len(ruleset.rules), ", ".join(changed) or "none")
            return []

    def set_brands(self, brands: Iterable[Brand]) -> list[RuleError]:
        """Swap the brand registry (names, nicknames, min prices) and rebuild the matcher."""
        with self._lock:
            self._brands = tuple(brands)
            return self.reload()

    def process(self, evidence: Evidence) -> list[Alert]:
        """New alerts and new revisions of open alerts that this evidence causes."""
        with self._lock:
            self._poll()
            rs = self._ruleset
            facts = self._extract(evidence, rs)
            if not facts:
                # Nothing new, but media time moves on: held revisions may be due.
                stream = self._streams.get(evidence.stream_id)
                if stream is None or not stream.alerts:
                    return []
                stream.now = max(stream.now, evidence.media_end)
                return self._flush(evidence.stream_id, stream)
            stream = self._stream(evidence.stream_id)
            changed = self._merge(stream, facts)
            stream.now = max(stream.now, evidence.media_end)
            self._evict(stream, rs)
            out: list[Alert] = []
            kinds = {f.kind for f in changed}
            present = {k for k, n in stream.kinds.items() if n}
            for rule in rs.rules:
                if rs.rule_kinds[rule.id] & kinds and rs.rule_needs[rule.id] <= present:
                    out += self._evaluate(evidence.stream_id, stream, rule, rs)
            return out + self._flush(evidence.stream_id, stream)

    def finish(self, stream_id: str) -> list[Alert]:
        """End of a stream: final revisions of alerts extended since last published; state dropped."""
        with self._lock:
            stream = self._streams.pop(stream_id, None)
            if stream is None:
                return []
            return [self._emit(stream_id, a, stream.now) for a in stream.alerts.values() if a.pending or a.extended]

    def explain(self, text: str, modality: Modality = Modality.OCR, logos: Iterable[str] = ()) -> Explanation:
        """Which rules this text (plus optional logo brands) would fire on its own, and why."""
        with self._lock:
            rs = self._ruleset
            ev = Evidence("explain", modality, 0.0, 0.0, text, 1.0, 0.0)
            facts = self._extract(ev, rs)
            for brand in logos:
                logo = Evidence("explain", Modality.LOGO, 0.0, 0.0, brand, 1.0, 0.0, brand=brand)
                facts += self._extract(logo, rs)
            norm = self._normalizer.normalize(text)
            found = rs.matcher.match(norm)
            window = Window(facts, rs.brands)
            verdicts = []
            for rule in rs.rules:
                matches = rule.matches(Window(rule.window_facts(facts, 0.0, {}), rs.brands))
                subjects = tuple((s or "").split(":", 1)[-1] for s in matches)
                verdicts.append(
                    RuleVerdict(rule.id, rule.version, rule.mode.value, bool(matches), subjects, tuple(rule.condition.explain(window)))
                )
            return Explanation(
                text=text,
                normalized=norm.compact,
                pinyin=norm.readable_pinyin(),
                matches=tuple(f"{h.group}: {h.label} via {h.via}" if h.kind != BRAND else f"brand: {h.label} via {h.via}" for h in found.hits),
                exempted=tuple(
                    f"{t.group}: {t.label} inside exemption {e.canonical}" + (f" ({e.reason})" if e.reason else "")
                    for t, e in found.exempted
                ),
                prices=tuple(f.label for f in facts if f.kind == "price"),
                verdicts=tuple(verdicts),
            )

    # -- loading -------------------------------------------------------------------------

    def _load(self) -> tuple[_RuleSet | None, list[RuleError]]:
        files = _files_state(watched_files(*self._paths))
        rules, lexicons, errors = load_all(*self._paths)
        if errors:
            return None, errors
        if not rules:
            return None, [RuleError(str(self._paths[0]), 0, "no rules found: add at least one rule file (*.yaml)")]
        opts = self._options
        matcher = Matcher(self._normalizer, lexicons, self._brands, opts.pinyin_min_syllables, opts.brand_pinyin_min_syllables)
        brand_ids: dict[str, str] = {}
        for b in self._brands:
            for name in (b.brand_id, *b.all_names):
                brand_ids.setdefault(self._normalizer.compact(name), b.brand_id)
        return (
            _RuleSet(
                rules=rules,
                lexicons=lexicons,
                matcher=matcher,
                brands=MappingProxyType({b.brand_id: b for b in self._brands}),
                brand_ids=MappingProxyType(brand_ids),
                rule_kinds=MappingProxyType({r.id: r.condition.kinds() for r in rules}),
                rule_needs=MappingProxyType({r.id: r.condition.needs() for r in rules}),
                max_window_s=max(r.window_s for r in rules),
                files=files,
            ),
            [],
        )

    def _poll(self) -> None:
        """Hot reload: at most every ``reload_poll_s``, compare the files' mtimes and sizes."""
        if not self._options.hot_reload:
            return
        now = time.monotonic()
        if now < self._next_poll:
            return
        self._next_poll = now + self._options.reload_poll_s
        state = _files_state(watched_files(*self._paths))
        if state != self._ruleset.files and state != self._rejected_files:
            self.reload()

    # -- facts ---------------------------------------------------------------------------

    def _extract(self, ev: Evidence, rs: _RuleSet) -> list[Fact]:
        """The facts one evidence event establishes (deduplicated within the event)."""
        seq = next(self._seq)

        def fact(kind: str, group: str, value: str, label: str, **kw) -> Fact:
            return Fact(kind, group, value, label, ev.modality, ev.media_start, ev.media_end, ev.confidence, ev, seq, **kw)

        facts: dict[tuple[str, str, str], Fact] = {}
        if ev.modality in _TEXT and ev.text:
            norm = self._normalizer.normalize(ev.text)
            for hit in rs.matcher.match(norm).hits:
                if hit.kind == BRAND:
                    facts.setdefault(("brand", "", hit.group), fact("brand", "", hit.group, f"brand:{hit.label}"))
                elif hit.kind != EXEMPT:
                    facts.setdefault(("term", hit.group, hit.canonical), fact("term", hit.group, hit.canonical, hit.label))
            for amount, currency, role, text in self._prices(ev, norm.cleaned):
                if role != "original":
                    label = f"price {amount:g} {currency}"
                    facts.setdefault(("price", "", label), fact("price", "", text or label, label, amount=amount, currency=currency))
        elif ev.modality == Modality.LOGO:
            label = ev.brand or ev.text
            brand_id = rs.brand_ids.get(self._normalizer.compact(label), label) if label else ""
            if brand_id:
                facts[("brand", "", brand_id)] = fact("brand", "", brand_id, f"logo:{brand_id}")
        elif ev.modality == Modality.FINGERPRINT and ev.text:
            duration = ev.media_end - ev.media_start
            facts[("fingerprint", "", ev.text)] = fact("fingerprint", "", ev.text, f"fingerprint:{ev.text} {duration:.1f}s")
        return list(facts.values())

    def _prices(self, ev: Evidence, cleaned: str) -> list[tuple[float, str, str, str]]:
        if ev.prices:
            return [(p.amount, p.currency, p.role, p.text) for p in ev.prices]
        return text_prices(cleaned) if self._options.prices_from_text else []

    def _stream(self, stream_id: str) -> _Stream:
        stream = self._streams.get(stream_id)
        if stream is None:
            stream = self._streams[stream_id] = _Stream()
            while len(self._streams) > self._options.max_streams:
                forgotten, _ = self._streams.popitem(last=False)
                log.warning("forgetting rule state of idle stream", extra={"stream_id": forgotten})
        else:
            self._streams.move_to_end(stream_id)
        return stream

    def _merge(self, stream: _Stream, facts: list[Fact]) -> list[Fact]:
        """Add facts; a fact of an observation already seen extends that one instead."""
        changed = []
        for f in facts:
            key = self._observation_key(f)
            old = stream.by_observation.get(key) if key else None
            if old is not None and (f.kind != "fingerprint" or f.media_start <= old.media_end + self._options.fingerprint_gap_s):
                old.media_start = min(old.media_start, f.media_start)
                old.media_end = max(old.media_end, f.media_end)
                old.confidence = max(old.confidence, f.confidence)
                old.evidence = f.evidence
                if old.kind == "fingerprint":
                    old.label = f"fingerprint:{old.value} {old.duration:.1f}s"
                changed.append(old)
                continue
            stream.facts.append(f)
            stream.kinds[f.kind] += 1
            if key:
                stream.by_observation[key] = f
            changed.append(f)
        return changed

    @staticmethod
    def _observation_key(f: Fact) -> tuple | None:
        if f.evidence.observation_id:
            return (f.modality, f.evidence.observation_id, f.kind, f.group, f.value)
        if f.kind == "fingerprint":
            return (f.modality, "", f.kind, f.group, f.value)
        return None

    def _evict(self, stream: _Stream, rs: _RuleSet) -> None:
        """Drop facts older than the widest window (and the oldest beyond the cap)."""
        since = stream.now - rs.max_window_s
        cap = self._options.max_facts_per_stream
        if (stream.facts and stream.facts[0].media_end < since) or len(stream.facts) > cap:
            stream.facts = [f for f in stream.facts if f.media_end >= since][-cap:]
            stream.kinds = Counter(f.kind for f in stream.facts)
            alive = {id(f) for f in stream.facts}
            stream.by_observation = {k: f for k, f in stream.by_observation.items() if id(f) in alive}

    def _flush(self, stream_id: str, stream: _Stream) -> list[Alert]:
        """Publish held revisions whose interval has passed; close alerts quiet beyond their cool-down."""
        out = []
        for key, alert in list(stream.alerts.items()):
            if stream.now - alert.last_seen > alert.rule.cooldown_s:
                del stream.alerts[key]
                if alert.pending or alert.extended:
                    out.append(self._emit(stream_id, alert, stream.now))
            elif alert.pending and stream.now - alert.emitted_at >= self._options.min_revision_interval_s:
                out.append(self._emit(stream_id, alert, stream.now))
        return out

    # -- alerts --------------------------------------------------------------------------

    def _evaluate(self, stream_id: str, stream: _Stream, rule: Rule, rs: _RuleSet) -> list[Alert]:
        facts = rule.window_facts(stream.facts, stream.now, self._options.min_confidence)
        if not facts:
            return []
        out = []
        for subject, support in rule.matches(Window(facts, rs.brands)).items():
            out += self._update(stream_id, stream, rule, subject, support)
        return out

    def _update(self, stream_id: str, stream: _Stream, rule: Rule, subject: str | None, support: tuple[Fact, ...]) -> list[Alert]:
        key = (rule.id, subject)
        latest = max(f.media_end for f in support)
        current = stream.alerts.get(key)
        out = []
        if current is not None and latest - current.last_seen > rule.cooldown_s:
            # Quiet for longer than the cool-down: that violation is over, this is a new one.
            if current.pending or current.extended:
                out.append(self._emit(stream_id, current, stream.now))
            current = None
        if current is None:
            onset = min(f.media_start for f in support)
            subject_value = subject.split(":", 1)[1] if subject else None
            current = _OpenAlert(
                rule, subject, alert_id_for(stream_id, rule.id, subject_value, onset), onset, 0, {}, latest
            )
            stream.alerts[key] = current
        new_seq = False
        for f in support:
            slot = current.facts.setdefault(f.seq, {})
            new_seq |= not slot
            slot[(f.kind, f.value)] = f
        self._trim(current)
        current.rule = rule
        current.last_seen = max(current.last_seen, latest)
        current.pending |= new_seq
        current.extended |= current.emitted is not None and latest > current.emitted.media_end
        if current.emitted is None or (current.pending and stream.now - current.emitted_at >= self._options.min_revision_interval_s):
            out.append(self._emit(stream_id, current, stream.now))
        return out

    def _trim(self, current: _OpenAlert) -> None:
        """Keep an alert's evidence bounded: the first items (the onset) and the latest ones."""
        cap = self._options.max_alert_evidence
        if len(current.facts) > cap:
            seqs = list(current.facts)
            head = cap // 4
            for seq in seqs[head : len(seqs) - (cap - head)]:
                del current.facts[seq]

    def _emit(self, stream_id: str, current: _OpenAlert, now: float) -> Alert:
        """The next revision of an open alert, built from all the evidence it gathered."""
        rule = current.rule
        items = sorted((_alert_evidence(list(facts.values())) for facts in current.facts.values()), key=lambda e: (e.media_start, e.media_end))
        all_facts = [f for facts in current.facts.values() for f in facts.values()]
        score = _score(all_facts)
        severity = rule.severity
        if score >= self._options.escalate_score and len({f.modality for f in all_facts}) >= 2:
            severity = _SEVERITIES[min(_SEVERITIES.index(severity) + 1, len(_SEVERITIES) - 1)]
        subject_value = current.subject.split(":", 1)[1] if current.subject else None
        title = rule.title or rule.description.split("\n")[0] or rule.id
        current.revision += 1
        current.pending = current.extended = False
        current.emitted_at = now
        alert = Alert(
            alert_id=current.alert_id,
            stream_id=stream_id,
            rule_id=rule.id,
            rule_version=rule.version,
            category=rule.category,
            severity=severity,
            score=score,
            media_start=min(e.media_start for e in items),
            media_end=max(e.media_end for e in items),
            evidence=tuple(items),
            brand=subject_value if current.subject and current.subject.startswith("brand:") else None,
            mode=rule.mode,
            action=rule.action,
            title=f"{title} ({subject_value})" if subject_value else title,
            revision=current.revision,
        )
        current.emitted = alert
        log.info(
            "alert %s rev %d: %s %s", alert.alert_id, alert.revision, rule.id, subject_value or "",
            extra={"stream_id": stream_id, "rule_id": rule.id, "mode": rule.mode.value},
        )
        return alert


def _alert_evidence(facts: list[Fact]) -> AlertEvidence:
    """One evidence item of an alert: what one observation contributed, over its whole span."""
    ev = facts[-1].evidence
    snapshot = ev.snapshot
    return AlertEvidence(
        modality=ev.modality,
        text=ev.text,
        matched_terms=tuple(dict.fromkeys(f.label for f in facts)),
        media_start=min(f.media_start for f in facts),
        media_end=max(f.media_end for f in facts),
        confidence=max(f.confidence for f in facts),
        snapshot_path=snapshot.path if snapshot else None,
        snapshot_sha256=snapshot.sha256 if snapshot else None,
        brand=ev.brand,
        box=ev.box,
        prices=ev.prices,
    )


def _score(facts: list[Fact]) -> float:
    """Noisy-OR of the best confidence of each distinct item: corroboration raises the score."""
    best: dict[tuple[str, str], float] = {}
    for f in facts:
        key = (f.kind, f.value)
        best[key] = max(best.get(key, 0.0), min(max(f.confidence, 0.0), 1.0))
    miss = 1.0
    for c in best.values():
        miss *= 1.0 - c
    return round(1.0 - miss, 4)


def load_engine(
    rules_dir: str | Path = DEFAULT_DIR,
    lexicon_dir: str | Path | None = None,
    brands: Iterable[Brand] = (),
    options: RulesOptions = RulesOptions(),
) -> RuleEngine:
    """A :class:`RuleEngine` (the default rule set when no directory is given)."""
    return RuleEngine(rules_dir, lexicon_dir, brands, options)
