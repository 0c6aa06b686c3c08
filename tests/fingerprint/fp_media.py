"""Generated media for fingerprint tests and fixtures (imported by conftest.py): a protected "programme" and re-broadcasts of it.

The programme is procedural: a new scene every 2 s (gradient, shapes, a title
line), with an object moving inside each scene, so neighbouring seconds
differ and the time offset between a re-broadcast and the original is
observable. Re-broadcasts are real H.264 files (PyAV), decoded back at one
sampled frame per second as the live pipeline would see them.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

import av
import cv2
import numpy as np
import pytest

from events import SampledFrame, VideoFrame

FPS = 10
SIZE = (640, 360)


def programme_frame(t: float, seed: int, size: tuple[int, int] = SIZE) -> np.ndarray:
    """Frame at time ``t`` of programme ``seed`` (BGR)."""
    w, h = size
    scene = int(t // 2)
    rng = np.random.default_rng(seed * 10_000 + scene)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    a, b, c = rng.uniform(20, 120, size=3)
    img = np.stack([120 + 100 * np.sin(xx / a + rng.uniform(0, 6)), 120 + 100 * np.cos(yy / b + rng.uniform(0, 6)),
                    120 + 90 * np.sin((xx - yy) / c)], -1)
    img = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(8):
        x0, y0 = int(rng.integers(0, w - 60)), int(rng.integers(0, h - 60))
        colour = tuple(int(v) for v in rng.integers(0, 255, 3))
        if rng.random() < 0.5:
            cv2.rectangle(img, (x0, y0), (x0 + int(rng.integers(30, w // 3)), y0 + int(rng.integers(30, h // 3))), colour, -1)
        else:
            cv2.circle(img, (x0, y0), int(rng.integers(15, h // 4)), colour, -1)
    cv2.putText(img, f"EP{seed} S{scene}", (20, h - 30), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (255, 255, 255), 3)
    phase = t - 2 * scene
    cx, cy = int(w * (0.2 + 0.3 * phase)), int(h * (0.3 + 0.1 * np.sin(3 * phase)))
    cv2.circle(img, (cx, cy), h // 10, (30, 220, 250), -1)
    return img


def write_video(path: Path, frames: Iterator[np.ndarray], size: tuple[int, int], fps: int = FPS) -> Path:
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height = size
        vs.pix_fmt = "yuv420p"
        vs.codec_context.options = {"preset": "ultrafast", "crf": "28"}
        for i, bgr in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(bgr), format="bgr24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
    return path


def sampled(path: Path, stream_id: str, interval_s: float = 1.0, start_s: float = 0.3) -> list[SampledFrame]:
    """Decode a file back, one frame per ``interval_s`` from ``start_s`` (off the original's grid)."""
    out = []
    next_t = start_s
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if frame.time is None or frame.time + 1e-6 < next_t:
                continue
            next_t += interval_s
            vf = VideoFrame(stream_id, len(out), float(frame.time), 0.0, frame.to_ndarray(format="bgr24"))
            out.append(SampledFrame(vf, phash=0))
    return out


def streamer_layout(size: tuple[int, int], seed: int = 3) -> np.ndarray:
    """A busy static backdrop a streamer puts around a lifted picture."""
    w, h = size
    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), 40, np.uint8)
    for _ in range(40):
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        cv2.rectangle(img, (x0, y0), (x0 + int(rng.integers(10, 120)), y0 + int(rng.integers(10, 80))),
                      tuple(int(v) for v in rng.integers(0, 255, 3)), -1)
    cv2.putText(img, "LIVE 8888", (20, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (0, 0, 255), 2)
    return img


def facecam(t: float, size: tuple[int, int]) -> np.ndarray:
    w, h = size
    img = np.full((h, w, 3), (90, 120, 160), np.uint8)
    cv2.circle(img, (w // 2, h // 2 + int(5 * np.sin(t * 4))), min(w, h) // 3, (150, 180, 220), -1)
    return img


# (name, output size, transform(frame, t) -> frame)
def _letterbox(frame: np.ndarray, t: float) -> np.ndarray:
    out = np.zeros((720, 1280, 3), np.uint8)
    pic = cv2.resize(frame, (960, 540))
    out[90:630, 160:1120] = pic
    return out


def _picture_in_layout(frame: np.ndarray, t: float) -> np.ndarray:
    out = streamer_layout((1280, 720)).copy()
    out[120:480, 380:1020] = frame  # 640x360 picture: scaled to 1/2 of the 1280 layout
    out[520:700, 40:300] = facecam(t, (260, 180))
    return out


def _mirrored_cropped(frame: np.ndarray, t: float) -> np.ndarray:
    h, w = frame.shape[:2]
    crop = frame[int(h * 0.06) : int(h * 0.94), int(w * 0.06) : int(w * 0.94)]
    return cv2.resize(crop[:, ::-1], (854, 480))


def _pip_overlay(frame: np.ndarray, t: float) -> np.ndarray:
    out = cv2.resize(frame, (1280, 720))
    out[440:700, 900:1250] = facecam(t, (350, 260))
    return out


TRANSFORMS: dict[str, tuple[tuple[int, int], Callable[[np.ndarray, float], np.ndarray]]] = {
    "letterbox": ((1280, 720), _letterbox),
    "picture": ((1280, 720), _picture_in_layout),
    "mirrored_cropped": ((854, 480), _mirrored_cropped),
    "pip_overlay": ((1280, 720), _pip_overlay),
}


@pytest.fixture(scope="session")
def protected_clip(tmp_path_factory) -> Path:
    """20 s of programme 1 at 10 fps, 640x360."""
    path = tmp_path_factory.mktemp("fp") / "protected.mp4"
    return write_video(path, (programme_frame(i / FPS, 1) for i in range(20 * FPS)), SIZE)


@pytest.fixture(scope="session")
def rebroadcast(tmp_path_factory) -> Callable[[str], Path]:
    """Re-broadcast of programme 1 from its 5th second, through one of TRANSFORMS, 10 s long."""
    root = tmp_path_factory.mktemp("fp_re")
    made: dict[str, Path] = {}

    def make(name: str) -> Path:
        if name not in made:
            size, fn = TRANSFORMS[name]
            frames = (fn(programme_frame(5 + i / FPS, 1), i / FPS) for i in range(10 * FPS))
            made[name] = write_video(root / f"{name}.mp4", frames, size)
        return made[name]

    return make


@pytest.fixture(scope="session")
def unrelated_clip(tmp_path_factory) -> Path:
    """Another programme made the same way (a hard negative), shown in the same streamer layout."""
    path = tmp_path_factory.mktemp("fp_un") / "unrelated.mp4"
    frames = (_picture_in_layout(programme_frame(i / FPS, 2), i / FPS) for i in range(10 * FPS))
    return write_video(path, frames, (1280, 720))
