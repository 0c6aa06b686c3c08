"""Ops tools: explain a text, replay evidence, compare the alerts of two rule sets."""

from __future__ import annotations

from pathlib import Path

import rules
from events import Modality


def test_explain_reads_well(default_engine) -> None:
    text = str(rules.explain(default_engine, "這款香奶奶是高访的 ¥99"))
    assert "normalised: 这款香奶奶是高访的99" in text
    assert "counterfeit_slang: 高仿 (as 高访) [homophone]" in text
    assert "brand: chanel (as 香奶奶) [exact]" in text
    assert "FIRES counterfeit.brand_with_cue v6 for chanel" in text
    assert "price 99 CNY < 0.3 x 8000 (chanel, same text)" in text


def test_explain_shows_exemptions_and_logos(default_engine) -> None:
    exp = rules.explain(default_engine, "最佳食用时间 原单", modality=Modality.ASR, logos=["GUCCI"])
    assert exp.exempted == ("absolute_terms: 最佳 inside exemption 最佳食用时间 (consumer tip (SAMR 2023 guide))",)
    assert [(v.rule_id, v.subjects) for v in exp.fired] == [("counterfeit.brand_with_cue", ("gucci",))]


def _recording(ev):
    return [
        ev(modality=Modality.LOGO, brand="lv", t=0),
        ev("驴牌 高仿", t=1),
        ev("驴牌假一赔十", t=2),
        ev("全网第一", t=10, stream="s2"),
    ]


def test_replay_and_compare_two_rule_sets(ruleset: Path, brands, ev) -> None:
    base = rules.RuleEngine(rules.DEFAULT_RULES_DIR, brands=brands, options=rules.RulesOptions(hot_reload=False))
    (ruleset / "rules" / "false_claim_absolute.yaml").unlink()
    lex = ruleset / "lexicons" / "fake_guarantees.yaml"
    lex.write_text(lex.read_text(encoding="utf-8").replace("假一赔十", "假一赔二十"), encoding="utf-8")
    path = ruleset / "rules" / "false_claim_medical.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("[medical_claims]", "[medical_claims, absolute_terms]"), encoding="utf-8")
    other = rules.RuleEngine(ruleset, brands=brands, options=rules.RulesOptions(hot_reload=False))

    alerts_a = rules.replay(base, _recording(ev))
    alerts_b = rules.replay(other, _recording(ev))
    diff = rules.compare_alerts(alerts_a, alerts_b)
    assert [a.rule_id for a in diff.added] == ["false_claim.medical_claims"]
    assert sorted(a.rule_id for a in diff.removed) == ["counterfeit.brand_with_guarantee", "false_claim.absolute_terms"]
    assert [a.rule_id for a, _ in diff.kept] == ["counterfeit.brand_with_cue"]
    text = str(diff)
    assert text.startswith("alerts: 1 in both, 1 added, 2 removed")
    assert "+ s2 false_claim.medical_claims v2 [enforce]" in text


def test_compare_identical_runs_is_empty(brands, ev) -> None:
    def run() -> list:
        engine = rules.load_engine(brands=brands, options=rules.RulesOptions(hot_reload=False))
        return rules.replay(engine, _recording(ev))

    diff = rules.compare_alerts(run(), run())
    assert not diff.changed and len(diff.kept) == 3
    assert len(rules.latest_revisions(run())) == 3
