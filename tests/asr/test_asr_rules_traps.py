"""Precision traps through the real Whisper base and the bundled rules (issue 11).

Whisper turns TTS Mandarin into homophones and odd spellings (高访, 12,999元, 置于): the rules
must hold on what it really writes, not on the sentences as typed. Each benign trap must raise
no counterfeit alert; each violation must still raise one, for the right brand. The same for
cure claims: a sound-alike of a short claim with no disease raises none, a claim does.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import rules
from asr import AsrOptions, AsrStage
from events import Alert, Category, Mode
from livewatch.paths import DEFAULT_BRANDS_DIR
from logos import load_brand_registry
from tests.asr.conftest import CLAIM_TRAPS, CLAIMS, TRAPS, VIOLATIONS, chunks, silence

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def heard(whisper_model, mandarin) -> dict[str, list]:
    """Each trap and violation transcribed on its own stream, as the worker would (brand hot words on)."""
    brands = load_brand_registry(DEFAULT_BRANDS_DIR)
    hotwords = tuple(name for b in brands for name in b.names)  # the Transcriber keeps the Chinese ones
    stage = AsrStage(replace(AsrOptions(hotwords=hotwords), workers=0), model=whisper_model)
    out: dict[str, list] = {}
    for key in (*TRAPS, *VIOLATIONS, *CLAIM_TRAPS, *CLAIMS):
        audio = np.concatenate([silence(0.5), mandarin[key], silence(1.5)])
        evidence = [e for c in chunks(audio, key) for e in stage.process(c)]
        out[key] = evidence + stage.finish(key)
    return out


@pytest.fixture(scope="module")
def engine() -> rules.RuleEngine:
    return rules.load_engine(brands=load_brand_registry(DEFAULT_BRANDS_DIR), options=rules.RulesOptions(hot_reload=False))


def heard_as(evidence: list) -> str:
    """Each piece as Whisper gave it (text, media span, confidence and what it is made of, decoding temperature):
    what to feed `livewatch rules explain --heard` when a test fails (the audio is one fixed sample, VOICE_SEED)."""
    return "; ".join(
        f"{e.text!r} {e.media_start:.2f}-{e.media_end:.2f}s conf {e.confidence:.2f} (avg_logprob {e.details.get('avg_logprob')}, "
        f"no_speech {e.details.get('no_speech_prob')}) T {e.details.get('temperature')}"
        for e in evidence
    )


def alerts_on(engine: rules.RuleEngine, evidence: list) -> list[Alert]:
    """Every alert one stream's evidence raises, to the stream's end."""
    alerts = [a for e in evidence for a in engine.process(e)]
    if evidence:
        alerts += engine.finish(evidence[0].stream_id)
    return alerts


def counterfeit_alerts(engine: rules.RuleEngine, evidence: list) -> list[Alert]:
    return [a for a in alerts_on(engine, evidence) if a.category is Category.COUNTERFEIT and a.mode is Mode.ENFORCE]


@pytest.mark.parametrize("key", sorted(TRAPS))
def test_benign_traps_heard_by_whisper_raise_no_counterfeit_alert(heard, engine, key: str) -> None:
    assert heard[key], f"Whisper heard nothing of {TRAPS[key]!r}"
    assert counterfeit_alerts(engine, heard[key]) == [], f"{key}: heard {heard_as(heard[key])}"


@pytest.mark.parametrize("key", sorted(VIOLATIONS))
def test_violations_heard_by_whisper_still_alert_for_their_brand_only(heard, engine, key: str) -> None:
    alerts = counterfeit_alerts(engine, heard[key])
    assert {a.brand for a in alerts} == {VIOLATIONS[key][0]}, f"heard {heard_as(heard[key])}"


def medical_alerts(engine: rules.RuleEngine, evidence: list) -> list[Alert]:
    return [a for a in alerts_on(engine, evidence) if a.rule_id == "false_claim.medical_claims"]


@pytest.mark.parametrize("key", sorted(CLAIM_TRAPS))
def test_a_sound_alike_of_a_short_claim_heard_by_whisper_is_no_claim(heard, engine, key: str) -> None:
    assert heard[key], f"Whisper heard nothing of {CLAIM_TRAPS[key]!r}"
    assert medical_alerts(engine, heard[key]) == [], f"{key}: heard {heard_as(heard[key])}"


@pytest.mark.parametrize("key", sorted(CLAIMS))
def test_cure_claims_heard_by_whisper_still_alert(heard, engine, key: str) -> None:
    assert medical_alerts(engine, heard[key]), f"{key}: heard {heard_as(heard[key])}"
