"""Labelled live-commerce frames for OCR tests and benches, generated deterministically.

Each frame is 1280x720 BGR: a cluttered product scene with the text a
live-commerce stream shows (a price card "高仿LV包 ¥99", a caption bar, a
product title, a viewer badge), drawn with Noto Sans CJK SC (Debian's
fonts-noto-cjk). Variants make it harder the way real streams do: ``blur``,
``jpeg`` (heavy re-compression), ``rotate`` (a few degrees), ``cover`` (a
sticker hides the end of the price card). The ground truth is the visible
text of each line and its box in the final image, so accuracy is measured
per line, by place.

    frames = labelled_frames(5)                       # one per variant
    acc = character_accuracy(frames[0], [(text, (x, y, w, h)), ...])

Nothing is stored: the same seed always gives the same pixels.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Iterable, Sequence

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_PATH = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
FONT_INDEX_SC = 2  # simplified-Chinese face inside the .ttc
SIZE = (1280, 720)
VARIANTS = ("clean", "blur", "jpeg", "rotate", "cover")

TITLES = (
    "2026新款真皮手提包 女士斜挎包",
    "经典老花托特包 大容量通勤",
    "香奶奶同款链条包 小香风",
    "驴牌经典老花 男士钱包",
    "轻奢羊皮手袋 送礼首选",
    "原单尾货 专柜同款腰带",
)
PRICE_CARDS = (
    "高仿LV包 ¥99",
    "到手价199元",
    "原价2999 现价299",
    "限时秒杀 仅需59元",
    "今日特价 ¥128",
    "RMB 399 包邮",
)
CAPTIONS = (
    "正品保证 假一赔十",
    "1:1复刻 专柜品质",
    "家人们赶紧下单 库存仅剩23件",
    "关注主播领优惠券 七天无理由退换",
    "专柜价两千九 直播间只要九十九元",
    "拍下备注暗号 优先发货",
)
BADGES = ("直播中 1.2万人观看", "直播中 8563人观看", "直播中 3.4万人观看")


@dataclass(frozen=True)
class LabelledLine:
    """Ground truth of one text line: what a reader can see, and where (x, y, w, h)."""

    text: str
    box: tuple[int, int, int, int]
    kind: str
    full_text: str
    font_px: int


@dataclass(frozen=True)
class LabelledFrame:
    image: np.ndarray  # BGR uint8, H x W x 3
    lines: tuple[LabelledLine, ...]
    variant: str
    seed: int

    @property
    def texts(self) -> tuple[str, ...]:
        return tuple(line.text for line in self.lines)


def labelled_frames(n: int, seed: int = 0, variants: Sequence[str] = VARIANTS) -> list[LabelledFrame]:
    """``n`` frames cycling through ``variants``; frame i uses seed ``seed + i``."""
    return [render_frame(seed + i, variants[i % len(variants)]) for i in range(n)]


def render_frame(seed: int, variant: str = "clean") -> LabelledFrame:
    """One labelled frame; the text and layout depend on ``seed`` only, the damage on ``variant``."""
    if variant not in VARIANTS:
        raise ValueError(f"variant {variant!r}: use one of {VARIANTS}")
    rng = np.random.default_rng(seed)
    canvas = Image.fromarray(product_scene(seed)).convert("RGBA")
    lines = [
        _draw_badge(canvas, _pick(rng, BADGES)),
        _draw_title(canvas, _pick(rng, TITLES), rng),
        _draw_price_card(canvas, _pick(rng, PRICE_CARDS), rng),
        _draw_caption(canvas, _pick(rng, CAPTIONS)),
    ]
    rgb = np.asarray(canvas.convert("RGB"))
    if variant == "cover":
        rgb, lines = _cover(rgb, lines, rng)
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    bgr, lines = _damage(bgr, lines, variant, rng)
    return LabelledFrame(bgr, tuple(lines), variant, seed)


def product_scene(seed: int, size: tuple[int, int] = SIZE) -> np.ndarray:
    """A busy RGB backdrop: shelf gradient, product shapes, fabric stripes, sensor noise."""
    w, h = size
    rng = np.random.default_rng(10_000 + seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([150 + 50 * np.cos(yy / 90.0 + seed), 110 + 40 * np.sin(xx / 130.0), 90 + 45 * np.cos((xx - yy) / 70.0)], -1)
    img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(18):
        x0, y0 = int(rng.integers(-60, w)), int(rng.integers(-60, h))
        x1, y1 = x0 + int(rng.integers(60, 320)), y0 + int(rng.integers(60, 260))
        colour = tuple(int(c) for c in rng.integers(30, 230, size=3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        else:
            draw.rounded_rectangle((x0, y0, x1, y1), radius=int(rng.integers(4, 40)), fill=colour)
    # A "bag" in the middle of the scene, with a handle: the product on show.
    draw.rounded_rectangle((470, 250, 800, 520), radius=36, fill=(120, 78, 40), outline=(60, 35, 15), width=6)
    draw.arc((540, 150, 730, 330), 180, 360, fill=(60, 35, 15), width=14)
    out = np.asarray(img).astype(np.float32)
    out[::9, :, :] *= 0.85
    out += rng.normal(0, 7, size=out.shape)
    return np.clip(out, 0, 255).astype(np.uint8)


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions each cost 1)."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def comparable(text: str) -> str:
    """What accuracy compares: NFKC (￥ -> ¥, full-width digits), no spaces, case-folded."""
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


def character_accuracy(frame: LabelledFrame, readings: Iterable[tuple[str, Sequence[int]]]) -> tuple[int, int]:
    """(correct characters, ground-truth characters) of a frame.

    ``readings`` are (text, (x, y, w, h)) in frame pixels. A reading belongs to
    the ground-truth line its box mostly lies in; the line's readings are
    joined left to right and compared by edit distance, so a line split in
    two by the reader costs nothing and a missed line costs all its characters.
    """
    readings = list(readings)
    correct = total = 0
    for line in frame.lines:
        truth = comparable(line.text)
        mine = sorted((r for r in readings if _mostly_inside(r[1], line.box)), key=lambda r: r[1][0])
        read = comparable("".join(text for text, _ in mine))
        correct += max(0, len(truth) - levenshtein(truth, read))
        total += len(truth)
    return correct, total


# --- drawing -------------------------------------------------------------
def _font(px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(FONT_PATH, px, index=FONT_INDEX_SC)


def _pick(rng: np.random.Generator, items: Sequence[str]) -> str:
    return items[int(rng.integers(0, len(items)))]


def _text_box(draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str, font) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = draw.textbbox(xy, text, font=font)
    return (x0, y0, x1 - x0, y1 - y0)


def _overlay(canvas: Image.Image) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    layer = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    return layer, ImageDraw.Draw(layer)


def _draw_badge(canvas: Image.Image, text: str) -> LabelledLine:
    layer, draw = _overlay(canvas)
    font = _font(26)
    box = _text_box(draw, (40, 30), text, font)
    draw.rounded_rectangle((box[0] - 12, box[1] - 8, box[0] + box[2] + 12, box[1] + box[3] + 8), radius=14, fill=(230, 30, 70, 220))
    draw.text((40, 30), text, font=font, fill=(255, 255, 255, 255))
    canvas.alpha_composite(layer)
    return LabelledLine(text, box, "badge", text, font.size)


def _draw_title(canvas: Image.Image, text: str, rng: np.random.Generator) -> LabelledLine:
    """Title straight over the scene with an outline, as streamers overlay it."""
    draw = ImageDraw.Draw(canvas)
    font = _font(int(rng.integers(36, 44)))
    xy = (int(rng.integers(40, 200)), 100)
    draw.text(xy, text, font=font, fill=(255, 255, 255, 255), stroke_width=3, stroke_fill=(20, 20, 20, 255))
    return LabelledLine(text, _text_box(draw, xy, text, font), "title", text, font.size)


def _draw_price_card(canvas: Image.Image, text: str, rng: np.random.Generator) -> LabelledLine:
    layer, draw = _overlay(canvas)
    font = _font(int(rng.integers(52, 64)))
    width = draw.textlength(text, font=font)
    xy = (int(rng.integers(60, max(61, 1240 - int(width)))), int(rng.integers(380, 470)))
    box = _text_box(draw, xy, text, font)
    draw.rounded_rectangle((box[0] - 22, box[1] - 16, box[0] + box[2] + 22, box[1] + box[3] + 16), radius=18, fill=(210, 40, 30, 235))
    draw.text(xy, text, font=font, fill=(255, 236, 120, 255))
    canvas.alpha_composite(layer)
    return LabelledLine(text, box, "price", text, font.size)


def _draw_caption(canvas: Image.Image, text: str) -> LabelledLine:
    layer, draw = _overlay(canvas)
    font = _font(40)
    width = draw.textlength(text, font=font)
    xy = (int((1280 - width) // 2), 620)
    box = _text_box(draw, xy, text, font)
    draw.rectangle((0, box[1] - 14, 1280, box[1] + box[3] + 14), fill=(10, 10, 10, 170))
    draw.text(xy, text, font=font, fill=(255, 240, 60, 255))
    canvas.alpha_composite(layer)
    return LabelledLine(text, box, "caption", text, font.size)


# --- damage --------------------------------------------------------------
def _cover(rgb: np.ndarray, lines: list[LabelledLine], rng: np.random.Generator) -> tuple[np.ndarray, list[LabelledLine]]:
    """A sticker over the tail of the price card: the hidden characters leave the truth."""
    out, kept = rgb.copy(), []
    for line in lines:
        if line.kind != "price" or len(line.text) < 4:
            kept.append(line)
            continue
        k = max(2, int(len(line.text) * rng.uniform(0.6, 0.8)))
        visible = line.text[:k].rstrip()
        x, y, w, h = line.box
        cut = x + int(w * _prefix_fraction(line.text, k, _font(line.font_px))) - 2
        cv2.rectangle(out, (cut, y - 20), (x + w + 30, y + h + 20), (235, 215, 190), thickness=-1)
        cv2.ellipse(out, (cut + 24, y + h // 2), (24, h // 2 + 22), 0, 0, 360, (225, 200, 175), thickness=-1)
        kept.append(LabelledLine(visible, (x, y, max(1, cut - x - 2), h), line.kind, line.full_text, line.font_px))
    return out, kept


def _prefix_fraction(text: str, k: int, font) -> float:
    """Where character ``k`` starts, as a fraction of the drawn text's width."""
    return font.getlength(text[:k]) / max(1.0, font.getlength(text))


def _damage(bgr: np.ndarray, lines: list[LabelledLine], variant: str, rng: np.random.Generator) -> tuple[np.ndarray, list[LabelledLine]]:
    if variant == "blur":
        return cv2.GaussianBlur(bgr, (0, 0), 1.6), lines
    if variant == "jpeg":
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 22])
        return cv2.imdecode(buf, cv2.IMREAD_COLOR), lines
    if variant == "rotate":
        angle = float(rng.choice([-1, 1]) * rng.uniform(2.0, 4.0))
        h, w = bgr.shape[:2]
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        out = cv2.warpAffine(bgr, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        return out, [LabelledLine(ln.text, _rotate_box(ln.box, m, w, h), ln.kind, ln.full_text, ln.font_px) for ln in lines]
    return bgr, lines


def _rotate_box(box: tuple[int, int, int, int], m: np.ndarray, w: int, h: int) -> tuple[int, int, int, int]:
    x, y, bw, bh = box
    corners = np.array([[x, y, 1], [x + bw, y, 1], [x, y + bh, 1], [x + bw, y + bh, 1]], dtype=np.float64)
    pts = corners @ m.T
    x0, y0 = np.clip(pts.min(axis=0), 0, [w, h])
    x1, y1 = np.clip(pts.max(axis=0), 0, [w, h])
    return (int(x0), int(y0), int(x1 - x0), int(y1 - y0))


def _mostly_inside(box: Sequence[int], line_box: tuple[int, int, int, int]) -> bool:
    """Half of the reading's box lies in the line's box grown by half a line height."""
    x, y, w, h = box
    lx, ly, lw, lh = line_box
    pad = lh // 2
    ix = min(x + w, lx + lw + pad) - max(x, lx - pad)
    iy = min(y + h, ly + lh + pad) - max(y, ly - pad)
    return w * h > 0 and max(0, ix) * max(0, iy) >= 0.5 * w * h
