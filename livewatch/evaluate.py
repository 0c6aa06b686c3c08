"""``livewatch eval DIR``: precision and recall of ``scan`` on a labelled corpus.

An alert is right when its category (and brand, where the label has one)
matches a labelled violation whose media-time span it overlaps (with
``slack_s`` of tolerance: evidence is sampled once a second and speech is
stamped by utterance). Time to alert is measured in media time: from the
label's start to the media time at which the alert was first raised.

Only enforce-mode alerts count; shadow rules are reported apart.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from events import Alert, LivewatchError, Mode


@dataclass(frozen=True)
class LabelledClip:
    file: Path
    labels: tuple[dict, ...]


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


def _matches(alert: Alert, label: dict, slack_s: float) -> bool:
    if alert.category.value != label["category"]:
        return False
    if label.get("brand") and alert.brand != label["brand"]:
        return False
    return alert.media_start <= label["end"] + slack_s and alert.media_end >= label["start"] - slack_s


def score_clip(
    alerts: Iterable[Alert],
    labels: tuple[dict, ...],
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


def format_report(summary: dict[str, dict[str, object]]) -> str:
    def pct(v: object) -> str:
        return "-" if v is None else f"{100 * float(v):.0f}%"  # type: ignore[arg-type]

    lines = [f"{'slice':<24} {'precision':>9} {'recall':>7} {'right':>6} {'wrong':>6} {'missed':>7} {'t2a p50':>8}"]
    for key, row in summary.items():
        t2a = row["time_to_alert_p50_s"]
        lines.append(
            f"{key:<24} {pct(row['precision']):>9} {pct(row['recall']):>7} {row['alerts_right']:>6} "
            f"{row['alerts_wrong']:>6} {row['violations_missed']:>7} {('-' if t2a is None else f'{t2a:.1f}s'):>8}"
        )
    return "\n".join(lines)
