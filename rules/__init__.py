"""The rules engine: evidence from speech, screen text, logos and fingerprints -> alerts.

Public face (docs/ARCHITECTURE.md):

- ``RuleEngine(rules_dir, lexicon_dir=None, brands=(), options=RulesOptions())`` /
  ``load_engine(...)``: ``.process(Evidence) -> list[Alert]``, ``.finish(stream_id)``,
  ``.reload() -> list[RuleError]`` (also automatic on file change), ``.rules``,
  ``.explain(text)``.
- ``check_rules(dir) -> list[RuleError]``: validate a rule set (``livewatch rules check``).
- ``explain(engine, text) -> Explanation``: which rules a text fires and why (``str()`` reads well).
- ``replay(engine, evidence) -> list[Alert]`` and ``compare_alerts(a, b) -> AlertDiff`` for
  ``livewatch scan --compare``.
- ``DEFAULT_RULES_DIR``: the bundled rule set (``rules/default``: ``rules/`` + ``lexicons/``).
"""

from __future__ import annotations

from typing import Iterable

from events import Modality
from rules.compare import AlertDiff, compare_alerts, latest_revisions, replay
from rules.conditions import Rule
from rules.engine import RuleEngine, RulesOptions, load_engine
from rules.explain import Explanation, RuleVerdict
from rules.loader import DEFAULT_DIR as DEFAULT_RULES_DIR
from rules.loader import RuleError, check_rules
from rules.normalize import Normalizer


def explain(engine: RuleEngine, text: str, modality: Modality = Modality.OCR, logos: Iterable[str] = ()) -> Explanation:
    """Which of the engine's rules this text (and optional logo brands) would fire, and why."""
    return engine.explain(text, modality, logos)


__all__ = [
    "DEFAULT_RULES_DIR",
    "AlertDiff",
    "Explanation",
    "Normalizer",
    "Rule",
    "RuleEngine",
    "RuleError",
    "RuleVerdict",
    "RulesOptions",
    "check_rules",
    "compare_alerts",
    "explain",
    "latest_revisions",
    "load_engine",
    "replay",
]
