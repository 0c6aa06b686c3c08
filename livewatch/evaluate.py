"""``livewatch eval DIR``: precision and recall of ``scan`` on a labelled corpus.

An alert is right when its category (and brand, where the label has one)
matches a labelled violation whose media-time span it overlaps (with
``slack_s`` of tolerance: evidence is sampled once a second and speech is
stamped by utterance). Time to alert is measured in media time: from the
label's start to the media time at which the alert was first raised.

Only enforce-mode alerts count; shadow rules are reported apart.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from events import Alert, AlertEvidence, Evidence, LivewatchError, Modality, Mode

if TYPE_CHECKING:
    from rules import RuleEngine

Record = dict[str, Any]
"""A label, trap or product of a corpus's labels.json, or a row of a report: JSON, read as written."""


@dataclass(frozen=True)
class LabelledClip:
    file: Path
    labels: tuple[Record, ...]


@dataclass
class Tally:
    true_alerts: int = 0
    false_alerts: int = 0
    found: int = 0
    missed: int = 0
    delays: list[float] = field(default_factory=list)

    @property
    def precision(self) -> float | None:
        total = self.true_alerts + self.false_alerts
        return self.true_alerts / total if total else None

    @property
    def recall(self) -> float | None:
        total = self.found + self.missed
        return self.found / total if total else None

    def to_dict(self) -> dict[str, object]:
        delays = sorted(self.delays)
        return {
            "precision": self.precision,
            "recall": self.recall,
            "alerts_right": self.true_alerts,
            "alerts_wrong": self.false_alerts,
            "violations_found": self.found,
            "violations_missed": self.missed,
            "time_to_alert_p50_s": delays[len(delays) // 2] if delays else None,
            "time_to_alert_max_s": delays[-1] if delays else None,
        }


def load_corpus(corpus_dir: Path) -> list[LabelledClip]:
    labels = corpus_dir / "labels.json"
    if not labels.exists():
        raise LivewatchError(f"{labels}: no labels: generate a corpus with `livewatch eval {corpus_dir} --generate`")
    data = json.loads(labels.read_text(encoding="utf-8"))
    return [LabelledClip(corpus_dir / c["file"], tuple(c["labels"])) for c in data["clips"]]


def _matches(alert: Alert, label: Record, slack_s: float) -> bool:
    """Same category, same brand (a label with one), same protected content (a piracy label with
    ``content``: a re-broadcast pinned on the wrong show is a false alert and a miss), overlapping."""
    if alert.category.value != label["category"]:
        return False
    if label.get("brand") and alert.brand != label["brand"]:
        return False
    if label.get("content") and not any(e.modality is Modality.FINGERPRINT and e.text == label["content"]
                                        for e in alert.evidence):
        return False
    return _overlaps(alert.media_start, alert.media_end, label, slack_s)


def score_clip(
    alerts: Iterable[Alert],
    labels: tuple[Record, ...],
    first_raised: dict[str, float],
    tallies: dict[str, Tally],
    slack_s: float = 3.0,
) -> None:
    """Add one clip's outcome to the per-category and per-modality tallies."""
    alerts = [a for a in alerts if a.mode is Mode.ENFORCE]
    for alert in alerts:
        right = any(_matches(alert, label, slack_s) for label in labels)
        modalities = {e.modality.value for e in alert.evidence if e.matched_terms}  # not context items
        for key in ("all", f"category:{alert.category.value}", *(f"modality:{m}" for m in modalities)):
            if right:
                tallies[key].true_alerts += 1
            else:
                tallies[key].false_alerts += 1
    for label in labels:
        hits = [a for a in alerts if _matches(a, label, slack_s)]
        keys = ("all", f"category:{label['category']}", *(f"modality:{m}" for m in label.get("modalities", ())))
        for key in keys:
            if hits:
                tallies[key].found += 1
                raised = min(first_raised.get(a.alert_id, a.media_end) for a in hits)
                tallies[key].delays.append(round(max(0.0, raised - label["start"]), 2))
            else:
                tallies[key].missed += 1


def summarise(tallies: dict[str, Tally]) -> dict[str, dict[str, object]]:
    return {key: tallies[key].to_dict() for key in sorted(tallies)}


def new_tallies() -> dict[str, Tally]:
    return defaultdict(Tally)


def _pct(v: object) -> str:
    """A fraction as a percentage; None (nothing to divide by) as "-"."""
    return f"{100 * v:.0f}%" if isinstance(v, (int, float)) else "-"


def format_report(summary: dict[str, dict[str, object]]) -> str:
    lines = [f"{'slice':<24} {'precision':>9} {'recall':>7} {'right':>6} {'wrong':>6} {'missed':>7} {'t2a p50':>8}"]
    for key, row in summary.items():
        t2a = row["time_to_alert_p50_s"]
        lines.append(
            f"{key:<24} {_pct(row['precision']):>9} {_pct(row['recall']):>7} {row['alerts_right']:>6} "
            f"{row['alerts_wrong']:>6} {row['violations_missed']:>7} {('-' if t2a is None else f'{t2a:.1f}s'):>8}"
        )
    return "\n".join(lines)


# --- replaying stored evidence (``livewatch eval --evidence DIR``) ---------------------------
#
# ``bench/evidence_corpus.py`` scans each labelled clip once with the real detectors and keeps
# the evidence (JSONL). Replaying it through a rule set takes seconds, so rule changes are scored
# on hours of media without decoding a frame. Beyond precision/recall (the semantics above), a
# replay reports what a reviewer pays for: false alerts per stream-hour (enforce and shadow
# apart), the brand accuracy of counterfeit alerts, per split (tuning / heldout / old corpus),
# and per trap class how many benign traps raised a false alert; it lists every false alert and
# every missed violation with the evidence behind it.

SPLIT_ORDER = ("tuning", "heldout", "spoken-tuning", "spoken-heldout", "old", "piracy-tuning", "piracy-heldout")
TRAP_SLACK_S = 1.0  # a trap is tripped by alert evidence within this of its span
SHOT_TRAP_MAX_S = 20.0  # traps no longer than this are one shot's words; longer ones a whole product


@dataclass(frozen=True)
class EvidenceClip:
    """One clip of an evidence corpus: its labels, traps and stored evidence."""

    corpus: str
    name: str
    split: str
    seconds: float
    labels: tuple[Record, ...]
    traps: tuple[Record, ...]
    evidence_path: Path
    products: tuple[Record, ...] = ()


def load_evidence_corpus(root: Path) -> list[EvidenceClip]:
    """Clips of ``root/labels.json`` (an evidence corpus), or of every corpus one level below ``root``."""
    roots = [root] if (root / "labels.json").exists() else sorted(p.parent for p in root.glob("*/labels.json"))
    if not roots:
        raise LivewatchError(
            f"{root}: no labels.json: scan a corpus first with `python -m bench.evidence_corpus scan`")
    clips: list[EvidenceClip] = []
    for r in roots:
        data = json.loads((r / "labels.json").read_text(encoding="utf-8"))
        for c in data["clips"]:
            if not c.get("evidence"):
                continue  # labelled but not scanned yet
            path = r / c["evidence"]
            if not path.exists():
                raise LivewatchError(f"{path}: evidence missing: rescan with `python -m bench.evidence_corpus scan`")
            clips.append(EvidenceClip(
                corpus=r.name, name=Path(c["evidence"]).stem, split=str(c.get("split", r.name)),
                seconds=float(c.get("seconds") or 0.0), labels=tuple(c.get("labels", ())), traps=tuple(c.get("traps", ())),
                evidence_path=path, products=tuple(c.get("products") or ()),
            ))
    if not clips:
        raise LivewatchError(f"{root}: no scanned clips: run `python -m bench.evidence_corpus scan`")
    return clips


def read_evidence(path: Path) -> list[Evidence]:
    """The stored evidence, with screen text's prices read again by today's parser.

    OCR attaches prices when it reads a line; the parser (``events.parse_prices``) is shared
    with the rules, so a parser fix must replay like a rule change, without scanning again.
    """
    from events import Evidence, Modality, parse_prices

    with path.open(encoding="utf-8") as src:
        stored = [Evidence.from_dict(json.loads(line)) for line in src if line.strip()]
    return [dataclasses.replace(e, prices=parse_prices(e.text)) if e.modality is Modality.OCR else e for e in stored]


def replay_alerts(engine: RuleEngine, evidence: list[Evidence]) -> tuple[list[Alert], dict[str, float]]:
    """The latest revision of every alert the engine raises on the evidence, and when each was first raised."""
    from rules import latest_revisions, replay

    every = replay(engine, evidence)
    first_raised: dict[str, float] = {}
    for a in every:
        first_raised.setdefault(a.alert_id, a.media_end)
    return latest_revisions(every), first_raised


def _overlaps(start: float, end: float, label: Record, slack_s: float) -> bool:
    label_start: float = label["start"]
    label_end: float = label["end"]
    return start <= label_end + slack_s and end >= label_start - slack_s


def _covered_seconds(spans: Iterable[tuple[float, float]], total: float) -> float:
    covered, reach = 0.0, 0.0
    for start, end in sorted((max(0.0, s), min(total, e)) for s, e in spans):
        if end <= reach:
            continue
        covered += end - max(start, reach)
        reach = end
    return covered


def _trap_tier(trap: Record) -> int:
    """0: a shot's words or caption (short span), 1: two products meeting (``at``), 2: a whole product."""
    if trap.get("at") is not None:
        return 1
    return 0 if trap["end"] - trap["start"] <= SHOT_TRAP_MAX_S else 2


def _inside(e: Evidence | AlertEvidence, lo: float, hi: float) -> bool:
    """Evidence of a span: it starts in it and ends by its end (ASR stamps may stray ``TRAP_SLACK_S``).

    Half-open, so the next product's first sampled frame, stamped at the boundary, is not this one's.
    """
    start, end = e.media_start, e.media_end
    tail = TRAP_SLACK_S if e.modality is Modality.ASR else 0.0
    return lo - TRAP_SLACK_S <= start < hi and end <= hi + tail


def _brand_fits(trap: Record, alert: Alert) -> bool:
    return not (trap.get("brand") and alert.brand and alert.brand != trap["brand"])


def _false(alerts: Iterable[Alert], labels: tuple[Record, ...], slack_s: float) -> list[Alert]:
    return [a for a in alerts if not any(_matches(a, lab, slack_s) for lab in labels)]


def trap_counterfactuals(
    clip: EvidenceClip, evidence: list[Evidence], rerun: Callable[[list[Evidence]], list[Alert]], slack_s: float = 3.0,
) -> dict[int, set[str]]:
    """Which product and boundary traps raise a false alert, by replaying parts of the evidence.

    - a whole product (card, logo, price; a span longer than ``SHOT_TRAP_MAX_S``): the product's
      evidence replayed alone raises a false alert;
    - two products meeting (``at``): both products replayed together raise more false alerts
      across the boundary than each replayed alone.

    (A shot's words are judged directly: a false alert that cites them, see :func:`score_replay`.)
    Only false alerts naming the trap's brand (or no brand) count. Returns trap index -> modes.
    """
    products = sorted(clip.products, key=lambda p: p["start"])

    def within(lo: float, hi: float) -> list[Evidence]:
        return [e for e in evidence if _inside(e, lo, hi)]

    def false_modes(subset: list[Evidence], lo: float, hi: float, trap: Record) -> Counter[str]:
        found = [a for a in _false(rerun(subset), clip.labels, slack_s)
                 if _brand_fits(trap, a) and a.media_start <= hi + slack_s and a.media_end >= lo - slack_s]
        return Counter(a.mode.value for a in found)

    out: dict[int, set[str]] = {}
    for i, trap in enumerate(clip.traps):
        if trap.get("at") is not None:
            at = trap["at"]
            a = next((p for p in products if abs(p["end"] - at) <= TRAP_SLACK_S), None)
            b = next((p for p in products if abs(p["start"] - at) <= TRAP_SLACK_S), None)
            if a is None or b is None:
                continue
            together = false_modes(within(a["start"], b["end"]), at, at, trap)
            apart = false_modes(within(a["start"], a["end"]), at, at, trap) + false_modes(within(b["start"], b["end"]), at, at, trap)
            modes = {m for m, n in together.items() if n > apart.get(m, 0)}
        elif _trap_tier(trap) == 0:
            continue
        else:
            modes = set(false_modes(within(trap["start"], trap["end"]), trap["start"], trap["end"], trap))
        if modes:
            out[i] = modes
    return out


def _trap_tripped(trap: Record, cues: list[AlertEvidence]) -> bool:
    """Whether an alert's unexplained cue evidence comes from the trap.

    - two products meeting (``at``): cues on both sides of that boundary, within the trap's span;
    - a shot's words or caption (a span of at most ``SHOT_TRAP_MAX_S``): a cue of the trap's
      modalities inside the span;
    - a whole product (its card, logo, price): every cue inside the product, one of the trap's
      modalities (an alert that also joins another product's evidence is that join's, not this).
    """
    if not cues:
        return False
    if trap.get("at") is not None:
        at = trap["at"]
        before = any(e.media_start < at and e.media_end >= trap["start"] for e in cues)
        after = any(at <= e.media_start <= trap["end"] for e in cues)
        return before and after
    modalities = set(trap.get("modalities") or ())
    inside = [e for e in cues if _inside(e, trap["start"], trap["end"])]
    if not any(not modalities or e.modality.value in modalities for e in inside):
        return False
    return trap["end"] - trap["start"] <= SHOT_TRAP_MAX_S or len(inside) == len(cues)


def _evidence_view(e: Evidence | AlertEvidence, limit: int = 120) -> dict[str, object]:
    """An alert's evidence item, or a detector's evidence (which has no matched terms)."""
    text = e.text
    out: dict[str, object] = {
        "modality": e.modality.value,
        "start": round(e.media_start, 2),
        "end": round(e.media_end, 2),
        "text": text if len(text) <= limit else text[:limit] + "…",
    }
    if isinstance(e, AlertEvidence):
        out["matched"] = list(e.matched_terms)
    if e.brand:
        out["brand"] = e.brand
    if e.prices:
        out["prices"] = [p.amount for p in e.prices]
    return out


@dataclass
class SplitScore:
    """What one rule set did on one split (or on all of them)."""

    tallies: dict[str, Tally] = field(default_factory=new_tallies)
    clips: int = 0
    media_s: float = 0.0
    benign_s: float = 0.0
    false_alerts: dict[str, int] = field(default_factory=lambda: {"enforce": 0, "shadow": 0})
    false_untrapped: dict[str, int] = field(default_factory=lambda: {"enforce": 0, "shadow": 0})
    alerts: dict[str, int] = field(default_factory=lambda: {"enforce": 0, "shadow": 0})
    brand_checked: int = 0
    brand_right: int = 0
    traps: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        hours = self.media_s / 3600
        benign_hours = self.benign_s / 3600

        def rate(n: int, h: float) -> float | None:
            return round(n / h, 2) if h else None

        return {
            "clips": self.clips,
            "media_minutes": round(self.media_s / 60, 1),
            "benign_minutes": round(self.benign_s / 60, 1),
            "alerts": dict(self.alerts),
            "false_alerts": dict(self.false_alerts),
            "false_alerts_on_no_trap": dict(self.false_untrapped),
            "false_alerts_per_hour": {m: rate(n, hours) for m, n in self.false_alerts.items()},
            "false_alerts_per_benign_hour": {m: rate(n, benign_hours) for m, n in self.false_alerts.items()},
            "brand_accuracy": {
                "counterfeit_alerts_on_counterfeits": self.brand_checked,
                "right_brand": self.brand_right,
                "accuracy": round(self.brand_right / self.brand_checked, 3) if self.brand_checked else None,
            },
            "summary": summarise(self.tallies),
            "traps": {cls: dict(v) for cls, v in sorted(self.traps.items())},
        }


@dataclass
class ReplayScore:
    """One rule set's outcome on every clip: per split, plus the lists a person reads."""

    splits: dict[str, SplitScore] = field(default_factory=lambda: defaultdict(SplitScore))
    false_alerts: list[Record] = field(default_factory=list)
    missed: list[Record] = field(default_factory=list)
    wrong_brand: list[Record] = field(default_factory=list)
    per_clip: list[Record] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        keys = [k for k in SPLIT_ORDER if k in self.splits] + sorted(k for k in self.splits if k not in SPLIT_ORDER)
        return {
            "splits": {k: self.splits[k].to_dict() for k in keys},
            "false_alerts": self.false_alerts,
            "missed": self.missed,
            "wrong_brand": self.wrong_brand,
            "per_clip": self.per_clip,
        }


def score_replay(
    clip: EvidenceClip,
    alerts: list[Alert],
    first_raised: dict[str, float],
    evidence: list[Evidence],
    score: ReplayScore,
    slack_s: float = 3.0,
    rerun: Callable[[list[Evidence]], list[Alert]] | None = None,
) -> None:
    """Add one clip's replayed alerts to the score: its split and "all".

    ``rerun(evidence)`` replays a subset of the clip's evidence through the same rules (latest
    revisions): with it, traps are judged by counterfactuals (:func:`trap_counterfactuals`);
    without it, by where the false alerts' evidence lies (:func:`_trap_tripped`).
    """
    labels = clip.labels
    buckets = [score.splits[clip.split], score.splits["all"]]
    benign_s = clip.seconds - _covered_seconds(((lab["start"], lab["end"]) for lab in labels), clip.seconds)
    for b in buckets:
        b.clips += 1
        b.media_s += clip.seconds
        b.benign_s += benign_s
        score_clip(alerts, labels, first_raised, b.tallies, slack_s)
    false_here = 0
    tripped: dict[int, set[str]] = defaultdict(set)  # trap index -> modes that tripped it
    if rerun is not None:
        # A counterfactual only names the cause: the full replay must have the false alert too.
        false_alerts = _false(alerts, labels, slack_s)
        for i, modes in trap_counterfactuals(clip, evidence, rerun, slack_s).items():
            trap = clip.traps[i]
            seen = {a.mode.value for a in false_alerts
                    if _brand_fits(trap, a) and _overlaps(a.media_start, a.media_end, trap, slack_s)}
            if modes & seen:
                tripped[i] = modes & seen
    for alert in alerts:
        mode = alert.mode.value
        matching = [lab for lab in labels if _matches(alert, lab, slack_s)]
        for b in buckets:
            b.alerts[mode] += 1
        if not matching:
            false_here += 1
            for b in buckets:
                b.false_alerts[mode] += 1
        # Traps: cue evidence of this alert that the labels it matches do not explain, inside a trap.
        cues = [e for e in alert.evidence if e.matched_terms]
        loose = [e for e in cues if not any(_overlaps(e.media_start, e.media_end, lab, slack_s) for lab in matching)]
        hits: list[int] = []
        for i, trap in enumerate(clip.traps):
            if not _brand_fits(trap, alert):
                continue
            if rerun is None or _trap_tier(trap) == 0:
                if _trap_tripped(trap, loose):
                    tripped[i].add(mode)
                    hits.append(i)
            elif mode in tripped.get(i, ()) and _overlaps(alert.media_start, alert.media_end, trap, slack_s):
                hits.append(i)
        hit_traps = [clip.traps[i]["class"] for i in hits]
        if not matching:
            if not hits:
                for b in buckets:
                    b.false_untrapped[mode] += 1
            score.false_alerts.append({
                "clip": clip.name, "split": clip.split, "mode": mode, "rule": alert.rule_id,
                "category": alert.category.value, "brand": alert.brand,
                "start": round(alert.media_start, 2), "end": round(alert.media_end, 2),
                "traps": sorted(set(hit_traps)),
                "evidence": [_evidence_view(e) for e in cues] or [_evidence_view(e) for e in alert.evidence],
            })
        if alert.mode is Mode.ENFORCE and alert.category.value == "counterfeit":
            same_time = [lab for lab in labels if lab["category"] == "counterfeit"
                         and _overlaps(alert.media_start, alert.media_end, lab, slack_s)]
            if same_time:
                right = any(lab.get("brand") == alert.brand for lab in same_time)
                for b in buckets:
                    b.brand_checked += 1
                    b.brand_right += right
                if not right:
                    score.wrong_brand.append({
                        "clip": clip.name, "split": clip.split, "rule": alert.rule_id, "brand": alert.brand,
                        "label_brands": sorted({str(lab.get("brand")) for lab in same_time}),
                        "start": round(alert.media_start, 2), "end": round(alert.media_end, 2),
                        "evidence": [_evidence_view(e) for e in alert.evidence if e.matched_terms],
                    })
    for i, trap in enumerate(clip.traps):
        for b in buckets:
            row = b.traps.setdefault(trap["class"], {"traps": 0, "tripped": 0, "tripped_shadow": 0})
            row["traps"] += 1
            row["tripped"] += "enforce" in tripped.get(i, ())
            row["tripped_shadow"] += "shadow" in tripped.get(i, ())
    enforce = [a for a in alerts if a.mode is Mode.ENFORCE]
    missed_here = 0
    for label in labels:
        if any(_matches(a, label, slack_s) for a in enforce):
            continue
        missed_here += 1
        near = [e for e in evidence if _overlaps(e.media_start, e.media_end, label, slack_s)]
        score.missed.append({
            "clip": clip.name, "split": clip.split, "category": label["category"], "brand": label.get("brand"),
            "start": label["start"], "end": label["end"], "modalities": list(label.get("modalities", ())),
            "alerts_nearby": [
                {"rule": a.rule_id, "mode": a.mode.value, "brand": a.brand,
                 "start": round(a.media_start, 2), "end": round(a.media_end, 2)}
                for a in alerts if _overlaps(a.media_start, a.media_end, label, slack_s)
            ],
            "evidence": [_evidence_view(e) for e in _distinct(near)[:20]],
        })
    score.per_clip.append({
        "clip": clip.name, "split": clip.split, "seconds": clip.seconds, "evidence": len(evidence),
        "alerts": len(alerts), "false_alerts": false_here, "labels": len(labels), "missed": missed_here,
    })


def _distinct(evidence: list[Evidence]) -> list[Evidence]:
    """One item per observation (its longest extent), so a caption seen for 40 s is listed once."""
    by_key: dict[tuple[Modality, str | tuple[float, str]], Evidence] = {}
    for e in evidence:
        key = (e.modality, e.observation_id or (e.media_start, e.text))
        by_key[key] = e
    return sorted(by_key.values(), key=lambda e: (e.media_start, e.modality.value))


def replay_corpus(clips: list[EvidenceClip], engine_factory: Callable[[], RuleEngine], slack_s: float = 3.0,
                  counterfactuals: bool = True) -> ReplayScore:
    """Replay every clip's evidence through a fresh engine from ``engine_factory()`` and score it.

    Trap counterfactuals replay subsets of a clip's evidence through the same engine, each as
    a stream of its own.
    """
    score = ReplayScore()
    for clip in clips:
        evidence = read_evidence(clip.evidence_path)
        engine = engine_factory()
        alerts, first_raised = replay_alerts(engine, evidence)
        runs = itertools.count()

        def rerun(subset: list[Evidence], engine: RuleEngine = engine, clip: EvidenceClip = clip,
                  runs: Iterator[int] = runs) -> list[Alert]:
            stream = f"{clip.name}#cf{next(runs)}"
            return replay_alerts(engine, [dataclasses.replace(e, stream_id=stream) for e in subset])[0]

        score_replay(clip, alerts, first_raised, evidence, score, slack_s, rerun if counterfactuals else None)
    return score


def format_replay_report(results: dict[str, Record]) -> str:
    """Rule sets side by side, one block per split."""
    names = list(results)


    lines: list[str] = []
    splits = list(next(iter(results.values()))["splits"]) if results else []
    for split in splits:
        first = results[names[0]]["splits"][split]
        lines.append(f"== {split}: {first['clips']} clips, {first['media_minutes']} min of media")
        header = f"{'':<36}" + "".join(f"{n:>22}" for n in names)
        lines.append(header)
        rows: list[tuple[str, list[str]]] = []
        for cat in ("counterfeit", "false_claim", "piracy"):
            vals: list[str] = []
            for n in names:
                row = results[n]["splits"][split]["summary"].get(f"category:{cat}")
                vals.append("-" if row is None else f"P {_pct(row['precision'])} R {_pct(row['recall'])}")
            rows.append((f"{cat} precision/recall", vals))
        for mode in ("enforce", "shadow"):
            rows.append((f"false alerts/h ({mode})", [
                f"{results[n]['splits'][split]['false_alerts_per_hour'][mode]} ({results[n]['splits'][split]['false_alerts'][mode]})"
                for n in names]))
            rows.append(("  of which on no trap", [
                str(results[n]["splits"][split]["false_alerts_on_no_trap"][mode]) for n in names]))
        rows.append(("counterfeit brand accuracy", [
            _pct(results[n]["splits"][split]["brand_accuracy"]["accuracy"]) for n in names]))
        traps = sorted({c for n in names for c in results[n]["splits"][split]["traps"]})
        for cls in traps:
            vals = []
            for n in names:
                t = results[n]["splits"][split]["traps"].get(cls)
                vals.append("-" if t is None else f"{t['tripped']}/{t['traps']} (+{t['tripped_shadow']} sh)")
            rows.append((f"  trap {cls}", vals))
        for label, vals in rows:
            lines.append(f"{label:<36}" + "".join(f"{v:>22}" for v in vals))
    return "\n".join(lines)
