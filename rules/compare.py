"""Replaying recorded evidence through rule sets, and the difference between their alerts.

``livewatch scan FILE --rules A --compare B`` runs the detectors once, replays the evidence
through two engines and prints :func:`compare_alerts`: what B would add and what it would drop,
so ops see the effect of a rule edit on a real recording before it goes live.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from events import Alert, Evidence
from rules.engine import RuleEngine


def replay(engine: RuleEngine, evidence: Iterable[Evidence]) -> list[Alert]:
    """Every alert (all revisions) the engine raises on this evidence, streams finished at the end."""
    alerts: list[Alert] = []
    streams: dict[str, None] = {}
    for ev in evidence:
        streams.setdefault(ev.stream_id)
        alerts += engine.process(ev)
    for stream_id in streams:
        alerts += engine.finish(stream_id)
    return alerts


def latest_revisions(alerts: Iterable[Alert]) -> list[Alert]:
    """One alert per alert id: its highest revision, in order of first appearance."""
    latest: dict[str, Alert] = {}
    for a in alerts:
        if a.alert_id not in latest or a.revision > latest[a.alert_id].revision:
            latest[a.alert_id] = a
    return list(latest.values())


@dataclass(frozen=True, slots=True)
class AlertDiff:
    """Alerts of run B compared with run A: ``added`` (only B), ``removed`` (only A), ``kept`` (both)."""

    added: tuple[Alert, ...]
    removed: tuple[Alert, ...]
    kept: tuple[tuple[Alert, Alert], ...]

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)

    def __str__(self) -> str:
        lines = [f"alerts: {len(self.kept)} in both, {len(self.added)} added, {len(self.removed)} removed"]
        for sign, alerts in (("+", self.added), ("-", self.removed)):
            for a in alerts:
                terms = sorted({t for e in a.evidence for t in e.matched_terms})
                lines.append(
                    f"{sign} {a.stream_id} {a.rule_id} v{a.rule_version} [{a.mode.value}] {a.brand or ''} "
                    f"{a.media_start:.1f}-{a.media_end:.1f}s {a.severity.value} score {a.score:.2f}: {', '.join(terms)}"
                )
        return "\n".join(lines)


def _same_violation(a: Alert, b: Alert, slack_s: float) -> bool:
    return (
        a.stream_id == b.stream_id
        and a.rule_id == b.rule_id
        and a.brand == b.brand
        and a.media_start <= b.media_end + slack_s
        and b.media_start <= a.media_end + slack_s
    )


def compare_alerts(alerts_a: Iterable[Alert], alerts_b: Iterable[Alert], slack_s: float = 1.0) -> AlertDiff:
    """Pair the alerts of two runs by stream, rule, brand and overlapping media time.

    Revisions collapse to the latest one first; alert ids are not compared because a changed
    rule can move an alert's onset (and so its id) while it is still the same violation.
    """
    remaining = latest_revisions(alerts_b)
    kept, removed = [], []
    for a in latest_revisions(alerts_a):
        match = next((b for b in remaining if _same_violation(a, b, slack_s)), None)
        if match is None:
            removed.append(a)
        else:
            remaining.remove(match)
            kept.append((a, match))
    return AlertDiff(tuple(remaining), tuple(removed), tuple(kept))
