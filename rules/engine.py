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
import re
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from events import (
    Action,
    Alert,
    AlertEvidence,
    Brand,
    ConfigError,
    Evidence,
    MatchStrength,
    Modality,
    Price,
    Segment,
    Severity,
    alert_id_for,
    parse_prices,
)
from rules.conditions import Fact, Rule, Window
from rules.context import ContextReader
from rules.explain import Explanation, RuleVerdict
from rules.lexicon import BRAND, CONTEXT, CUE, TERM, Hit, Lexicon, Matcher
from rules.loader import DEFAULT_DIR, RuleError, load_all, watched_files
from rules.normalize import Normalized, Normalizer
from rules.segments import SegmentOptions, SegmentTimeline
from rules.words import WordDictionary

log = logging.getLogger(__name__)

_SEVERITIES: list[Severity] = [Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL]
_TEXT = (Modality.ASR, Modality.OCR)
_HAN = re.compile(r"[\u4e00-\u9fff]")
_VOWEL_GROUPS = re.compile(r"[aeiouy]+")
_BY_SOUND = (MatchStrength.HOMOPHONE, MatchStrength.NEAR_HOMOPHONE)
# 这款 / 这只 / 这一款 right before a brand: the host points at the product on sale (那款, "that
# one", may be the genuine article being compared).
_DEMONSTRATIVE = re.compile(r"这一?[款只个件条双顶块支瓶套把台副枚盒]?$")
_SAID_OF_CODES = 8  # pinyin syllables kept after the brand: a product word is a few of them


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
    escalate_score: float = 0.95  # confidence (and >= 2 modalities) that raises severity one level
    short_name_syllables: int = 2  # a brand name (or a term, where the rule asks) this short heard only by sound never stands alone
    # Speech pieces closer than this are one utterance: Whisper cuts a sentence at its commas
    # (pauses of 0.1-0.3 s in the scanned broadcasts); sentences and shots are further apart.
    utterance_gap_s: float = 0.5
    ordinary_word_min_count: int = 100  # jieba count from which a word is everyday (rules.words)
    ordinary_heard_min_count: int = 10  # the same for a span only heard like a name (a homophone)
    segments: SegmentOptions = field(default_factory=SegmentOptions)


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
    rule_refs: Mapping[str, frozenset[str]]  # lexicons (and "price") a rule's conditions name
    context: ContextReader
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
    segment: Segment | None = None  # where the evidence was joined (segment-scoped rules)


@dataclass
class _Stream:
    timeline: SegmentTimeline
    facts: list[Fact] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)  # how many facts of each kind
    by_observation: dict[_ObservationKey, Fact] = field(default_factory=dict)
    alerts: dict[tuple[str, str | None], _OpenAlert] = field(default_factory=dict)
    now: float = float("-inf")
    scope: str = ""  # the watch session alert ids are scoped by (open_stream)
    speech_end: float = float("-inf")  # where the last piece of speech ended, and its utterance
    utterance: int = 0


_FilesState = tuple[tuple[str, int, int], ...]  # (path, mtime_ns, size) of each watched file
_ObservationKey = tuple[Modality, str, str, str, str]


def _files_state(paths: Iterable[Path]) -> _FilesState:
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
        self._words = WordDictionary(options.ordinary_word_min_count, options.ordinary_heard_min_count)
        self._lock = threading.RLock()
        self._streams: OrderedDict[str, _Stream] = OrderedDict()
        self._seq = itertools.count(1)
        self.last_errors: list[RuleError] = []
        ruleset, errors = self._load()
        if ruleset is None:
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise ConfigError(f"rules in {rules_dir} are invalid: {errors[0]}{more}; run `livewatch rules check {rules_dir}`")
        self._ruleset = ruleset
        self._rejected_files: _FilesState | None = None
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

    def process(self, evidence: Evidence) -> list[Alert]:
        """New alerts and new revisions of open alerts that this evidence causes."""
        with self._lock:
            self._poll()
            rs = self._ruleset
            stream = self._streams.get(evidence.stream_id)
            if evidence.modality is Modality.OCR:
                stream = stream or self._stream(evidence.stream_id)
                stream.timeline.observe_screen(evidence)
            utterance = 0
            if evidence.modality is Modality.ASR:
                stream = stream or self._stream(evidence.stream_id)
                utterance = self._utterance(stream, evidence)
            facts, cue = self._extract(evidence, rs, utterance)
            if cue and stream is not None and evidence.modality is Modality.ASR:  # a caption of 下一款 stays up
                stream.timeline.observe_cue(evidence)
            if not facts:
                # Nothing new, but media time moves on: held revisions may be due.
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
                    out += self._evaluate(evidence.stream_id, stream, rule, rs, changed)
            return out + self._flush(evidence.stream_id, stream)

    def open_stream(self, stream_id: str, scope: str = "") -> None:
        """A watch session of ``stream_id`` starts: ids of the alerts it raises are scoped by ``scope``.

        Media time restarts at 0 whenever a live stream is (re)opened, so the caller (the worker,
        the rules service) opens each session with a token of its own before the session's first
        evidence; the id logged here is then the id stored and published. Without a call, or
        with an empty scope (``scan``), ids are those of ``events.alert_id_for`` unscoped. Call
        ``finish`` for the previous session first: state still held for the stream is dropped.
        """
        with self._lock:
            self._streams.pop(stream_id, None)
            self._stream(stream_id).scope = scope

    def finish(self, stream_id: str) -> list[Alert]:
        """End of a stream: final revisions of alerts extended since last published; state dropped."""
        with self._lock:
            stream = self._streams.pop(stream_id, None)
            if stream is None:
                return []
            return [self._emit(stream_id, a, stream.now) for a in stream.alerts.values() if a.pending or a.extended]

    def explain(self, text: str, modality: Modality = Modality.OCR, logos: Iterable[str] = ()) -> Explanation:
        """Which rules this text (plus optional logo brands) would fire on its own, and why.

        The text is one piece of evidence of one product segment, so segment-scoped rules join
        only what it says itself; every match shows its strength and any context acting on it.
        """
        with self._lock:
            rs = self._ruleset
            ev = Evidence("explain", modality, 0.0, 0.0, text, 1.0, 0.0)
            facts, _ = self._extract(ev, rs)
            for brand in logos:
                logo = Evidence("explain", Modality.LOGO, 0.0, 0.0, brand, 1.0, 0.0, brand=brand)
                facts += self._extract(logo, rs)[0]
            norm = self._normalizer.normalize(text)
            found = rs.matcher.match(norm, near=modality is Modality.ASR)
            verdicts = []
            for rule in rs.rules:
                usable = _usable(_honoured(facts, rule), rule, rs)
                window = Window(rule.window_facts(usable, 0.0, {}), rs.brands)
                matches = rule.matches(window)
                subjects = tuple((s or "").split(":", 1)[-1] for s in matches)
                verdicts.append(
                    RuleVerdict(
                        rule.id, rule.version, rule.mode.value, bool(matches), subjects, tuple(rule.condition.explain(window)),
                        {"segment": "product segment", "evidence": "text"}.get(rule.scope, f"{rule.window_s:g} s window"),
                    )
                )
            return Explanation(
                text=text,
                normalized=norm.compact,
                pinyin=norm.readable_pinyin(),
                matches=tuple(_describe(f) for f in facts if f.kind in ("term", "brand", "context")),
                exempted=tuple(
                    f"{t.group}: {t.label} inside exemption {e.canonical}" + (f" ({e.reason})" if e.reason else "")
                    for t, e in found.exempted
                ) + tuple(self._refusals(norm, found.hits)),
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
                rule_refs=MappingProxyType({r.id: r.references() for r in rules}),
                context=ContextReader(lexicons),
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

    def _utterance(self, stream: _Stream, ev: Evidence) -> int:
        """The utterance a piece of speech belongs to: the previous one's if it follows it closely."""
        if not 0.0 <= ev.media_start - stream.speech_end <= self._options.utterance_gap_s:
            stream.utterance = next(self._seq)
        stream.speech_end = max(stream.speech_end, ev.media_end)
        return stream.utterance

    def _extract(self, ev: Evidence, rs: _RuleSet, utterance: int = 0) -> tuple[list[Fact], bool]:
        """The facts one evidence event establishes (deduplicated), and whether it says 下一款."""
        seq = next(self._seq)

        def fact(kind: str, group: str, value: str, label: str, **kw: Any) -> Fact:
            return Fact(kind, group, value, label, ev.modality, ev.media_start, ev.media_end, ev.confidence, ev, seq,
                        utterance=utterance, **kw)

        facts: dict[tuple[str, str, str], Fact] = {}
        cue = False
        if ev.modality in _TEXT and ev.text:
            norm = self._normalizer.normalize(ev.text)
            hits = rs.matcher.match(norm, near=ev.modality is Modality.ASR).hits
            for hit in hits:
                cue |= hit.kind == CUE
                if hit.kind == CONTEXT:
                    key = ("context", hit.reason, hit.canonical)
                    facts.setdefault(key, fact("context", hit.reason, hit.canonical, f"{hit.reason}: {hit.label}"))
                if hit.kind not in (BRAND, TERM) or self._ordinary(norm, hit):
                    continue
                effect, note = rs.context.effect_on(hit, hits, norm)
                strength = _strength(hit, ev.text)
                weak = _heard_short_name(ev, hit, strength, self._options.short_name_syllables) if hit.kind == BRAND else (
                    strength in _BY_SOUND and hit.syllables <= self._options.short_name_syllables)
                kind, group, label = ("brand", "", f"brand:{hit.label}") if hit.kind == BRAND else ("term", hit.group, hit.label)
                said_of = _said_of(norm, hit) if hit.kind == BRAND and ev.modality is Modality.ASR else ""
                facts.setdefault(
                    (kind, group, hit.group if hit.kind == BRAND else hit.canonical),
                    fact(kind, group, hit.group if hit.kind == BRAND else hit.canonical, label,
                         strength=strength, weak=weak, effect=effect, note=note, said_of=said_of),
                )
            for price in self._prices(ev):
                if price.role == "selling":  # what the buyer pays for this product: not a list price, bundle or range
                    label = f"price {price.amount:g} {price.currency}"
                    facts.setdefault(("price", "", label), fact("price", "", price.text or label, label,
                                                                 amount=price.amount, currency=price.currency))
        elif ev.modality == Modality.LOGO:
            label = ev.brand or ev.text
            brand_id = rs.brand_ids.get(self._normalizer.compact(label), label) if label else ""
            if brand_id:
                facts[("brand", "", brand_id)] = fact("brand", "", brand_id, f"logo:{brand_id}")
        elif ev.modality == Modality.FINGERPRINT and ev.text:
            duration = ev.media_end - ev.media_start
            sense = str(ev.details.get("kind", "video"))  # audio and video runs are separate facts
            facts[("fingerprint", sense, ev.text)] = fact("fingerprint", sense, ev.text, f"fingerprint:{ev.text} {sense} {duration:.1f}s")
        return list(facts.values()), cue

    def _ordinary(self, norm: Normalized, hit: Hit) -> str | None:
        """A brand heard only by sound in an everyday word (迪家 in 最低价), or a nickname that is
        part of one (小香 in 小香风, the Chanel style), is no brand at all. Registered names are.
        A term heard only by sound inside a longer word (高仿 in 高房价) is no term; one heard as a
        word of its own is (治愈 written 置于: Whisper writes the likeliest word for the sound)."""
        heard = hit.via in ("pinyin", "near")
        if hit.kind == TERM:
            return self._words.inside(norm.compact, hit.start, hit.end) if heard else None
        if hit.kind != BRAND or (not heard and hit.reason != "alias"):
            return None
        return self._words.ordinary(norm.compact, hit.start, hit.end, heard=heard)

    def _refusals(self, norm: Normalized, hits: tuple[Hit, ...]) -> list[str]:
        return [
            f"{'brand: ' if h.kind == BRAND else ''}{h.label} refused: "
            f"{'sounds like' if h.via in ('pinyin', 'near') else 'part of'} the everyday word {word}"
            for h in hits
            if (word := self._ordinary(norm, h))
        ]

    def _prices(self, ev: Evidence) -> tuple[Price, ...]:
        if ev.prices or not self._options.prices_from_text:
            return ev.prices
        return parse_prices(ev.text)

    def _stream(self, stream_id: str) -> _Stream:
        stream = self._streams.get(stream_id)
        if stream is None:
            timeline = SegmentTimeline(self._options.segments, spell=lambda text: self._normalizer.normalize(text).pinyin)
            stream = self._streams[stream_id] = _Stream(timeline)
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
                    old.label = f"fingerprint:{old.value} {old.group} {old.duration:.1f}s"
                changed.append(old)
                continue
            stream.facts.append(f)
            stream.kinds[f.kind] += 1
            if key:
                stream.by_observation[key] = f
            changed.append(f)
        return changed

    @staticmethod
    def _observation_key(f: Fact) -> _ObservationKey | None:
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

    def _evaluate(self, stream_id: str, stream: _Stream, rule: Rule, rs: _RuleSet, changed: list[Fact]) -> list[Alert]:
        facts = _honoured(rule.window_facts(stream.facts, stream.now, self._options.min_confidence), rule)
        if not facts:
            return []
        out = []
        for segment, group in self._partitions(stream, rule, facts, changed):
            usable = _usable(group, rule, rs)
            window = Window(usable, rs.brands, stream.timeline)
            for subject, support in rule.matches(window).items():
                out += self._update(stream_id, stream, rule, subject, support, segment)
        return out

    @staticmethod
    def _partitions(
        stream: _Stream, rule: Rule, facts: list[Fact], changed: list[Fact]
    ) -> list[tuple[Segment | None, list[Fact]]]:
        """The groups of facts a rule may join that the ``changed`` facts belong to.

        All facts (scope window), those of the changed facts' product segments, or those of the
        changed facts' own evidence: a group nothing new entered cannot hold a new match.
        """
        if rule.scope == "window":
            return [(None, facts)]
        if rule.scope == "evidence":
            seqs = {f.seq for f in changed}
            by_seq: dict[int, list[Fact]] = {}
            for f in facts:
                if f.seq in seqs:
                    by_seq.setdefault(f.seq, []).append(f)
            return [(None, group) for group in by_seq.values()]
        timeline = stream.timeline
        indices = sorted({i for f in changed for i in timeline.indices_of(f.modality, f.media_start, f.media_end)})
        return [
            (timeline.segment(i), group)
            for i in indices
            if (group := [f for f in facts if timeline.contains(i, f.modality, f.media_start, f.media_end)])
        ]

    def _update(
        self, stream_id: str, stream: _Stream, rule: Rule, subject: str | None, support: tuple[Fact, ...], segment: Segment | None
    ) -> list[Alert]:
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
                rule, subject, alert_id_for(stream_id, rule.id, subject_value, onset, stream.scope), onset, 0, {}, latest
            )
            stream.alerts[key] = current
        new_seq = False
        for f in support:
            slot = current.facts.setdefault(f.seq, {})
            new_seq |= not slot
            slot[(f.kind, f.value)] = f
        self._trim(current)
        current.rule = rule
        if segment is not None:
            current.segment = segment
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
        segment_id = current.segment.segment_id if current.segment else None
        items = sorted(
            (_alert_evidence(list(facts.values()), segment_id) for facts in current.facts.values()),
            key=lambda e: (e.media_start, e.media_end),
        )
        all_facts = [f for facts in current.facts.values() for f in facts.values()]
        score = _confidence(all_facts, _binding(rule))
        severity: Severity = rule.severity
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
            action=rule.action if rule.action is not Action.TAKEDOWN or score >= rule.takedown_confidence else Action.REVIEW,
            title=f"{title} ({subject_value})" if subject_value else title,
            revision=current.revision,
            confidence=score,
            segment=current.segment,
            price=_fired_price(all_facts),
        )
        current.emitted = alert
        log.info(
            "alert %s rev %d: %s %s (confidence %.2f)", alert.alert_id, alert.revision, rule.id, subject_value or "", score,
            extra={"stream_id": stream_id, "rule_id": rule.id, "mode": rule.mode.value, "segment_id": segment_id},
        )
        return alert


def _alert_evidence(facts: list[Fact], segment_id: str | None) -> AlertEvidence:
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
        strength=_weakest([f.strength for f in facts if f.kind != "price"]),
        segment_id=segment_id,
    )


# Weakest last; a match is worth its detector's confidence times its strength's weight.
def _weakest(strengths: list[MatchStrength | None]) -> MatchStrength | None:
    """An evidence item is as sure as its least sure match (a price has no strength)."""
    ranked = [s for s in strengths if s is not None]
    return max(ranked, key=_STRENGTH_ORDER.index) if ranked else None


_STRENGTH_ORDER = [MatchStrength.DETECTED, MatchStrength.EXACT, MatchStrength.NORMALIZED, MatchStrength.HOMOPHONE,
                   MatchStrength.NEAR_HOMOPHONE]
_STRENGTH_WEIGHT = {
    MatchStrength.DETECTED: 1.0, MatchStrength.EXACT: 1.0, MatchStrength.NORMALIZED: 0.9, MatchStrength.HOMOPHONE: 0.6,
    MatchStrength.NEAR_HOMOPHONE: 0.4,
}
# How closely the joined evidence is tied together: one text, one product segment, a window.
_BINDING_WEIGHT = {"evidence": 1.0, "segment": 0.9, "window": 0.75}


def _confidence(facts: list[Fact], binding: float) -> float:
    """How sure the evidence makes the violation, 0..1.

    Each item weighs its detector's confidence times its match strength's weight (a homophone
    counts 0.6 of an exact match). Within a role (the brand; the cue or price) independent items
    corroborate each other (noisy-OR), those from other evidence than the role's best counting
    ``binding`` times less. A brand-bound violation needs both roles, so their confidences
    multiply, once more times ``binding`` when no single piece of evidence holds both.
    """
    items = [f for f in facts if f.kind != "context"]
    brand = [f for f in items if f.kind == "brand"]
    rest = [f for f in items if f.kind != "brand"]
    if not brand or not rest:
        return round(_noisy_or(items, binding), 4)
    together = bool({f.said_in for f in brand} & {f.said_in for f in rest})
    return round(_noisy_or(brand, binding) * _noisy_or(rest, binding) * (1.0 if together else binding), 4)


def _noisy_or(items: list[Fact], binding: float) -> float:
    if not items:
        return 0.0

    def weight(f: Fact) -> float:
        return min(max(f.confidence, 0.0), 1.0) * _STRENGTH_WEIGHT[f.strength]

    anchor = max(items, key=weight).seq
    best: dict[tuple[str, str, Modality], float] = {}  # a logo and a spoken name are two signals
    for f in items:
        key = (f.kind, f.value, f.modality)
        best[key] = max(best.get(key, 0.0), weight(f) * (1.0 if f.seq == anchor else binding))
    miss = 1.0
    for c in best.values():
        miss *= 1.0 - c
    return 1.0 - miss


def _binding(rule: Rule) -> float:
    return _BINDING_WEIGHT["segment" if rule.scope == "segment" else "evidence" if rule.scope == "evidence" else "window"]


def _fired_price(facts: list[Fact]) -> Price | None:
    """The lowest selling price a price condition bound (its label says what it was compared with)."""
    cheap = [f for f in facts if f.kind == "price" and " < " in f.label]
    if not cheap:
        return None
    low = min(cheap, key=lambda f: f.amount)
    return Price(low.amount, low.currency, "selling", low.value)


def _heard_short_name(ev: Evidence, hit: Hit, strength: MatchStrength, short: int) -> bool:
    """A brand name only heard by sound: a near homophone (any length), a short pinyin homophone,
    or a short Latin spelling in Mandarin speech.

    Hosts say foreign brands in Chinese (古驰, 普拉达); Whisper, prompted with the brand names as hot
    words, writes a short Latin name for whatever sounds close enough (枸杞 gǒuqǐ came out as
    "Gucci" three times in the tuning broadcasts) or for nothing at all in a garbled decode, so in
    Mandarin speech the spelling is its guess at a sound. Long names ("Louis Vuitton") it does not
    make up. Syllables of a Latin name: its vowel groups.
    """
    if strength is MatchStrength.NEAR_HOMOPHONE:
        return True
    if strength is MatchStrength.HOMOPHONE:
        return hit.syllables <= short
    latin_in_speech = ev.modality is Modality.ASR and hit.surface.isascii() and _HAN.search(ev.text) is not None
    return latin_in_speech and len(_VOWEL_GROUPS.findall(hit.surface.casefold())) <= short


def _said_of(norm: Normalized, hit: Hit) -> str:
    """What a brand was said of, when a demonstrative points at the product on sale
    (这款香奈儿的皮带 -> the pinyin of 皮带...): ``Fact.said_of``; "" without a demonstrative."""
    if _DEMONSTRATIVE.search(norm.compact[: hit.start]) is None:
        return ""
    after = hit.end + 1 if norm.compact[hit.end : hit.end + 1] == "的" else hit.end
    if norm.pinyin_spans is None:
        return norm.pinyin[after : after + _SAID_OF_CODES]
    first = next((i for i, (start, _) in enumerate(norm.pinyin_spans) if start >= after), len(norm.pinyin))
    return norm.pinyin[first : first + _SAID_OF_CODES]


def _strength(hit: Hit, raw: str) -> MatchStrength:
    if hit.via == "near":
        return MatchStrength.NEAR_HOMOPHONE
    if hit.via == "pinyin":
        return MatchStrength.HOMOPHONE
    return MatchStrength.EXACT if hit.spelling.casefold() in raw.casefold() else MatchStrength.NORMALIZED


def _honoured(facts: list[Fact], rule: Rule) -> list[Fact]:
    """Without the facts a benign context the rule honours cancels (我们不卖高仿: not a cue)."""
    if not rule.benign_context:
        return facts
    return [f for f in facts if not (f.effect and f.effect in rule.benign_context)]


def _usable(facts: list[Fact], rule: Rule, rs: _RuleSet) -> list[Fact]:
    """The facts of one group a rule may join, after segment-wide context and corroboration.

    - ``authorised``: an authorised or flagship store selling a brand at or above its lowest
      genuine price cancels that brand for the rule; ``secondhand``: resale prices are not
      compared with retail floors.
    - A short name heard only by sound, or a Latin spelling in Mandarin speech (weak), stands only
      with corroboration: the same brand matched more strongly in the group, or a term of the
      rule's lexicons (a cue, not a price) said in the same utterance. A price does not
      corroborate: it means something only once the brand is sure, and live sellers say one in
      nearly every sentence.
    """
    effects = {f.group for f in facts if f.kind == "context"} & rule.benign_context
    if "authorised" in effects:
        genuine = {
            b.value
            for b in facts
            if b.kind == "brand" and (brand := rs.brands.get(b.value)) and brand.min_price
            and any(p.kind == "price" and p.amount >= brand.min_price for p in facts)
        }
        facts = [f for f in facts if not (f.kind == "brand" and f.value in genuine)]
    if "secondhand" in effects:
        facts = [f for f in facts if f.kind != "price"]
    refs = rs.rule_refs[rule.id]
    strong = {f.value for f in facts if f.kind == "brand" and not f.weak}
    said_with = {f.said_in for f in facts if f.kind == "term" and f.group in refs}
    return [f for f in facts if f.kind != "brand" or not f.weak or f.value in strong or f.said_in in said_with]


def _describe(f: Fact) -> str:
    """One match as explanations show it: what, how strongly, and any context acting on it."""
    if f.kind == "context":
        return f"context: {f.label}"
    what = f"brand: {f.label.removeprefix('brand:')}" if f.kind == "brand" else f"{f.group}: {f.label}"
    extra = " (heard by sound: needs corroboration)" if f.weak and f.kind == "brand" else ""
    if f.said_of:
        extra += " (said of the product after it: binds that product's card price)"
    cancelled = f"; cancelled for rules honouring {f.effect}: {f.note}" if f.effect else ""
    return f"{what} [{f.strength.value}]{extra}{cancelled}"


def load_engine(
    rules_dir: str | Path = DEFAULT_DIR,
    lexicon_dir: str | Path | None = None,
    brands: Iterable[Brand] = (),
    options: RulesOptions = RulesOptions(),
) -> RuleEngine:
    """A :class:`RuleEngine` (the default rule set when no directory is given)."""
    return RuleEngine(rules_dir, lexicon_dir, brands, options)
