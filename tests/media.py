"""Generated test media: live-commerce-like clips, files without audio, files that are not video.

Tests make their media at test time (nothing binary is committed, and no
network is needed). Clips are H.264 (+ AAC) with a fixed keyframe spacing
(``gop_s``) and no scene-cut keyframes, so tests and benches can reason about
what the sampler is allowed to skip.

    from tests.media import make_clip
    clip = make_clip(tmp_path / "demo.mp4", 6, text_cards=[(1, 4, "正品保证 假一赔十")])

Text is drawn with Noto Sans CJK SC (Debian's fonts-noto-cjk) over a busy,
mostly static background; a small box moves in one corner (like a "LIVE"
badge), so consecutive frames are near-duplicates but never byte-identical.
"""

from __future__ import annotations

import wave
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Sequence

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_PATH = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
FONT_INDEX_SC = 2  # index inside the .ttc: 0 JP, 1 KR, 2 SC, 3 TC, 4 HK
AUDIO_RATE = 44100

# (start_s, end_s, text) or (start_s, end_s, text, (x, y)) with x, y in pixels.
TextCard = tuple


def font(size: int = 48) -> ImageFont.FreeTypeFont:
    """The CJK font the clips use (simplified Chinese glyphs)."""
    return ImageFont.truetype(FONT_PATH, size, index=FONT_INDEX_SC)


def busy_background(size: tuple[int, int] = (1280, 720), seed: int = 7) -> np.ndarray:
    """A deterministic cluttered RGB scene: gradient, coloured blocks, stripes, noise."""
    w, h = size
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([90 + 60 * np.sin(xx / 97.0), 80 + 50 * np.cos(yy / 71.0), 120 + 40 * np.sin((xx + yy) / 53.0)], -1)
    for _ in range(25):
        x0, y0 = int(rng.integers(0, w - 40)), int(rng.integers(0, h - 40))
        bw, bh = int(rng.integers(30, w // 5)), int(rng.integers(30, h // 5))
        img[y0 : y0 + bh, x0 : x0 + bw] = rng.integers(20, 235, size=3)
    img[:, ::16] *= 0.8
    img += rng.normal(0, 6, size=img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def render_card(text: str, size: tuple[int, int], position: tuple[int, int] | None = None, font_px: int = 0) -> Image.Image:
    """An RGBA overlay with ``text`` on a dark banner (multi-line text with ``\\n``)."""
    w, h = size
    overlay = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    f = font(font_px or max(16, h // 15))
    left, top, right, bottom = draw.multiline_textbbox((0, 0), text, font=f, spacing=8)
    tw, th = right - left, bottom - top
    x, y = position if position is not None else ((w - tw) // 2, h - th - h // 8)
    pad = max(6, h // 60)
    draw.rectangle((x - pad, y - pad, x + tw + pad, y + th + pad + top), fill=(10, 10, 10, 200))
    draw.multiline_text((x - left, y), text, font=f, fill=(255, 240, 60, 255), spacing=8)
    return overlay


def _frames(
    seconds: float, fps: int, size: tuple[int, int], cards: Sequence[TextCard], motion: bool, pan_px_s: float = 0.0
) -> Iterable[np.ndarray]:
    """RGB frames: background + the cards active at each frame's time (+ a moving badge, + a camera pan)."""
    base = Image.fromarray(busy_background(size))
    overlays = [render_card(c[2], size, c[3] if len(c) > 3 else None) for c in cards]
    cache: dict[tuple[int, ...], np.ndarray] = {}
    w, h = size
    badge = max(8, h // 24)
    for i in range(int(round(seconds * fps))):
        t = i / fps
        active = tuple(k for k, c in enumerate(cards) if c[0] <= t < c[1])
        if active not in cache:
            img = base.copy()
            for k in active:
                img.paste(overlays[k], (0, 0), overlays[k])
            cache[active] = np.asarray(img.convert("RGB"))
        frame = cache[active]
        if pan_px_s:
            frame = np.roll(frame, int(t * pan_px_s) % w, axis=1)
        if motion:
            frame = frame.copy()
            x = int((w - 4 * badge) + badge * (1 + np.sin(t * 2.0)))
            frame[badge : 2 * badge, x : x + badge] = (220, 30, 30)
        yield frame


def _audio_source(seconds: float, with_audio: bool, audio_wav: str | Path | None, tone_hz: float) -> np.ndarray | None:
    """Mono float32 at AUDIO_RATE, exactly ``seconds`` long (wav padded or trimmed)."""
    if not with_audio and audio_wav is None:
        return None
    n = int(round(seconds * AUDIO_RATE))
    if audio_wav is None:
        t = np.arange(n, dtype=np.float32) / AUDIO_RATE
        return (0.2 * np.sin(2 * np.pi * tone_hz * t)).astype(np.float32)
    pcm = read_audio(audio_wav, AUDIO_RATE)
    out = np.zeros(n, dtype=np.float32)
    out[: min(n, pcm.size)] = pcm[:n]
    return out


def read_audio(path: str | Path, rate: int = 16000) -> np.ndarray:
    """Decode any audio file (or a video's audio track) to mono float32 at ``rate``."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
    parts: list[np.ndarray] = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                parts.append(out.to_ndarray().reshape(-1))
    for out in resampler.resample(None):
        parts.append(out.to_ndarray().reshape(-1))
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)


def write_wav(path: str | Path, samples: np.ndarray, rate: int = 16000) -> Path:
    """Write mono float32 samples in [-1, 1] as 16-bit PCM WAV."""
    path = Path(path)
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as wf:
        wf.setnchannels(1)
        wf.setsampwidth(2)
        wf.setframerate(rate)
        wf.writeframes(pcm.tobytes())
    return path


def make_clip(
    path: str | Path,
    seconds: float,
    text_cards: Sequence[TextCard] = (),
    with_audio: bool = True,
    audio_wav: str | Path | None = None,
    gop_s: float = 1.0,
    size: tuple[int, int] = (1280, 720),
    fps: int = 25,
    tone_hz: float = 440.0,
    motion: bool = True,
    preset: str = "ultrafast",
    pan_px_s: float = 0.0,
) -> Path:
    """Write an H.264 (+AAC) clip; the container follows the suffix (.mp4, .flv, .mkv, .ts).

    ``text_cards`` are shown over [start, end) seconds. Audio is ``audio_wav``
    (any format PyAV reads, padded/trimmed to the clip) or else a quiet tone;
    ``with_audio=False`` and no wav gives a video-only file. Keyframes fall
    exactly every ``gop_s`` seconds (no scene-cut keyframes, no B-frames).
    ``pan_px_s`` scrolls the whole picture sideways (a moving camera), which
    makes inter frames as costly to decode as in a real broadcast.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    gop = max(1, int(round(gop_s * fps)))
    audio = _audio_source(seconds, with_audio, audio_wav, tone_hz)
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height = size
        vs.pix_fmt = "yuv420p"
        vs.codec_context.options = {
            "preset": preset,
            "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0",
        }
        as_ = None
        if audio is not None:
            as_ = out.add_stream("aac", rate=AUDIO_RATE)
            as_.layout = "mono"
        a_pos = 0
        for i, rgb in enumerate(_frames(seconds, fps, size, text_cards, motion, pan_px_s)):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            out.mux(vs.encode(frame))
            if as_ is not None:
                a_pos = _mux_audio(out, as_, audio, a_pos, int((i + 1) / fps * AUDIO_RATE))
        out.mux(vs.encode(None))
        if as_ is not None:
            _mux_audio(out, as_, audio, a_pos, audio.size)
            out.mux(as_.encode(None))
    return path


def _mux_audio(out: av.container.OutputContainer, stream, audio: np.ndarray, start: int, stop: int) -> int:
    """Encode audio samples [start, stop) in 1024-sample frames; returns the new position."""
    while start < min(stop, audio.size):
        chunk = audio[start : start + 1024]
        frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = start
        frame.time_base = Fraction(1, AUDIO_RATE)
        out.mux(stream.encode(frame))
        start += chunk.size
    return start


def make_video_without_audio(path: str | Path, seconds: float = 3.0, **kwargs) -> Path:
    """A clip with a video track only (for "speech not covered" warnings)."""
    return make_clip(path, seconds, with_audio=False, **kwargs)


def make_audio_only(path: str | Path, seconds: float = 2.0, tone_hz: float = 440.0) -> Path:
    """A media file with an audio track and no video (a source without video must be refused)."""
    path = Path(path)
    audio = _audio_source(seconds, True, None, tone_hz)
    with av.open(str(path), "w") as out:
        st = out.add_stream("aac", rate=AUDIO_RATE)
        st.layout = "mono"
        _mux_audio(out, st, audio, 0, audio.size)
        out.mux(st.encode(None))
    return path


def make_not_video(path: str | Path) -> Path:
    """A file with a video-like name whose bytes are not media at all."""
    path = Path(path)
    path.write_bytes(b"This is a shopping list, not a video.\n" * 50)
    return path
