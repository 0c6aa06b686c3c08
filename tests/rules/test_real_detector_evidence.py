"""The bundled rules on what the real detectors made of the tuning broadcasts, the tuning
brands' spoken pitches and the old corpus.

bench/evidence holds PaddleOCR, logo matching and Whisper base output (TTS speech, rendered
cards, a moving host) for every clip, scanned once per detector change. Replaying it keeps
the real artefacts in the tests: misread prices, pieces of one sentence, everyday words heard
as brand names. The held-out splits are scored by ``make eval`` only: a test on them would
make them something the rules are tuned on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.broadcasts import TRAP_CLASSES
from events import Modality
from livewatch.config import Config
from livewatch.evaluate import read_evidence
from livewatch.service import run_replay_eval
from livewatch.stages import Stages
from rules import explain

EVIDENCE = Path(__file__).resolve().parents[2] / "bench" / "evidence"


@pytest.fixture(scope="module")
def replayed() -> dict[str, Any]:
    result = run_replay_eval(Config(), [EVIDENCE / "broadcasts", EVIDENCE / "spoken", EVIDENCE / "corpus"], baseline_dir=None)
    rules: dict[str, Any] = result["results"]["rules"]  # type: ignore[index]
    return rules


@pytest.fixture(scope="module")
def splits(replayed: dict[str, Any]) -> dict[str, Any]:
    return replayed["splits"]  # type: ignore[no-any-return]


def test_every_trap_class_is_on_the_tuning_broadcasts_and_none_raises_an_enforce_alert(splits: dict[str, Any]) -> None:
    traps = splits["tuning"]["traps"]
    assert set(TRAP_CLASSES) <= set(traps)
    tripped = {cls: t["tripped"] for cls, t in traps.items() if t["tripped"]}
    assert tripped == {}
    assert splits["tuning"]["false_alerts"]["enforce"] == 0


def test_violations_on_the_tuning_broadcasts_are_found(splits: dict[str, Any]) -> None:
    """Counterfeit recall is judged on the broadcasts' 12 products and the 45 spoken pitches
    together: on 12 alone one sentence Whisper hears differently (a rescan, another window) moves it 8 points."""
    summary = splits["tuning"]["summary"]
    assert summary["category:false_claim"]["recall"] == 1.0
    assert summary["all"]["precision"] == 1.0
    counterfeit = [splits[s]["summary"]["category:counterfeit"] for s in ("tuning", "spoken-tuning")]
    found = sum(c["violations_found"] for c in counterfeit)
    assert found / (found + sum(c["violations_missed"] for c in counterfeit)) >= 0.9


def test_the_old_corpus_is_caught_wherever_the_detectors_heard_or_read_the_violation(
        replayed: dict[str, Any], splits: dict[str, Any]) -> None:
    """Recall on the old corpus may only drop where Whisper or OCR lost the words (a detector
    change, scanned again), never because the rules let through a term they were given."""
    summary = splits["old"]["summary"]
    assert summary["all"]["precision"] == 1.0 and splits["old"]["false_alerts"]["enforce"] == 0
    assert summary["category:counterfeit"]["recall"] == summary["category:piracy"]["recall"] == 1.0
    rules = Stages.load(Config(), rules_only=True).rules
    for miss in (m for m in replayed["missed"] if m["split"] == "old"):
        assert miss["category"] == "false_claim"
        heard = [e["text"] for e in miss["evidence"]]
        assert heard and not [t for t in heard if explain(rules, t).fired], (miss["clip"], heard)


def test_the_tuning_brands_spoken_pitches_are_heard_for_their_brand(splits: dict[str, Any]) -> None:
    """Every name and nickname of gucci, chanel and prada in every spoken counterfeit sentence of
    the tuning pool (bench/spoken.py), as Whisper base heard them."""
    spoken = splits["spoken-tuning"]
    counterfeit = spoken["summary"]["category:counterfeit"]
    assert counterfeit["precision"] == 1.0 and counterfeit["recall"] >= 0.9
    assert spoken["false_alerts"]["enforce"] == 0 and spoken["brand_accuracy"]["accuracy"] == 1.0
    # Chanel's 香奶奶 (xiang nai nai) heard as 香奈来: one initial off, with the cue said with it
    # (looked for in the whole split: which clip it is in moves with each rescan)
    heard = next(e.text for clip in sorted((EVIDENCE / "spoken" / "spoken-tuning").glob("*.jsonl"))
                 for e in read_evidence(clip) if "香奈来" in e.text)
    exp = explain(Stages.load(Config(), rules_only=True).rules, heard, Modality.ASR)
    assert any("chanel" in m and "[near_homophone]" in m for m in exp.matches)
    assert [v.subjects for v in exp.fired if v.rule_id == "counterfeit.brand_with_cue"] == [("chanel",)]
