"""Synthetic logo marks and test scenes.

The default registry must not ship real trademark artwork, and tests and the
bench need thousands of distinct brands, so marks are drawn here: a textured
monogram-like badge (the brand's letters among non-periodic motifs, which is
what gives SIFT distinctive keypoints) and a flat, texture-less coloured mark
(which features cannot find; the shape matcher does). ``render_scene`` pastes
a mark onto a busy product-like background with the distortions a live stream
adds (scale, rotation, perspective, blur, occlusion, JPEG re-compression).

Everything is deterministic from a seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import yaml
from PIL import Image, ImageDraw, ImageFont

FONT_BOLD = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"
FONT_SERIF = "/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc"


def _font(size: int, serif: bool = False) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(FONT_SERIF if serif else FONT_BOLD, size, index=2)


def _colour(rng: np.random.Generator, lo: int, hi: int) -> tuple[int, int, int]:
    r, g, b = (int(v) for v in rng.integers(lo, hi, size=3))
    return r, g, b


def _motif(draw: ImageDraw.ImageDraw, kind: int, cx: float, cy: float, r: float, fill: tuple[int, int, int], angle: float) -> None:
    """One decorative motif: a flower, a diamond with an eye, a star, or a ring with spokes."""
    if kind == 0:
        for k in range(4):
            a = angle + k * math.pi / 2
            px, py = cx + 0.5 * r * math.cos(a), cy + 0.5 * r * math.sin(a)
            draw.ellipse((px - 0.35 * r, py - 0.35 * r, px + 0.35 * r, py + 0.35 * r), fill=fill)
    elif kind == 1:
        pts = [(cx + r * math.cos(angle + k * math.pi / 2), cy + r * math.sin(angle + k * math.pi / 2)) for k in range(4)]
        draw.polygon(pts, fill=fill)
        draw.ellipse((cx - 0.3 * r, cy - 0.3 * r, cx + 0.3 * r, cy + 0.3 * r), fill=(0, 0, 0))
    elif kind == 2:
        pts = []
        for k in range(10):
            rr = r if k % 2 == 0 else 0.45 * r
            a = angle + k * math.pi / 5
            pts.append((cx + rr * math.cos(a), cy + rr * math.sin(a)))
        draw.polygon(pts, fill=fill)
    else:
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=fill, width=max(2, int(r / 4)))
        for k in range(3):
            a = angle + k * 2 * math.pi / 3
            draw.line((cx, cy, cx + r * math.cos(a), cy + r * math.sin(a)), fill=fill, width=max(2, int(r / 5)))


def textured_mark(letters: str, seed: int, size: int = 320, lookalike: bool = False) -> np.ndarray:
    """A monogram-like badge (BGR): the letters among varied motifs, then the letters large in a medallion.

    ``lookalike=True`` draws a confusable design: the same letters and motif
    vocabulary, but in a sheared, lighter badge instead of the medallion.
    """
    rng = np.random.default_rng(seed)
    bg, fg = _colour(rng, 20, 110), _colour(rng, 150, 250)
    accent = _colour(rng, 60, 230)
    img = Image.new("RGB", (size, size), bg)
    draw = ImageDraw.Draw(img)
    cells = 4 + seed % 3  # lattice and jitter vary by seed, so two marks rarely share geometry
    step = size / cells
    small = _font(int(step * 0.5), serif=bool(seed % 2))
    for row in range(cells):
        for col in range(cells):
            cx, cy = (col + 0.5) * step, (row + 0.5) * step
            cx += float(rng.uniform(-0.25, 0.25)) * step
            cy += float(rng.uniform(-0.25, 0.25)) * step
            choice = int(rng.integers(0, 6))
            colour = fg if rng.random() < 0.6 else accent
            if choice >= 4:
                draw.text((cx, cy), letters, font=small, fill=colour, anchor="mm")
            else:
                _motif(draw, choice, cx, cy, step * float(rng.uniform(0.25, 0.42)), colour, float(rng.uniform(0, math.pi)))
    c, rad = size / 2, size * 0.26
    big = _font(int(rad * (1.1 if len(letters) < 3 else 0.8)), serif=not seed % 2)
    if lookalike:
        draw.rounded_rectangle((c - rad, c - 0.7 * rad, c + rad, c + 0.7 * rad), radius=rad / 4, fill=bg, outline=fg, width=max(3, size // 60))
        badge = Image.new("L", (size, size), 0)
        ImageDraw.Draw(badge).text((c, c), letters, font=_font(int(rad * 0.7), serif=bool(seed % 2)), fill=255, anchor="mm")
        badge = badge.transform(badge.size, Image.Transform.AFFINE, (1, 0.35, -0.35 * c, 0, 1, 0))
        img.paste(Image.new("RGB", img.size, fg), (0, 0), badge)
    else:
        draw.ellipse((c - rad, c - rad, c + rad, c + rad), fill=bg, outline=fg, width=max(3, size // 60))
        draw.text((c, c), letters, font=big, fill=fg, anchor="mm")
    draw.rectangle((2, 2, size - 3, size - 3), outline=accent, width=max(3, size // 50))
    return cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2BGR)


def flat_mark(seed: int, colour_bgr: tuple[int, int, int], size: int = 320, lobes: int = 3, notch: bool = True) -> np.ndarray:
    """A flat single-colour lobed shape (BGRA, transparent outside), texture-less on purpose."""
    rng = np.random.default_rng(seed)
    phase = float(rng.uniform(0, 2 * math.pi))
    c = size / 2
    pts = []
    for k in range(360):
        a = k * math.pi / 180
        r = 0.36 * size * (0.78 + 0.18 * math.sin(lobes * a + phase) + 0.07 * math.sin(5 * a))
        if notch and 0.3 < a < 0.75:  # a notch, so the shape has no rotational symmetry
            r *= 0.55
        pts.append((c + r * math.cos(a), c + r * math.sin(a)))
    mask = Image.new("L", (size, size), 0)
    ImageDraw.Draw(mask).polygon(pts, fill=255)
    out = np.zeros((size, size, 4), np.uint8)
    out[..., :3] = colour_bgr
    out[..., 3] = np.asarray(mask)
    return out


def busy_background(width: int, height: int, seed: int) -> np.ndarray:
    """A cluttered product-shot backdrop (BGR): gradients, blocks, stripes, random letters, noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    ph = rng.uniform(0, 6, size=3)
    img = np.stack([110 + 60 * np.sin(xx / 83.0 + ph[0]), 100 + 50 * np.cos(yy / 61.0 + ph[1]),
                    120 + 50 * np.sin((xx + yy) / 47.0 + ph[2])], -1)
    canvas = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    for _ in range(30):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        w, h = int(rng.integers(20, max(21, width // 5))), int(rng.integers(20, max(21, height // 5)))
        shape = int(rng.integers(0, 3))
        fill = _colour(rng, 20, 235)
        if shape == 0:
            draw.rectangle((x0, y0, x0 + w, y0 + h), fill=fill)
        elif shape == 1:
            draw.ellipse((x0, y0, x0 + w, y0 + h), fill=fill)
        else:
            draw.line((x0, y0, x0 + w, y0 + h), fill=fill, width=int(rng.integers(2, 9)))
    f = _font(max(12, height // 24))
    alphabet = "ABCDEFGHJKLMNPRSTUWXYZ0123456789¥元包正品"
    for _ in range(12):
        text = "".join(rng.choice(list(alphabet), size=int(rng.integers(2, 7))))
        draw.text((int(rng.integers(0, width)), int(rng.integers(0, height))), text, font=f, fill=_colour(rng, 0, 255))
    out = np.asarray(canvas).astype(np.float32) + rng.normal(0, 5, size=(height, width, 3))
    return cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_RGB2BGR)


@dataclass(frozen=True)
class Distortion:
    """How a mark appears in a frame. ``width_frac`` is the mark's width relative to the frame's."""

    width_frac: float = 0.25
    angle_deg: float = 0.0
    tilt: float = 0.0  # perspective: fraction by which the top edge shrinks
    blur_sigma: float = 0.0
    occlusion: float = 0.0  # fraction of the mark's box covered by a foreign patch
    jpeg_quality: int = 90


def _bgra(mark: np.ndarray) -> np.ndarray:
    if mark.ndim == 3 and mark.shape[2] == 4:
        return mark
    alpha = np.full(mark.shape[:2], 255, np.uint8)
    return np.dstack([mark, alpha])


def render_scene(background: np.ndarray, mark: np.ndarray | None, d: Distortion, seed: int) -> tuple[np.ndarray, tuple[int, int, int, int] | None]:
    """Paste ``mark`` (BGR or BGRA) on a copy of ``background``; returns (frame, ground-truth box x,y,w,h).

    With ``mark=None`` only the distortions common to every frame (blur, JPEG)
    are applied, which gives clean negatives.
    """
    rng = np.random.default_rng(seed)
    frame = background.copy()
    fh, fw = frame.shape[:2]
    box = None
    if mark is not None:
        src = _bgra(mark)
        mh, mw = src.shape[:2]
        tw = d.width_frac * fw
        s = tw / mw
        corners = np.array([[0, 0], [mw, 0], [mw, mh], [0, mh]], np.float32)
        shrink = d.tilt * mw / 2
        warped = np.array([[shrink, 0], [mw - shrink, 0], [mw, mh], [0, mh]], np.float32) * s
        a = math.radians(d.angle_deg)
        rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], np.float32)
        warped = warped @ rot.T
        lo, hi = warped.min(0), warped.max(0)
        size = hi - lo
        if size[0] >= fw or size[1] >= fh:
            raise ValueError("mark does not fit the frame at this scale")
        off = np.array([rng.uniform(0, fw - size[0]), rng.uniform(0, fh - size[1])], np.float32) - lo
        warped = warped + off
        H = cv2.getPerspectiveTransform(corners, warped.astype(np.float32))
        layer = cv2.warpPerspective(src, H, (fw, fh), flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
        alpha = layer[..., 3:4].astype(np.float32) / 255.0
        frame = (frame * (1 - alpha) + layer[..., :3] * alpha).astype(np.uint8)
        bx, by, bw, bh = (int(v) for v in cv2.boundingRect((layer[..., 3] >= 128).astype(np.uint8)))
        box = (bx, by, bw, bh)
        if d.occlusion > 0:
            ow = int(box[2] * math.sqrt(d.occlusion))
            oh = int(box[2] * box[3] * d.occlusion / max(ow, 1))
            ox = box[0] + (0 if rng.random() < 0.5 else box[2] - ow)
            oy = box[1] + (0 if rng.random() < 0.5 else box[3] - oh)
            patch = busy_background(max(ow, 1), max(oh, 1), seed + 1000)
            y_a, x_a = max(oy, 0), max(ox, 0)
            y_b, x_b = min(oy + oh, fh), min(ox + ow, fw)
            frame[y_a:y_b, x_a:x_b] = patch[y_a - oy : y_b - oy, x_a - ox : x_b - ox]
    if d.blur_sigma > 0:
        frame = cv2.GaussianBlur(frame, (0, 0), d.blur_sigma)
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, int(d.jpeg_quality)])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR), box


def write_brand(root: str | Path, brand_id: str, names: list[str], marks: dict[str, np.ndarray],
                aliases: Sequence[str] = (), min_price: float | None = None, currency: str = "CNY") -> Path:
    """Write ``<root>/<brand_id>/brand.yaml`` and its logo PNGs: a brand as ops would add one."""
    folder = Path(root) / brand_id
    folder.mkdir(parents=True, exist_ok=True)
    for name, mark in marks.items():
        cv2.imwrite(str(folder / name), mark)
    doc = {"brand_id": brand_id, "names": list(names), "aliases": list(aliases),
           "min_price": min_price, "currency": currency, "logos": sorted(marks)}
    path = folder / "brand.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def synthetic_registry(root: str | Path, count: int, seed: int = 0, size: int = 240) -> Path:
    """``count`` made-up brands, one textured mark each (for scaling tests and the bench)."""
    rng = np.random.default_rng(seed)
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    for i in range(count):
        code = "".join(rng.choice(list(letters), size=2))
        write_brand(root, f"synth{i:04d}", [f"Synth {code} {i}"], {"logo.png": textured_mark(code, seed * 100_003 + i, size)})
    return Path(root)


@dataclass(frozen=True)
class Case:
    """One rendered test frame and what is really in it (``brand_id`` None: nothing registered)."""

    image: np.ndarray
    brand_id: str | None
    box: tuple[int, int, int, int] | None
    kind: str  # textured | flat | lookalike | clean
    distortion: Distortion = Distortion()


def _lookalike(mark: np.ndarray, letters: str, seed: int) -> np.ndarray:
    """Same letters in a different monogram, or for a flat mark: same colour, other outline / same outline, other colour."""
    if mark.ndim == 3 and mark.shape[2] == 4:
        if seed % 2:
            out = mark.copy()
            out[..., :3] = (200, 60, 40)  # same outline, blue-ish
            return out
        b, g, r = (int(v) for v in np.median(mark[..., :3][mark[..., 3] > 0], axis=0))
        colour = (b, g, r)
        return flat_mark(seed, colour, mark.shape[0], lobes=4 + (seed // 2) % 2, notch=bool((seed // 4) % 2))
    return textured_mark(letters, seed + 50_001, mark.shape[0], lookalike=True)


def scene_cases(marks: dict[str, tuple[str, list[np.ndarray]]], count: int, seed: int = 0,
                size: tuple[int, int] = (1280, 720), negatives: float = 0.3) -> list[Case]:
    """``count`` frames: registered marks under random distortions, plus look-alike and clean negatives.

    ``marks`` maps brand id -> (letters, reference images as read with IMREAD_UNCHANGED).
    """
    rng = np.random.default_rng(seed)
    pool = [(bid, letters, m) for bid, (letters, ms) in sorted(marks.items()) for m in ms]
    cases = []
    for i in range(count):
        bid, letters, mark = pool[i % len(pool)]
        flat = mark.ndim == 3 and mark.shape[2] == 4
        d = Distortion(
            width_frac=float(rng.uniform(0.12, 0.3)),
            angle_deg=float(rng.uniform(-35, 35)),
            tilt=float(rng.uniform(0, 0.2)),
            blur_sigma=float(rng.choice([0, 0, 0.8, 1.5])),
            occlusion=float(rng.choice([0, 0, 0.15, 0.3])),
            jpeg_quality=int(rng.integers(50, 90)),
        )
        background = busy_background(size[0], size[1], seed * 1000 + i)
        roll = rng.random()
        if roll < negatives / 2:
            image, box = render_scene(background, _lookalike(mark, letters, i), d, i)
            cases.append(Case(image, None, None, "lookalike", d))
        elif roll < negatives:
            image, _ = render_scene(background, None, d, i)
            cases.append(Case(image, None, None, "clean", d))
        else:
            image, box = render_scene(background, mark, d, i)
            cases.append(Case(image, bid, box, "flat" if flat else "textured", d))
    return cases
