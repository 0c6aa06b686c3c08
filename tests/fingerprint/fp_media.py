"""Generated media for fingerprint tests and fixtures (imported by conftest.py): a protected "programme" and re-broadcasts of it.

The pictures and sounds are the piracy corpus's (livewatch/piracy_corpus.py); this module writes them
into test files and decodes them back.

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
from livewatch.piracy_corpus import (  # noqa: F401  (the corpus's generators are the tests' media)
    bullet_comments,
    colour_shift,
    host_camera,
    mix,
    music,
    programme_frame,
    voice,
)

FPS = 10
SIZE = (640, 360)


def write_video(path: Path, frames: Iterator[np.ndarray], size: tuple[int, int], fps: int = FPS, crf: int = 28,
                gop: int | None = None) -> Path:
    """H.264 at x264 quality ``crf`` (40 is a low-bitrate re-encode); ``gop``: frames between keyframes
    (a live server starts a new player at a keyframe, x264's default is 25 s apart at 10 fps)."""
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height = size
        if gop is not None:
            vs.codec_context.gop_size = gop
        vs.pix_fmt = "yuv420p"
        vs.codec_context.options = {"preset": "ultrafast", "crf": str(crf)}
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


def run_stream(index, path: Path, stream_id: str) -> list:
    """All the evidence a ``FingerprintIndex`` gives for a file played as a stream (then finished)."""
    evidence = []
    for frame in sampled(path, stream_id):
        evidence += index.process(frame)
    return evidence + index.finish(stream_id)


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


# --- where the copy sits: insets, split screens, overlays, re-encoding, speed (issue 13) ------------

def _pip_25(frame: np.ndarray, t: float) -> np.ndarray:
    """The programme in a quarter of the frame (25% of its area), flush with the bottom-right corner."""
    out = host_camera(t)
    out[360:720, 640:1280] = cv2.resize(frame, (640, 360))
    return out


def _pip_55_comments(frame: np.ndarray, t: float) -> np.ndarray:
    """A 55%-scale inset (30% of the area) over the host's camera, with bullet comments over it all."""
    out = host_camera(t)
    out[40:436, 540:1244] = cv2.resize(frame, (704, 396))
    return bullet_comments(out, t)


def _pip_35_captioned(frame: np.ndarray, t: float) -> np.ndarray:
    """A 35%-area inset in the bottom-left corner, its lower fifth under the caption bar, bullet comments
    over it all: the inset's lower edge is hidden, only its upper part shows where it ends."""
    out = host_camera(t)
    out[271:696, 24:781] = cv2.resize(frame, (757, 425))
    return bullet_comments(out, t)


def _split_screen(frame: np.ndarray, t: float) -> np.ndarray:
    """Left half: the programme stretched to fill it; right half: the host."""
    out = np.empty((720, 1280, 3), np.uint8)
    out[:, :640] = cv2.resize(frame, (640, 720))
    out[:, 640:] = cv2.resize(host_camera(t), (640, 720))
    return out


def _captions_regraded(frame: np.ndarray, t: float) -> np.ndarray:
    """Full frame, colour re-graded, captions and bullet comments burned in (and encoded at low bitrate)."""
    return bullet_comments(colour_shift(cv2.resize(frame, (1280, 720))), t)


def _host_only(frame: np.ndarray, t: float) -> np.ndarray:
    """A negative: the host's own camera with a static product card, no programme."""
    out = host_camera(t)
    cv2.rectangle(out, (860, 60), (1240, 300), (240, 240, 240), -1)
    cv2.putText(out, "NEW ARRIVAL", (890, 190), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 0, 200), 3)
    return out


# name -> (output size, transform, playback speed, x264 crf)
PLACEMENTS: dict[str, tuple[tuple[int, int], Callable[[np.ndarray, float], np.ndarray], float, int]] = {
    "pip_25": ((1280, 720), _pip_25, 1.0, 30),
    "pip_55_comments": ((1280, 720), _pip_55_comments, 1.0, 30),
    "pip_35_captioned": ((1280, 720), _pip_35_captioned, 1.0, 30),
    "split_screen": ((1280, 720), _split_screen, 1.0, 30),
    "captions_regraded_lowrate": ((1280, 720), _captions_regraded, 1.0, 40),
    "pip_55_fast": ((1280, 720), _pip_55_comments, 1.1, 30),
    "split_screen_slow": ((1280, 720), _split_screen, 0.9, 30),
}


@pytest.fixture(scope="session")
def placed(tmp_path_factory) -> Callable[[str], Path]:
    """Re-broadcast of programme 1 from its 5th second through one of PLACEMENTS, 12 s long; ``host_only``
    is the host's camera alone (a negative)."""
    root = tmp_path_factory.mktemp("fp_placed")
    made: dict[str, Path] = {}

    def make(name: str) -> Path:
        if name not in made:
            if name == "host_only":
                size, fn, speed, crf = (1280, 720), _host_only, 1.0, 30
            else:
                size, fn, speed, crf = PLACEMENTS[name]
            frames = (fn(programme_frame(5 + speed * i / FPS, 1), i / FPS) for i in range(12 * FPS))
            made[name] = write_video(root / f"{name}.mp4", frames, size, crf=crf)
        return made[name]

    return make


# --- sound: a protected show's soundtrack, a host's voice, a licensed background track --------------

RATE = 16000


def aac_roundtrip(samples: np.ndarray, bit_rate: int = 48000) -> np.ndarray:
    """Encode to AAC at ``bit_rate`` in an MP4 and decode back to 16 kHz mono (a low-bitrate re-encode)."""
    import io

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=RATE)
        stream.bit_rate, stream.layout = bit_rate, "mono"
        frame = av.AudioFrame.from_ndarray(samples[None, :].astype(np.float32), format="fltp", layout="mono")
        frame.sample_rate = RATE
        for packet in stream.encode(frame):
            out.mux(packet)
        out.mux(stream.encode(None))
    buf.seek(0)
    with av.open(buf) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
        parts = [f.to_ndarray().reshape(-1) for fr in container.decode(audio=0) for f in resampler.resample(fr)]
    return np.concatenate(parts)


def audio_chunks(samples: np.ndarray, stream_id: str, chunk_s: float = 0.5) -> list:
    """Split into ingest's 0.5 s chunks (16 kHz mono float32), media time from 0."""
    from events import AudioChunk

    n = int(chunk_s * RATE)
    return [AudioChunk(stream_id, i / RATE, (i + len(samples[i : i + n])) / RATE, 0.0, samples[i : i + n])
            for i in range(0, len(samples), n)]


SHOW_SECONDS = 24


def show_soundtrack() -> tuple[np.ndarray, np.ndarray]:
    """(the protected show's sound: a presenter over a licensed backing track, that backing track alone)."""
    track = music(SHOW_SECONDS, 1)
    return mix((voice(SHOW_SECONDS, 10), 1.0), (track, 0.5)), track


@pytest.fixture(scope="session")
def protected_with_sound(tmp_path_factory) -> Path:
    """Programme 1's pictures with the show soundtrack (AAC 128 kb/s), 24 s."""
    path = tmp_path_factory.mktemp("fp_sound") / "show.mp4"
    sound, _ = show_soundtrack()
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=FPS)
        vs.width, vs.height = SIZE
        vs.pix_fmt = "yuv420p"
        vs.codec_context.options = {"preset": "ultrafast", "crf": "28"}
        aus = out.add_stream("aac", rate=RATE)
        aus.bit_rate, aus.layout = 128000, "mono"
        for i in range(SHOW_SECONDS * FPS):
            frame = av.VideoFrame.from_ndarray(programme_frame(i / FPS, 1), format="bgr24")
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            out.mux(vs.encode(frame))
        af = av.AudioFrame.from_ndarray(sound[None, :], format="fltp", layout="mono")
        af.sample_rate, af.pts, af.time_base = RATE, 0, Fraction(1, RATE)
        for packet in aus.encode(af):
            out.mux(packet)
        out.mux(vs.encode(None))
        out.mux(aus.encode(None))
    return path
