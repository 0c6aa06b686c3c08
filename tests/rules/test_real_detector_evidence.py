"""The bundled rules on what the real detectors made of the tuning broadcasts and the old corpus.

bench/evidence holds PaddleOCR, logo matching and Whisper base output (TTS speech, rendered
cards, a moving host) for every clip, scanned once per detector change. Replaying it keeps
the real artefacts in the tests: misread prices, pieces of one sentence, everyday words heard
as brand names. The held-out broadcasts are scored by ``make eval`` only: a test on them would
make them something the rules are tuned on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.broadcasts import TRAP_CLASSES
from livewatch.config import Config
from livewatch.service import run_replay_eval

EVIDENCE = Path(__file__).resolve().parents[2] / "bench" / "evidence"


@pytest.fixture(scope="module")
def splits() -> dict[str, Any]:
    result = run_replay_eval(Config(), [EVIDENCE / "broadcasts", EVIDENCE / "corpus"], baseline_dir=None)
    rules: dict[str, Any] = result["results"]["rules"]  # type: ignore[index]
    return rules["splits"]


def test_every_trap_class_is_on_the_tuning_broadcasts_and_none_raises_an_enforce_alert(splits: dict[str, Any]) -> None:
    traps = splits["tuning"]["traps"]
    assert set(TRAP_CLASSES) <= set(traps)
    tripped = {cls: t["tripped"] for cls, t in traps.items() if t["tripped"]}
    assert tripped == {}
    assert splits["tuning"]["false_alerts"]["enforce"] == 0


def test_violations_on_the_tuning_broadcasts_are_found(splits: dict[str, Any]) -> None:
    summary = splits["tuning"]["summary"]
    assert summary["category:counterfeit"]["recall"] >= 0.9
    assert summary["category:false_claim"]["recall"] == 1.0
    assert summary["all"]["precision"] == 1.0


def test_the_old_corpus_is_still_caught_whole(splits: dict[str, Any]) -> None:
    summary = splits["old"]["summary"]
    assert summary["all"]["recall"] == 1.0 and summary["all"]["precision"] == 1.0
    assert splits["old"]["false_alerts"]["enforce"] == 0
