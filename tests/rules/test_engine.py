"""The engine: conditions across modalities and time, alert life-cycle, shadow mode, hot reload."""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

import jsonschema

import rules
from events import (
    Action,
    Alert,
    Category,
    Modality,
    Mode,
    Price,
    Severity,
    alert_id_for,
)
from tests.rules.conftest import engine_with_rule

ROOT = Path(__file__).resolve().parents[2]
CUE = "counterfeit.brand_with_cue"


def run(engine: rules.RuleEngine, *evidence) -> list[Alert]:
    out: list[Alert] = []
    for e in evidence:
        out += engine.process(e)
    return out


def only(alerts: list[Alert], rule_id: str) -> list[Alert]:
    return [a for a in alerts if a.rule_id == rule_id]


# -- conditions ---------------------------------------------------------------------------


def test_logo_plus_slang_in_speech_is_counterfeit(engine, ev) -> None:
    alerts = run(engine, ev(modality=Modality.LOGO, brand="chanel", t=10, confidence=0.9), ev("这款包包是高访的，和专贵一模一样", t=20))
    (alert,) = only(alerts, CUE)
    assert (alert.category, alert.brand, alert.mode, alert.action, alert.revision) == (Category.COUNTERFEIT, "chanel", Mode.ENFORCE, Action.REVIEW, 1)
    assert alert.alert_id == alert_id_for("s1", CUE, "chanel", 10.0)
    terms = {e.modality: e.matched_terms for e in alert.evidence}
    assert terms[Modality.LOGO] == ("logo:chanel",)
    assert terms[Modality.ASR] == ("高仿 (as 高访)",)
    assert alert.rule_version == 6 and alert.media_start == 10 and alert.media_end == 22


def test_unsure_speech_still_alerts_with_a_lower_confidence_and_noise_does_not(engine, ev) -> None:
    """Whisper wrote a violation right at confidence 0.29 once (a fresh-clone run): the alert's
    confidence carries the doubt to the moderator; only what is nearly noise is dropped."""
    said = "这款古驰包包是高仿的，只要九十九元"
    (sure,) = only(run(engine, ev(said, t=0, confidence=0.8)), CUE)
    (unsure,) = only(run(engine, ev(said, t=0, confidence=0.25, stream="s2")), CUE)
    assert unsure.brand == "gucci" and unsure.confidence < sure.confidence
    assert only(run(engine, ev(said, t=0, confidence=0.15, stream="s3")), CUE) == []


def test_nickname_in_speech_plus_cheap_price_said_with_it(engine, ev) -> None:
    alerts = run(engine, ev("香奶奶的经典款今天上链接，只要九十九", t=0))
    (alert,) = only(alerts, CUE)
    assert alert.brand == "chanel"
    assert any("price 99 CNY < 0.3 x 8000 (chanel, same text)" in t for e in alert.evidence for t in e.matched_terms)
    assert alert.price is not None and alert.price.amount == 99.0


def test_a_brand_only_said_does_not_name_the_product_whose_price_is_on_screen(engine, ev) -> None:
    """有宝宝问我用的什么香水？是香奈儿的: the host's perfume is not the ¥99 product on the card."""
    alerts = run(engine, ev("有宝宝问我用的什么香水，是香奈儿的", t=0), ev("到手价", modality=Modality.OCR, t=5, prices=(Price(99.0, text="¥99"),)))
    assert only(alerts, CUE) == []


def test_price_above_the_fraction_or_original_price_is_not_a_cue(engine, ev) -> None:
    alerts = run(
        engine,
        ev(modality=Modality.LOGO, brand="chanel", t=0),
        ev("限时特价", modality=Modality.OCR, t=1, prices=(Price(5999.0),)),
        ev("专柜价", modality=Modality.OCR, t=2, prices=(Price(99.0, role="original"),)),
    )
    assert alerts == []


def test_brand_without_counterfeit_cue_raises_nothing(engine, ev) -> None:
    alerts = run(engine, ev(modality=Modality.LOGO, brand="gucci", t=0), ev("GUCCI 正品保障 官方授权 专柜同款", t=1), ev("古驰新款到货", t=3))
    assert alerts == []


def test_slang_without_brand_raises_nothing(engine, ev) -> None:
    assert run(engine, ev("高仿 A货 1:1", t=0)) == []


def test_false_claim_from_speech_and_screen(engine, ev) -> None:
    alerts = run(engine, ev("这个产品能置于癌症", t=3), ev("全网最低价", modality=Modality.OCR, t=4, stream="s2"))
    assert {(a.rule_id, a.stream_id, a.brand) for a in alerts} == {
        ("false_claim.medical_claims", "s1", None),
        ("false_claim.absolute_terms", "s2", None),
    }


def test_piracy_fires_when_the_fingerprint_run_is_long_enough(engine, ev) -> None:
    fp = [ev("match-0412", modality=Modality.FINGERPRINT, t=t, duration=5, confidence=0.8) for t in range(0, 40, 5)]
    alerts = run(engine, *fp)
    (alert,) = alerts
    assert (alert.rule_id, alert.action, alert.brand) == ("piracy.rebroadcast", Action.TAKEDOWN, None)
    assert alert.media_start == 0 and alert.media_end >= 12  # the default rule's min_duration_s
    assert "match-0412" in alert.title
    assert alert.alert_id == alert_id_for("s1", "piracy.rebroadcast", "match-0412", 0.0)


def test_short_or_interrupted_fingerprint_runs_do_not_fire(engine, ev) -> None:
    fp = [ev("m", modality=Modality.FINGERPRINT, t=t, duration=5) for t in (0, 5)]  # 10 s < 12 s
    fp += [ev("m", modality=Modality.FINGERPRINT, t=t, duration=5) for t in (40, 45)]  # gap: a new 10 s run
    assert run(engine, *fp) == []


def test_per_modality_confidence_thresholds(engine, ev) -> None:
    weak_logo = ev(modality=Modality.LOGO, brand="lv", t=0, confidence=0.4)
    assert run(engine, weak_logo, ev("高仿", t=1)) == []
    assert only(run(engine, ev(modality=Modality.LOGO, brand="lv", t=2, confidence=0.7)), CUE)


def test_combinators_and_min_count(tmp_path: Path, ev) -> None:
    engine = engine_with_rule(
        tmp_path,
        "id: test.two_claims_no_disclaimer\nversion: 3\ncategory: false_claim\nseverity: low\nwindow_s: 10\n"
        "conditions:\n  all:\n    - terms: {lexicons: [medical_claims], min_count: 2, modalities: [asr]}\n"
        "    - not: {terms: {lexicons: [fake_guarantees]}}\n",
    )
    assert run(engine, ev("能治愈", t=0)) == []
    assert run(engine, ev("还能根治", t=1, modality=Modality.OCR)) == []  # OCR is not counted
    (alert,) = run(engine, ev("还能根治", t=2))
    assert alert.rule_version == 3 and alert.severity == Severity.LOW
    assert run(engine, ev("能治愈 能根治 假一赔十", t=3, stream="s2")) == []


# -- window and life-cycle --------------------------------------------------------------


def test_cues_further_apart_than_the_window_do_not_combine(engine, ev) -> None:
    assert run(engine, ev(modality=Modality.LOGO, brand="chanel", t=0, duration=1), ev("高仿", t=92)) == []
    assert only(run(engine, ev(modality=Modality.LOGO, brand="chanel", t=150, duration=1), ev("高仿", t=230)), CUE)


def test_ongoing_violation_updates_one_alert(engine, ev) -> None:
    first = only(run(engine, ev(modality=Modality.LOGO, brand="lv", t=0), ev("高仿", t=1)), CUE)
    second = only(run(engine, ev("A货", t=20)), CUE)
    again = only(run(engine, ev("尾单", t=40), ev(modality=Modality.LOGO, brand="lv", t=41)), CUE)
    assert [a.revision for a in first + second + again] == [1, 2, 3]
    assert len({a.alert_id for a in first + second + again}) == 1
    assert len(again[-1].evidence) == 4  # the logo at 41 s waits for min_revision_interval_s


def test_same_observation_extends_without_new_revisions(engine, ev) -> None:
    caption = [ev("LV 高仿 顶级", modality=Modality.OCR, t=t, duration=1, observation_id="cap-1") for t in range(0, 20)]
    alerts = run(engine, *caption)
    assert [a.revision for a in only(alerts, CUE)] == [1]
    (final,) = only(engine.finish("s1"), CUE)
    assert (final.revision, final.media_start, final.media_end) == (2, 0, 20)
    assert engine.finish("s1") == []


def test_cooldown_separates_violations(engine, ev) -> None:
    a1 = only(run(engine, ev(modality=Modality.LOGO, brand="lv", t=0), ev("高仿", t=1)), CUE)
    quiet_but_within = only(run(engine, ev(modality=Modality.LOGO, brand="lv", t=200), ev("复刻", t=201)), CUE)
    after_cooldown = only(run(engine, ev(modality=Modality.LOGO, brand="lv", t=600), ev("高仿", t=601)), CUE)
    assert quiet_but_within[0].alert_id == a1[0].alert_id and quiet_but_within[0].revision == 2
    assert after_cooldown[0].alert_id != a1[0].alert_id and after_cooldown[0].revision == 1


def test_one_alert_per_brand(engine, ev) -> None:
    alerts = only(run(engine, ev("香奈儿和驴牌都是高仿", t=0)), CUE)
    assert sorted(a.brand for a in alerts) == ["chanel", "lv"]
    assert len({a.alert_id for a in alerts}) == 2


def test_score_and_severity_grow_with_corroboration(engine, ev) -> None:
    (single,) = only(run(engine, ev("驴牌 高仿", t=0, confidence=0.6)), CUE)
    alerts = only(run(engine, ev(modality=Modality.LOGO, brand="chanel", t=0, stream="s2", confidence=0.95),
                      ev("香奶奶 高仿 原单", t=1, stream="s2", confidence=0.9)), CUE)
    assert single.severity == Severity.HIGH and single.score < alerts[-1].score
    assert alerts[-1].severity == Severity.CRITICAL


def test_streams_are_independent_and_bounded(ev) -> None:
    engine = rules.load_engine(brands=_brands(), options=rules.RulesOptions(hot_reload=False, max_streams=2, max_facts_per_stream=5))
    run(engine, ev(modality=Modality.LOGO, brand="lv", t=0, stream="a"))
    assert run(engine, ev("高仿", t=1, stream="b")) == []
    run(engine, ev("x 高仿", t=0, stream="c"), ev("y 高仿", t=0, stream="d"))
    assert run(engine, ev("高仿", t=2, stream="a")) == []  # stream a was forgotten (max_streams=2)
    run(engine, *[ev(f"第{i}次 高仿", t=i, stream="d") for i in range(20)])
    assert len(engine._streams["d"].facts) <= 5


def _brands():
    from events import Brand

    return (Brand("lv", ("LV",), ("驴牌",), min_price=6000.0),)


def test_alerts_validate_against_the_alert_schema(engine, ev) -> None:
    schema_path = ROOT / "alerts" / "schema" / "alert.schema.json"
    validator = jsonschema.Draft202012Validator(json.loads(schema_path.read_text(encoding="utf-8")))
    alerts = run(
        engine,
        ev(modality=Modality.LOGO, brand="lv", t=0),
        ev("高仿 ¥99", t=1),
        ev("m", modality=Modality.FINGERPRINT, t=0, duration=40, stream="s9"),
        ev("包治百病", t=3, stream="s8"),
    )
    assert {a.rule_id for a in alerts} == {CUE, "counterfeit.logo_low_price", "piracy.rebroadcast", "false_claim.medical_claims"}
    for a in alerts:
        validator.validate(a.to_dict())
        assert Alert.from_dict(a.to_dict()) == a


# -- shadow mode ----------------------------------------------------------------------


def test_shadow_rule_alerts_are_marked_shadow(engine, ev) -> None:
    alerts = run(engine, ev("驴牌 假一赔十 支持专柜验货", t=0))
    (shadow,) = only(alerts, "counterfeit.brand_with_guarantee")
    assert shadow.mode == Mode.SHADOW and shadow.brand == "lv"
    assert not only(alerts, CUE)


def test_rule_switched_to_shadow_by_edit(ruleset: Path, ev) -> None:
    path = ruleset / "rules" / "false_claim_medical.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("mode: enforce", "mode: shadow").replace("version: 1", "version: 2"), encoding="utf-8")
    engine = rules.RuleEngine(ruleset, options=rules.RulesOptions(hot_reload=False))
    (alert,) = run(engine, ev("包治百病", t=0))
    assert (alert.mode, alert.rule_version) == (Mode.SHADOW, 2)


# -- hot reload -------------------------------------------------------------------------


def _touch(path: Path, text: str) -> None:
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(before + 10_000_000, before + 10_000_000))


def test_hot_reload_applies_edits_and_rejects_broken_ones(ruleset: Path, ev, caplog) -> None:
    engine = rules.RuleEngine(ruleset, brands=_brands(), options=rules.RulesOptions(reload_poll_s=0.0))
    path = ruleset / "rules" / "false_claim_absolute.yaml"
    good = path.read_text(encoding="utf-8")
    assert only(run(engine, ev("全网第一", t=0)), "false_claim.absolute_terms")

    _touch(path, good.replace("version: 1", "version: 2").replace("severity: medium", "severity: low"))
    (alert,) = run(engine, ev("全网第一", t=0, stream="s2"))
    assert (alert.rule_version, alert.severity) == (2, Severity.LOW)

    with caplog.at_level(logging.ERROR, logger="rules.engine"):
        _touch(path, good.replace("version: 1", "version: three"))
        (alert,) = run(engine, ev("全网第一", t=0, stream="s3"))
    assert alert.rule_version == 2  # the previous rules keep running
    assert any("false_claim_absolute.yaml:2" in r.getMessage() for r in caplog.records)
    assert engine.last_errors and engine.last_errors[0].line == 2

    lex = ruleset / "lexicons" / "absolute_terms.yaml"
    _touch(lex, lex.read_text(encoding="utf-8").replace("  - 万能\n", "  - 万能\n  - 宇宙第一\n"))
    _touch(path, good.replace("version: 1", "version: 4"))
    (alert,) = run(engine, ev("宇宙第一", t=0, stream="s4"))
    assert alert.rule_version == 4
    assert [r.version for r in engine.rules if r.id == "false_claim.absolute_terms"] == [4]


def test_reload_keeps_per_stream_state(ruleset: Path, ev) -> None:
    engine = rules.RuleEngine(ruleset, brands=_brands(), options=rules.RulesOptions(hot_reload=False))
    assert run(engine, ev(modality=Modality.LOGO, brand="lv", t=0)) == []
    assert engine.reload() == []
    assert only(run(engine, ev("高仿", t=5)), CUE)


def test_concurrent_streams_from_threads(ev) -> None:
    engine = rules.load_engine(brands=_brands(), options=rules.RulesOptions(reload_poll_s=0.0))
    results: dict[str, list[Alert]] = {}

    def worker(stream: str) -> None:
        out = []
        for i in range(200):
            out += engine.process(ev("驴牌 高仿" if i % 50 == 0 else "大家好欢迎来到直播间", t=float(i), stream=stream))
        results[stream] = out

    threads = [threading.Thread(target=worker, args=(f"t{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all([a.revision for a in only(results[f"t{i}"], CUE)] == [1, 2, 3, 4] for i in range(4))


def test_revisions_are_held_back_by_the_interval_and_flushed(engine, ev) -> None:
    first = only(run(engine, ev(modality=Modality.LOGO, brand="lv", t=0), ev("高仿", t=1)), CUE)
    held = only(run(engine, ev("A货", t=2), ev("尾单", t=3)), CUE)
    flushed = only(run(engine, ev("随便说说 但是 复刻", t=9)), CUE)
    assert [a.revision for a in first] == [1] and held == []
    assert [a.revision for a in flushed] == [2]
    assert {t for e in flushed[0].evidence for t in e.matched_terms} >= {"A货", "尾单", "复刻"}
    run(engine, ev("精仿", t=10))
    (last,) = only(engine.finish("s1"), CUE)
    assert last.revision == 3 and "精仿" in {t for e in last.evidence for t in e.matched_terms}


def test_held_revision_is_published_as_media_time_moves_on(engine, ev) -> None:
    run(engine, ev(modality=Modality.LOGO, brand="lv", t=0), ev("高仿", t=1), ev("A货", t=2))
    assert run(engine, ev("大家好", t=4)) == []
    (alert,) = run(engine, ev("欢迎来到直播间", t=8))
    assert alert.revision == 2 and alert.rule_id == CUE


def test_fingerprint_observation_growing_like_the_fingerprint_stage(engine, ev) -> None:
    """frames.fingerprint re-sends one observation with a fixed start and a growing end."""
    growing = [ev("match-7", modality=Modality.FINGERPRINT, t=0, duration=d, observation_id="run-1") for d in (5, 10, 13, 15, 40)]
    alerts = [(a.revision, a.media_end) for a in run(engine, *growing)]
    assert alerts == [(1, 13)]  # the first time the run reaches the rule's 12 s
    (final,) = engine.finish("s1")
    assert (final.revision, final.media_end) == (2, 40)


def test_a_live_show_copied_fires_the_live_rule_sooner_and_the_library_rule_never(engine, ev) -> None:
    def run_of(content: str, stream: str) -> list[Alert]:
        """A run's evidence as the fingerprint stage sends it: the same start, growing every 2 s."""
        return run(engine, *(ev(content, modality=Modality.FINGERPRINT, t=0, duration=d, confidence=0.8, stream=stream)
                             for d in (2, 4, 6, 14)))

    live = run_of("live:showA", "copyB")
    assert [(a.rule_id, a.media_end) for a in live] == [("piracy.rebroadcast_live", 6)]
    assert "live:showA" in live[0].title and live[0].evidence[0].text == "live:showA"
    assert [a.rule_id for a in run_of("film-7", "pirate")] == ["piracy.rebroadcast"]


def test_a_rule_may_require_the_sound_or_the_picture(tmp_path: Path, ev) -> None:
    engine = engine_with_rule(
        tmp_path,
        "id: test.audio_copy\nversion: 1\ncategory: piracy\nseverity: high\nwindow_s: 60\n"
        "conditions:\n  fingerprint: {min_duration_s: 10, kind: audio}\n",
    )

    def run_of(kind: str, stream: str) -> list[Alert]:
        fp = [ev("show-1", modality=Modality.FINGERPRINT, t=t, duration=4, stream=stream) for t in range(0, 16, 4)]
        import dataclasses

        return run(engine, *(dataclasses.replace(e, details={"kind": kind}) for e in fp))

    assert run_of("video", "v") == []
    (alert,) = run_of("audio", "a")
    assert "audio" in alert.evidence[0].matched_terms[0]
