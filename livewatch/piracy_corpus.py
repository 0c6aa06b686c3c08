"""The piracy corpus: re-broadcasts of protected shows, and streams that only look or sound like one.

``python -m livewatch.piracy_corpus OUT_DIR`` renders, for each split (``piracy-tuning``,
``piracy-heldout``), its protected shows into ``OUT_DIR/protected/`` (one library for both
splits: every clip is matched against every show) and its clips into ``OUT_DIR/<split>/``,
and writes ``OUT_DIR/labels.json`` in the evidence-corpus form (``bench/evidence_corpus.py``):

    {"clips": [{"file": "piracy-tuning/p01_pip25.mp4", "split": "piracy-tuning", "seconds": 20.0,
                "labels": [{"category": "piracy", "content": "show-1", "start": 0.0, "end": 20.0,
                            "modalities": ["fingerprint"], "senses": ["video", "audio"]}],
                "traps": [], "how": "..."}]}

A protected show is a procedural programme (a new scene every 2 s, an object moving in it) with
its own sound: a presenter's voice over a backing track; or a football match (a commentator over
the crowd), every match played on the same pitch, so another match is a look-alike. The backing track is licensed music,
not protected: a host talking over it, or the track alone, is a negative. Positives lift a show
in a picture-in-picture at 25-55% of the frame area, a split screen, a crop, a mirror image, a
colour re-grade, a low-bitrate re-encode, under captions and bullet comments, at +-10% speed,
or only its sound under unrelated pictures. Negatives: unrelated programmes made the same way
(full frame, in a PiP, split screen), another match, music-only streams, the host's voice over the licensed
track, shop clips. The splits use distinct shows, unrelated programmes, voices and music (their
own seeds), corners and offsets, so thresholds tuned on one are measured on the other.

Everything is deterministic by seed and rendered with :func:`livewatch.synth.render_clip`.
The picture and sound generators here are also the fingerprint tests' media
(tests/fingerprint/fp_media.py).
"""

from __future__ import annotations

import functools
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

from livewatch.synth import AUDIO_RATE, SIZE, ClipSpec, Scene, render_clip, scene_frames

FPS = 5  # the 1 frame/s sampler sees the same pictures as at 25 fps; rendering is 5x cheaper
CLIP_S = 20.0
SHOW_S = 60.0
PROGRAMME_SIZE = (640, 360)
RATE = AUDIO_RATE
SPLITS = ("piracy-tuning", "piracy-heldout")


# --- pictures -------------------------------------------------------------------------------------

def programme_frame(t: float, seed: int, size: tuple[int, int] = PROGRAMME_SIZE) -> np.ndarray:
    """Frame at time ``t`` of programme ``seed``: a new scene every 2 s (gradient, shapes, a title
    line) with an object moving inside it, so neighbouring seconds differ (3 channels, 8 bit)."""
    w, h = size
    scene = int(t // 2)
    img = _programme_scene(seed, scene, size).copy()
    phase = t - 2 * scene
    cx, cy = int(w * (0.2 + 0.3 * phase)), int(h * (0.3 + 0.1 * np.sin(3 * phase)))
    cv2.circle(img, (cx, cy), h // 10, (30, 220, 250), -1)
    return img


@functools.lru_cache(maxsize=32)
def _programme_scene(seed: int, scene: int, size: tuple[int, int]) -> np.ndarray:
    """The still part of a scene, drawn once for all its frames."""
    w, h = size
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
    img.flags.writeable = False  # shared by the scene's frames
    return img


def match_frame(t: float, seed: int, size: tuple[int, int] = PROGRAMME_SIZE) -> np.ndarray:
    """Frame at time ``t`` of football match ``seed``: every match is played on the same pitch (stripes,
    lines, stands) under a panning camera, with a wide shot and a close shot in turn every 5 s. Only the
    teams' colours, the players' runs, the grass shade and the score bug differ: another match is the
    look-alike a sports re-broadcast detector must not confuse with the protected one."""
    w, h = size
    rng = np.random.default_rng(seed)
    home, away = (tuple(int(v) for v in rng.integers(0, 256, 3)) for _ in range(2))
    phases = rng.uniform(0, 2 * np.pi, (22, 4))
    speeds = rng.uniform(0.15, 0.6, (22, 2))
    pan = 0.5 + 0.35 * np.sin(0.23 * t + phases[0, 0])  # where the camera looks along the pitch (0..1)
    pitch = _pitch(int(rng.integers(0, 3)), (w, h))
    players = []
    for k in range(22):
        bx = (k % 11) / 10 * 0.8 + 0.1 + 0.08 * np.sin(speeds[k, 0] * t + phases[k, 0])
        by = 0.25 + 0.65 * ((k * 7) % 11) / 10 + 0.05 * np.sin(speeds[k, 1] * t + phases[k, 1])
        players.append((bx, min(0.95, by), home if k < 11 else away))
    ball = (0.5 + 0.3 * np.sin(0.4 * t + phases[1, 2]), 0.55 + 0.25 * np.sin(0.7 * t + phases[1, 3]))
    close = int(t // 5) % 2 == 1
    vw, vh = (w // 2, h // 2) if close else (w, h)  # the view: half the pitch wide, or a quarter of that, zoomed
    x0 = int(np.clip(pan * 2 * w - vw / 2, 0, 2 * w - vw))
    y0 = int(np.clip(ball[1] * h - vh / 2, 0, h - vh)) if close else 0
    canvas = pitch.copy()
    for px, py, colour in players:
        cx, cy = int(px * 2 * w), int(py * h)
        cv2.ellipse(canvas, (cx, cy), (5, 11), 0, 0, 360, colour, -1)
        cv2.circle(canvas, (cx, cy - 13), 4, (190, 160, 140), -1)
    cv2.circle(canvas, (int(ball[0] * 2 * w), int(ball[1] * h)), 4, (250, 250, 250), -1)
    img = cv2.resize(canvas[y0 : y0 + vh, x0 : x0 + vw], (w, h))
    minute = 12 + int(t // 60)
    cv2.rectangle(img, (16, 14), (250, 46), (30, 30, 30), -1)
    cv2.putText(img, f"M{seed:02d} {int(rng.integers(0, 4))}-{int(rng.integers(0, 4))}  {minute:02d}:{int(t) % 60:02d}",
                (24, 38), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2)
    return img


@functools.lru_cache(maxsize=4)
def _pitch(shade: int, size: tuple[int, int]) -> np.ndarray:
    """The pitch every match is played on, twice the frame wide: mown stripes, lines, stands above."""
    w, h = size
    img = np.zeros((h, 2 * w, 3), np.uint8)
    greens = ((40, 140, 50), (50, 155, 60), (35, 125, 45))
    for i, x in enumerate(range(0, 2 * w, 64)):
        img[:, x : x + 64] = greens[(shade + i % 2) % 3]
    rng = np.random.default_rng(99)  # the stands: the same crowd texture in every match
    img[: h // 6] = rng.integers(20, 120, (h // 6, 2 * w, 3), dtype=np.uint8)
    white = (235, 235, 235)
    cv2.rectangle(img, (20, h // 6 + 10), (2 * w - 20, h - 10), white, 2)
    cv2.line(img, (w, h // 6 + 10), (w, h - 10), white, 2)
    cv2.circle(img, (w, (h // 6 + h) // 2), h // 6, white, 2)
    for x in (20, 2 * w - 180):
        cv2.rectangle(img, (x, h // 3), (x + 160, h - h // 6), white, 2)
    img.flags.writeable = False
    return img


def host_camera(t: float, size: tuple[int, int] = SIZE) -> np.ndarray:
    """The streamer's own camera: a room, a person who moves and talks, a product on the desk."""
    w, h = size
    img = np.zeros((h, w, 3), np.uint8)
    img[:] = (70, 95, 120)
    cv2.rectangle(img, (0, int(h * 0.7)), (w, h), (40, 60, 90), -1)  # desk
    cv2.rectangle(img, (int(w * 0.08), int(h * 0.1)), (int(w * 0.3), int(h * 0.45)), (160, 150, 140), -1)  # shelf
    cx = int(w * (0.5 + 0.04 * np.sin(t * 0.9)))
    cy = int(h * 0.42 + 6 * np.sin(t * 3.1))
    cv2.ellipse(img, (cx, int(h * 0.95)), (int(w * 0.2), int(h * 0.35)), 0, 180, 360, (60, 40, 150), -1)  # body
    cv2.circle(img, (cx, cy), int(h * 0.14), (150, 180, 220), -1)  # head
    cv2.ellipse(img, (cx, cy + int(h * 0.06)), (30, 8 + int(8 * abs(np.sin(t * 7)))), 0, 0, 360, (60, 60, 150), -1)
    cv2.rectangle(img, (int(w * 0.65), int(h * 0.55)), (int(w * 0.8), int(h * 0.72)), (30, 160, 200), -1)  # product
    return img


_COMMENTS = ("666666", "zhubo hao mei", "which episode", "so good", "link pls", "hahahaha", "high energy ahead", "thanks up")


def bullet_comments(img: np.ndarray, t: float, rows: int = 5) -> np.ndarray:
    """Scrolling viewer comments across the picture (弹幕) and a burned-in caption bar."""
    h, w = img.shape[:2]
    out = img.copy()
    for i in range(rows):
        x = int(w - ((t * 180 + i * 260) % (w + 400)))
        y = int(h * (0.12 + 0.13 * i))
        text = f"{_COMMENTS[i % len(_COMMENTS)]} {i} 666 LOL"
        cv2.putText(out, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 1.1, (0, 0, 0), 5)
        cv2.putText(out, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 1.1, (255, 255, 255), 2)
    cv2.rectangle(out, (0, int(h * 0.86)), (w, h), (20, 20, 20), -1)
    cv2.putText(out, f"SUBTITLE LINE {int(t // 2)}: buy now, link below", (30, int(h * 0.95)),
                cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2)
    return out


def colour_shift(img: np.ndarray) -> np.ndarray:
    """A re-grade: hue turned 8 degrees, saturation cut, brightness and contrast changed.

    (A luma hash moves ~10-16 bits under a 24-degree hue rotation: beyond what it tolerates.)"""
    hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV).astype(np.int16)
    hsv[..., 0] = (hsv[..., 0] + 4) % 180
    hsv[..., 1] = hsv[..., 1] * 8 // 10
    out = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2BGR)
    return cv2.convertScaleAbs(out, alpha=0.85, beta=25)


# --- sound ----------------------------------------------------------------------------------------

def voice(seconds: float, seed: int, f0: float = 140.0) -> np.ndarray:
    """Speech-like sound: voiced syllables (harmonics of a moving pitch through three formants),
    consonant noise bursts, pauses. ``seed`` picks the words, ``f0`` the speaker."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * RATE), np.float32)
    t = 0.0
    while t < seconds - 0.3:
        dur = rng.uniform(0.12, 0.3)
        n, i0 = int(dur * RATE), int(t * RATE)
        tt = np.arange(n) / RATE
        pitch = f0 * rng.uniform(0.8, 1.3) * (1 + 0.15 * np.sin(2 * np.pi * rng.uniform(1, 4) * tt))
        phase = 2 * np.pi * np.cumsum(pitch) / RATE
        formants = rng.uniform([300, 900, 2200], [900, 2200, 3300])
        syllable = np.zeros(n)
        for k in range(1, 30):
            fk = pitch * k
            syllable += (sum(np.exp(-((fk - f) / 120.0) ** 2) for f in formants) + 0.02) * np.sin(k * phase) * (fk < 7000)
        if rng.random() < 0.4:
            b = int(0.04 * RATE)
            syllable[:b] += rng.normal(0, 0.6, b) * np.hanning(b)
        envelope = np.minimum(1, np.minimum(tt / 0.02, (dur - tt) / 0.04))
        out[i0 : i0 + n] += (syllable * envelope).astype(np.float32)
        t += dur + (rng.uniform(0.02, 0.08) if rng.random() < 0.8 else rng.uniform(0.2, 0.5))
    return (out * np.float32(0.6 / (float(np.abs(out).max()) + 1e-9))).astype(np.float32)


def music(seconds: float, seed: int) -> np.ndarray:
    """A backing track: three-note chords with harmonics on a beat, a noise hit on each beat."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * RATE), np.float32)
    beat = 60 / rng.uniform(90, 130)
    scale = 220 * 2 ** (np.array([0, 2, 4, 5, 7, 9, 11, 12, 14, 16]) / 12)
    t = 0.0
    while t < seconds:
        i0 = int(t * RATE)
        tt = np.arange(min(int(beat * RATE), len(out) - i0)) / RATE
        notes = rng.choice(scale, 3, replace=False) * rng.choice([0.5, 1, 2])
        tone = sum(np.sin(2 * np.pi * f * tt) + 0.4 * np.sin(4 * np.pi * f * tt) + 0.2 * np.sin(6 * np.pi * f * tt) for f in notes)
        out[i0 : i0 + len(tt)] += (tone * np.exp(-tt * 3)).astype(np.float32)
        d = min(int(0.03 * RATE), len(tt))
        out[i0 : i0 + d] += rng.normal(0, 0.5, d).astype(np.float32)
        t += beat
    return (out * np.float32(0.6 / (float(np.abs(out).max()) + 1e-9))).astype(np.float32)


def mix(*parts: tuple[np.ndarray, float]) -> np.ndarray:
    """Sum of (samples, gain), cut to the shortest, scaled down only if it would clip."""
    n = min(len(p) for p, _ in parts)
    out = np.zeros(n, np.float64)
    for p, gain in parts:
        out += p[:n] * gain
    return (out / max(1.0, float(np.abs(out).max()))).astype(np.float32)


def retimed(samples: np.ndarray, speed: float, seconds: float) -> np.ndarray:
    """``seconds`` of ``samples`` played ``speed`` times as fast (pitch follows, as a sped-up video's)."""
    at = np.arange(int(seconds * RATE)) * speed
    out: np.ndarray = np.interp(at, np.arange(len(samples)), samples).astype(np.float32)
    return out


@functools.lru_cache(maxsize=16)
def _show_sound(seed: int, seconds: float) -> np.ndarray:
    """Computed once per show and corpus run (every copy of a show cuts its piece from it)."""
    return mix((voice(seconds, 200 + seed, 110 + 7 * (seed % 9)), 1.0), (music(seconds, 100 + seed), 0.5))


def crowd(seconds: float, seed: int) -> np.ndarray:
    """A stadium: low-passed noise that swells and falls (chants, a near miss) every few seconds."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    noise = rng.standard_normal(n)
    kernel = np.hanning(24) / np.hanning(24).sum()
    roar = np.convolve(noise, kernel, mode="same")
    swell = np.interp(np.arange(n), np.linspace(0, n, int(seconds / 1.5) + 2), rng.uniform(0.3, 1.0, int(seconds / 1.5) + 2))
    out: np.ndarray = roar * swell
    return (out * np.float32(0.5 / (float(np.abs(out).max()) + 1e-9))).astype(np.float32)


@functools.lru_cache(maxsize=8)
def _match_sound(seed: int, seconds: float) -> np.ndarray:
    """The commentator (talking about two thirds of the time) over the crowd."""
    talk = voice(seconds, 300 + seed, 100 + 9 * (seed % 7))
    n = len(talk)
    gate = np.repeat(np.random.default_rng(seed).random(int(seconds / 3) + 1) < 0.67, 3 * RATE)[:n]
    return mix((talk * gate, 1.0), (crowd(seconds, 400 + seed), 0.6))


# --- what a clip shows and plays -------------------------------------------------------------------

@dataclass(frozen=True)
class Show:
    """A programme (pictures) and its sound; ``protected`` ones are in the library as ``show-<seed>``."""

    seed: int
    protected: bool
    kind: str = "programme"  # or "match": a football match (crowd and a commentator for sound)

    @property
    def content_id(self) -> str:
        return f"show-{self.seed}"

    def frame(self, t: float) -> np.ndarray:
        return match_frame(t, self.seed) if self.kind == "match" else programme_frame(t, self.seed)

    def sound(self, seconds: float = SHOW_S) -> np.ndarray:
        """A presenter over the show's backing track (the track is licensed music: :meth:`track`);
        a match's commentator over its crowd."""
        return _match_sound(self.seed, seconds) if self.kind == "match" else _show_sound(self.seed, seconds)

    def track(self, seconds: float = SHOW_S) -> np.ndarray:
        return music(seconds, 100 + self.seed)


@dataclass(frozen=True)
class Picture:
    """Where a programme sits in the frame and what was done to it.

    ``how``: ``full`` (the frame), ``pip`` (an inset of ``area`` of the frame in ``corner``),
    ``split`` (one half of the frame, ``side``; ``fit`` keeps the aspect ratio), ``crop`` (the
    centre ``zoom`` of the picture blown up), ``border`` (scaled by ``zoom`` on a plain frame).
    Around it (``backdrop``): the host's camera or a shop scene."""

    how: str = "full"
    area: float = 1.0
    corner: str = "br"
    side: str = "left"
    fit: bool = False
    zoom: float = 1.0
    mirror: bool = False
    colour: bool = False
    overlay: bool = False
    backdrop: str = "host"


@dataclass(frozen=True)
class PiracyClip:
    """One clip: a programme (or none) placed in the frame, and its sound.

    ``sound``: ``show`` (the shown programme's own sound), ``copy`` (``audio_show``'s sound under
    pictures of something else), ``host`` (the host's voice), ``host_track`` (the host's voice over
    ``audio_show``'s licensed backing track), ``track`` (that track alone), ``music`` (unrelated
    music), ``room`` (room tone)."""

    name: str
    how: str
    show: Show | None = None
    picture: Picture = Picture()
    start: float = 10.0        # content time of the programme at the clip's start
    speed: float = 1.0
    sound: str = "show"
    audio_show: Show | None = None
    voice_seed: int = 0
    crf: int = 26
    audio_bit_rate: int | None = None
    trap: str | None = None     # negatives: the trap class they stand for

    @property
    def protected(self) -> Show | None:
        """The protected show this clip re-broadcasts (pictures or sound), if any."""
        if self.show is not None and self.show.protected:
            return self.show
        if self.sound == "copy" and self.audio_show is not None and self.audio_show.protected:
            return self.audio_show
        return None

    @property
    def senses(self) -> tuple[str, ...]:
        shows = self.protected
        if shows is None:
            return ()
        video = self.show == shows
        audio = (self.sound == "show" and video and self.speed == 1.0) or self.sound == "copy"
        return tuple(s for s, on in (("video", video), ("audio", audio)) if on)


def _shop_backdrop(seed: int) -> Scene:
    return Scene(seconds=CLIP_S, title="直播间 新品上架", price="¥59", caption="点点关注 下单有礼", background_seed=seed)


def _place(prog: np.ndarray, pic: Picture, backdrop: np.ndarray, t: float) -> np.ndarray:
    """The programme's frame placed per ``pic`` into a 1280x720 frame over ``backdrop``."""
    w, h = SIZE
    if pic.colour:
        prog = colour_shift(prog)
    if pic.mirror:
        prog = np.ascontiguousarray(prog[:, ::-1])
    if pic.how == "full":
        out = cv2.resize(prog, SIZE)
    elif pic.how == "crop":
        ph, pw = prog.shape[:2]
        dy, dx = int(ph * (1 - pic.zoom) / 2), int(pw * (1 - pic.zoom) / 2)
        out = cv2.resize(prog[dy : ph - dy, dx : pw - dx], SIZE)
    elif pic.how == "border":
        out = np.full((h, w, 3), 24, np.uint8)
        iw, ih = int(w * pic.zoom), int(h * pic.zoom)
        out[(h - ih) // 2 : (h - ih) // 2 + ih, (w - iw) // 2 : (w - iw) // 2 + iw] = cv2.resize(prog, (iw, ih))
    elif pic.how == "pip":
        out = backdrop.copy()
        scale = float(np.sqrt(pic.area))
        iw, ih = int(w * scale), int(h * scale)
        margin = 24 if pic.area < 0.5 else 12
        x = margin if pic.corner[1] == "l" else w - iw - margin
        y = margin if pic.corner[0] == "t" else h - ih - margin
        out[y : y + ih, x : x + iw] = cv2.resize(prog, (iw, ih))
    elif pic.how == "split":  # the programme in one half, the backdrop squeezed into the other
        half = w // 2
        x, other = (0, half) if pic.side == "left" else (half, 0)
        out = np.empty((h, w, 3), np.uint8)
        out[:, other : other + half] = cv2.resize(backdrop, (half, h))
        if pic.fit:  # aspect kept: a quarter of the frame, dark above and below
            out[:, x : x + half] = 30
            out[h // 4 : h // 4 + h // 2, x : x + half] = cv2.resize(prog, (half, h // 2))
        else:
            out[:, x : x + half] = cv2.resize(prog, (half, h))
    else:
        raise ValueError(f"unknown placement {pic.how!r}")
    return bullet_comments(out, t) if pic.overlay else out


def clip_frames(clip: PiracyClip, fps: int = FPS) -> Iterator[np.ndarray]:
    """The clip's pictures (RGB, 1280x720) at ``fps``."""
    shop = scene_frames(ClipSpec(clip.name, (_shop_backdrop(clip.voice_seed),)), fps)
    for i in range(int(CLIP_S * fps)):
        t = i / fps
        backdrop = next(shop) if clip.picture.backdrop == "shop" else host_camera(t)
        if clip.show is None:
            yield bullet_comments(backdrop, t) if clip.picture.overlay else backdrop
        else:
            yield _place(clip.show.frame(clip.start + clip.speed * t), clip.picture, backdrop, t)


def clip_sound(clip: PiracyClip) -> np.ndarray:
    """The clip's soundtrack (16 kHz mono float), ``CLIP_S`` long."""
    n = int(CLIP_S * RATE)
    if clip.sound in ("show", "copy"):
        show = clip.show if clip.sound == "show" else clip.audio_show
        assert show is not None, f"{clip.name}: sound {clip.sound!r} needs a show"
        sound = show.sound()[int(clip.start * RATE) :]
        return retimed(sound, clip.speed, CLIP_S) if clip.speed != 1.0 else sound[:n]
    host = voice(CLIP_S, 500 + clip.voice_seed, 150 + 5 * (clip.voice_seed % 7))
    if clip.sound == "host":
        return host
    if clip.sound in ("host_track", "track"):
        assert clip.audio_show is not None, f"{clip.name}: sound {clip.sound!r} needs the show whose track plays"
        track = clip.audio_show.track()[int(clip.start * RATE) :][:n]
        return mix((host, 1.0), (track, 0.5)) if clip.sound == "host_track" else track
    if clip.sound == "music":
        return music(CLIP_S, 700 + clip.voice_seed)
    if clip.sound == "room":
        return (np.random.default_rng(clip.voice_seed).standard_normal(n) * 0.003).astype(np.float32)
    raise ValueError(f"unknown sound {clip.sound!r}")


# --- the two splits --------------------------------------------------------------------------------

def split_clips(split: str) -> list[PiracyClip]:
    """The clips of one split: the same kinds of copy and of look-alike in both, with the split's own
    shows, unrelated programmes, voices, corners and offsets."""
    held = split == "piracy-heldout"
    base = 10 if held else 0
    shows = [Show(base + k, True) for k in (1, 2, 3, 4)]
    others = [Show(base + k, False) for k in (6, 7, 8)]
    match, other_match = Show(base + 5, True, "match"), Show(base + 9, False, "match")
    corners = ("tl", "br", "tr", "bl") if held else ("br", "tl", "bl", "tr")
    s1, s2, s3, s4 = shows
    v = 40 if held else 0  # voice / music / backdrop seeds
    P = Picture
    pos = [
        PiracyClip("p01_pip25", "PiP, 25% of the frame", s1, P("pip", 0.25, corners[0]), 8, voice_seed=v + 1),
        PiracyClip("p02_pip35_host_voice", "PiP, 35%, the host talks over it", s2, P("pip", 0.35, corners[1]), 20,
                   sound="host", voice_seed=v + 2),
        PiracyClip("p03_pip45_shop", "PiP, 45%, over a shop scene", s3, P("pip", 0.45, corners[2], backdrop="shop"), 14,
                   voice_seed=v + 3),
        PiracyClip("p04_pip55_host_voice", "PiP, 55%, the host talks over it", s4, P("pip", 0.55, corners[3]), 30,
                   sound="host", voice_seed=v + 4),
        PiracyClip("p05_split_stretched", "split screen, stretched into one half", s1,
                   P("split", side="right" if held else "left"), 25, voice_seed=v + 5),
        PiracyClip("p06_split_fit_host_voice", "split screen, aspect kept, the host talks", s2,
                   P("split", side="left" if held else "right", fit=True), 5, sound="host", voice_seed=v + 6),
        PiracyClip("p07_crop85", "cropped: the centre 85% zoomed", s3, P("crop", zoom=0.85), 32, voice_seed=v + 7),
        PiracyClip("p08_crop80_host_voice", "cropped: the centre 80% zoomed, the host talks", s4, P("crop", zoom=0.8), 12,
                   sound="host", voice_seed=v + 8),
        PiracyClip("p09_mirror", "mirrored", s1, P(mirror=True), 35, voice_seed=v + 9),
        PiracyClip("p10_mirror_crop90", "mirrored and cropped to 90%", s2, P("crop", zoom=0.9, mirror=True), 28,
                   sound="host", voice_seed=v + 10),
        PiracyClip("p11_lowrate", "re-encoded at low bitrate (crf 40, audio 32 kb/s)", s3, P(), 3, crf=40,
                   audio_bit_rate=32000, voice_seed=v + 11),
        PiracyClip("p12_colour", "colour re-graded", s4, P(colour=True), 18, voice_seed=v + 12),
        PiracyClip("p13_captions_comments", "captions and bullet comments over it", s1, P(overlay=True), 2,
                   voice_seed=v + 13),
        PiracyClip("p14_pip35_comments", "PiP 35% with bullet comments over everything", s2,
                   P("pip", 0.35, corners[2], overlay=True), 33, sound="host", voice_seed=v + 14),
        PiracyClip("p15_fast", "played 10% faster (sound too)", s3, P(), 6, speed=1.1, voice_seed=v + 15),
        PiracyClip("p16_slow_pip45", "PiP 45%, played 10% slower", s4, P("pip", 0.45, corners[0]), 22, speed=0.9,
                   voice_seed=v + 16),
        PiracyClip("p17_border_colour_lowrate", "scaled into a border, re-graded, low bitrate", s1,
                   P("border", zoom=0.75, colour=True), 15, crf=36, voice_seed=v + 17),
        PiracyClip("p18_audio_host_camera", "only the sound, under the host's camera", None, P(), 9, sound="copy",
                   audio_show=s2, voice_seed=v + 18),
        PiracyClip("p19_audio_shop_lowrate", "only the sound (AAC 48 kb/s), under a shop scene", None,
                   P(backdrop="shop"), 26, sound="copy", audio_show=s3, audio_bit_rate=48000, voice_seed=v + 19),
        PiracyClip("p20_match_lowrate", "a football match, full frame, low bitrate (crf 38, audio 48 kb/s)", match, P(), 12,
                   crf=38, audio_bit_rate=48000, voice_seed=v + 31),
        PiracyClip("p21_match_pip30_captioned", "a match in a PiP (30%) in a bottom corner under the caption bar, "
                   "bullet comments, the host talks", match, P("pip", 0.30, "bl" if held else "br", overlay=True), 30,
                   sound="host", voice_seed=v + 32),
        PiracyClip("p22_match_audio", "only a match's sound (commentator and crowd), under the host's camera", None, P(),
                   20, sound="copy", audio_show=match, voice_seed=v + 33),
    ]
    o1, o2, o3 = others
    neg = [
        PiracyClip("n01_unrelated_full", "an unrelated programme with its own sound", o1, P(), 10,
                   trap="unrelated_video", voice_seed=v + 21),
        PiracyClip("n02_unrelated_pip45", "a different programme in a PiP (45%), the host talks", o2,
                   P("pip", 0.45, corners[1]), 12, sound="host", trap="unrelated_pip", voice_seed=v + 22),
        PiracyClip("n03_unrelated_split", "a different programme in a split screen", o3, P("split"), 4, sound="host",
                   trap="unrelated_split", voice_seed=v + 23),
        PiracyClip("n04_track_only", "music only: a protected show's licensed backing track alone", None, P(), 12,
                   sound="track", audio_show=s1, trap="music_only", voice_seed=v + 24),
        PiracyClip("n05_music_shop", "music only: unrelated music over a shop scene", None, P(backdrop="shop"),
                   sound="music", trap="music_only", voice_seed=v + 25),
        PiracyClip("n06_host_over_track", "the host's own voice over a protected show's licensed track", None, P(), 20,
                   sound="host_track", audio_show=s2, trap="host_voice_licensed_track", voice_seed=v + 26),
        PiracyClip("n07_host_over_track_shop", "the host's voice over a licensed track, shop scene", None,
                   P(backdrop="shop"), 3, sound="host_track", audio_show=s4, trap="host_voice_licensed_track",
                   voice_seed=v + 27),
        PiracyClip("n08_shop", "a plain shop clip", None, P(backdrop="shop"), sound="room", trap="shop_clip",
                   voice_seed=v + 28),
        PiracyClip("n09_shop_host_voice", "a shop clip, the host talks, comments scroll", None,
                   P(backdrop="shop", overlay=True), sound="host", trap="shop_clip", voice_seed=v + 29),
        PiracyClip("n10_unrelated_mirror_lowrate", "an unrelated programme, mirrored, low bitrate", o1,
                   P(mirror=True), 30, crf=40, trap="unrelated_video", voice_seed=v + 30),
        PiracyClip("n11_other_match", "another football match (same pitch, other teams) with its own sound", other_match,
                   P(), 12, trap="other_match", voice_seed=v + 34),
        PiracyClip("n12_other_match_pip45", "another match in a PiP (45%), the host talks", other_match,
                   P("pip", 0.45, corners[3]), 30, sound="host", trap="other_match", voice_seed=v + 35),
    ]
    return pos + neg


def protected_shows(splits: tuple[str, ...] = SPLITS) -> list[Show]:
    return sorted({c.protected for s in splits for c in split_clips(s) if c.protected is not None}, key=lambda s: s.seed)


# --- writing the corpus ----------------------------------------------------------------------------

def render_show(show: Show, path: Path) -> Path:
    """The protected show as the library holds it: ``SHOW_S`` of pictures and sound."""
    spec = ClipSpec(show.content_id, (Scene(seconds=SHOW_S),))
    frames = (cv2.resize(show.frame(i / FPS), SIZE) for i in range(int(SHOW_S * FPS)))
    return render_clip(spec, path, frames=frames, fps=FPS, audio=show.sound(), audio_bit_rate=128000)


def render_piracy_clip(clip: PiracyClip, path: Path) -> Path:
    spec = ClipSpec(clip.name, (Scene(seconds=CLIP_S),))
    return render_clip(spec, path, frames=clip_frames(clip), fps=FPS, audio=clip_sound(clip), crf=clip.crf,
                       audio_bit_rate=clip.audio_bit_rate)


def entry(clip: PiracyClip, split: str) -> dict[str, object]:
    """The clip's labels.json entry (the evidence-corpus form)."""
    show = clip.protected
    labels = [] if show is None else [{
        "category": "piracy", "brand": None, "content": show.content_id, "start": 0.0, "end": CLIP_S,
        "modalities": ["fingerprint"], "senses": list(clip.senses)}]
    traps = [] if clip.trap is None else [{"class": clip.trap, "start": 0.0, "end": CLIP_S, "note": clip.how, "brand": None}]
    return {"file": f"{split}/{clip.name}.mp4", "split": split, "seconds": CLIP_S, "benign": show is None,
            "labels": labels, "traps": traps, "products": [], "how": clip.how}


def generate(out_dir: Path, splits: tuple[str, ...] = SPLITS, only: tuple[str, ...] = (),
             log: Callable[[str], None] | None = None) -> Path:
    """Render the protected shows and the clips of ``splits`` (all of them, or the names in ``only``)
    that are not there yet; returns the path of labels.json (which lists every clip of the splits)."""
    say = log or (lambda _m: None)
    (out_dir / "protected").mkdir(parents=True, exist_ok=True)
    for show in protected_shows():
        path = out_dir / "protected" / f"{show.content_id}.mp4"
        if not path.exists():
            say(f"[piracy] rendering protected {path.name}")
            render_show(show, path)
    entries = []
    for split in splits:
        for clip in split_clips(split):
            path = out_dir / split / f"{clip.name}.mp4"
            if not path.exists() and (not only or clip.name in only):
                say(f"[piracy] rendering {split}/{clip.name}")
                render_piracy_clip(clip, path)
            entries.append(entry(clip, split))
    labels = out_dir / "labels.json"
    labels.write_text(json.dumps({"fps": FPS, "clips": entries}, ensure_ascii=False, indent=1), encoding="utf-8")
    return labels


if __name__ == "__main__":
    print(generate(Path(sys.argv[1] if len(sys.argv) > 1 else "var/piracy"), log=lambda m: print(m, file=sys.stderr)))
