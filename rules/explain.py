"""What ``livewatch rules explain`` prints: which rules a text would fire, and why."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RuleVerdict:
    rule_id: str
    version: int
    mode: str
    fired: bool
    subjects: tuple[str, ...]  # brands or contents the rule fired for ("" when it binds none)
    reasons: tuple[str, ...]  # the condition tree, one line per condition, [x] when met
    scope: str = "window"  # what the rule joins: one text, one product segment, or a window


@dataclass(frozen=True, slots=True)
class Explanation:
    """The normalised text, what matched in it, and every rule's verdict on it."""

    text: str
    normalized: str
    pinyin: str
    matches: tuple[str, ...]  # "counterfeit_slang: 高仿 (as 高访) [homophone]", with any context acting on it
    exempted: tuple[str, ...]  # exemptions applied, and brand names refused as everyday words
    prices: tuple[str, ...]
    verdicts: tuple[RuleVerdict, ...]

    @property
    def fired(self) -> tuple[RuleVerdict, ...]:
        return tuple(v for v in self.verdicts if v.fired)

    def __str__(self) -> str:
        lines = [f"text:       {self.text}", f"normalised: {self.normalized}", f"pinyin:     {self.pinyin}"]
        lines.append("matches:    " + ("; ".join(self.matches) or "none"))
        if self.exempted:
            lines.append("exempted:   " + "; ".join(self.exempted))
        if self.prices:
            lines.append("prices:     " + "; ".join(self.prices))
        fired = self.fired
        lines.append(f"rules fired: {len(fired)} of {len(self.verdicts)}")
        for v in sorted(self.verdicts, key=lambda v: (not v.fired, v.rule_id)):
            on = f" for {', '.join(s for s in v.subjects if s) }" if v.fired and any(v.subjects) else ""
            shadow = " (shadow)" if v.mode == "shadow" else ""
            lines.append(f"{'FIRES' if v.fired else 'no   '} {v.rule_id} v{v.version}{shadow}{on}  [joins within one {v.scope}]")
            lines.extend(f"      {r}" for r in v.reasons)
        return "\n".join(lines)
