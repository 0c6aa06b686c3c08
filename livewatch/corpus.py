"""The evaluation corpus: synthetic live-commerce clips with ground truth.

``python -m livewatch.corpus OUT_DIR`` (or ``livewatch eval DIR --generate``)
renders every clip of ``CLIPS`` into ``OUT_DIR/clips/``, the protected
content re-broadcast clips are lifted from into ``OUT_DIR/protected/``, and
writes ``OUT_DIR/labels.json``:

    {"clips": [{"file": "clips/cf01.mp4", "benign": false,
                "labels": [{"category": "counterfeit", "brand": "gucci",
                            "start": 0.0, "end": 12.0, "modalities": ["ocr", "asr"]}]}]}

Violations of each category sit beside benign look-alikes that share their
words ("正品保障", "官方授权", "最佳食用时间", a brand named with no counterfeit
cue, an authorised store showing its own logo), so precision is measured,
not only recall. All speech is synthesised in one batch (one TTS model load).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from livewatch.paths import DEFAULT_BRANDS_DIR
from livewatch.synth import FPS, SIZE, ClipSpec, Scene, render_clip, scene_frames, synthesize


@dataclass(frozen=True)
class Label:
    category: str
    start: float
    end: float
    modalities: tuple[str, ...]
    brand: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {"category": self.category, "brand": self.brand, "start": self.start, "end": self.end,
                "modalities": list(self.modalities)}


@dataclass(frozen=True)
class Clip:
    name: str
    scenes: tuple[Scene, ...]
    labels: tuple[Label, ...] = ()
    rebroadcast: str | None = None  # how the protected content is shown: border, pip, mirror, crop
    protected_seed: int = 0
    notes: str = ""

    @property
    def spec(self) -> ClipSpec:
        return ClipSpec(self.name, self.scenes)


def _logo(brand: str) -> Path:
    return DEFAULT_BRANDS_DIR / brand / "monogram.png"


def _shop(seconds: float, seed: int, **texts: object) -> Scene:
    return Scene(seconds=seconds, background_seed=seed, **texts)  # type: ignore[arg-type]


CF, FC, PI = "counterfeit", "false_claim", "piracy"

CLIPS: tuple[Clip, ...] = (
    # --- counterfeit -------------------------------------------------------
    Clip("cf01_ocr_slang_price", (
        _shop(12, 11, title="LV 老花手袋", price="¥99", caption="高仿 1:1 原单品质"),),
        (Label(CF, 0, 12, ("ocr",), "louis_vuitton"),)),
    Clip("cf02_speech_slang", (
        _shop(12, 12, title="经典款手提包", price="¥129", speech="这款古驰包包是高仿的，和专柜一模一样。"),),
        (Label(CF, 0, 12, ("asr",), "gucci"),)),
    Clip("cf03_logo_low_price", (
        _shop(12, 13, title="新款斜挎包", price="¥99", caption="A货 顶级复刻", logo=_logo("gucci")),),
        (Label(CF, 0, 12, ("logo", "ocr"), "gucci"),)),
    Clip("cf04_nickname_speech", (
        _shop(12, 14, title="秋冬新款围巾", price="¥89", speech="香奶奶同款围巾，原单尾货，价格只要八十九元。"),),
        (Label(CF, 0, 12, ("asr",), "chanel"),)),
    Clip("cf05_price_anomaly_ocr", (
        _shop(12, 15, title="Prada 尼龙双肩包", price="到手价199", caption="专柜同款 工厂直发"),),
        (Label(CF, 0, 12, ("ocr",), "prada"),)),
    Clip("cf06_logo_and_speech", (
        _shop(12, 16, title="托特包", price="¥159", logo=_logo("dior"), speech="迪奥这个包是一比一的，超A货。"),),
        (Label(CF, 0, 12, ("logo", "asr"), "dior"),)),
    Clip("cf07_late_onset", (
        _shop(8, 17, title="欢迎来到直播间", caption="新人关注领优惠券"),
        _shop(10, 18, title="爱马仕 丝巾", price="¥69", caption="高仿 原单 同厂"),),
        (Label(CF, 8, 18, ("ocr",), "hermes"),)),
    Clip("cf08_traditional_script", (
        _shop(12, 19, title="LV 經典手袋", price="¥88", caption="高仿 一比一 原單"),),
        (Label(CF, 0, 12, ("ocr",), "louis_vuitton"),)),
    # --- false claims ------------------------------------------------------
    Clip("fc01_national_level", (
        _shop(12, 21, title="草本精华面霜", price="¥199", caption="国家级配方 全网第一"),),
        (Label(FC, 0, 12, ("ocr",)),)),
    Clip("fc02_cure_speech", (
        _shop(12, 22, title="养生茶", price="¥59", speech="这个茶喝了能治愈失眠，还能根治高血压。"),),
        (Label(FC, 0, 12, ("asr",)),)),
    Clip("fc03_best_caption", (
        _shop(12, 23, title="蛋白粉", price="¥299", caption="最佳营养 最高级品质"),),
        (Label(FC, 0, 12, ("ocr",)),)),
    Clip("fc04_cure_cancer_caption", (
        _shop(12, 24, title="灵芝孢子粉", price="¥399", caption="抗癌 包治百病"),),
        (Label(FC, 0, 12, ("ocr",)),)),
    Clip("fc05_absolute_speech", (
        _shop(12, 25, title="精华液", price="¥159", speech="我们家的精华是全网最好的，销量第一。"),),
        (Label(FC, 0, 12, ("asr",)),)),
    Clip("fc06_guarantee", (
        _shop(12, 26, title="减肥茶", price="¥99", caption="无效退款 一个月瘦二十斤"),),
        (Label(FC, 0, 12, ("ocr",)),)),
    Clip("fc07_late_claim_speech", (
        _shop(6, 27, title="欢迎宝宝们", caption="点点关注不迷路"),
        _shop(10, 28, title="护肝片", price="¥128", speech="吃了这个护肝片，肝病都能治好。"),),
        (Label(FC, 6, 16, ("asr",)),)),
    # --- piracy ------------------------------------------------------------
    Clip("pi01_border", (_shop(16, 31),), (Label(PI, 0, 16, ("fingerprint",)),), rebroadcast="border", protected_seed=1),
    Clip("pi02_pip", (_shop(16, 32),), (Label(PI, 0, 16, ("fingerprint",)),), rebroadcast="pip", protected_seed=2),
    Clip("pi03_mirror", (_shop(16, 33),), (Label(PI, 0, 16, ("fingerprint",)),), rebroadcast="mirror", protected_seed=3),
    Clip("pi04_crop", (_shop(16, 34),), (Label(PI, 0, 16, ("fingerprint",)),), rebroadcast="crop", protected_seed=1),
    Clip("pi05_scaled_border", (_shop(16, 35),), (Label(PI, 0, 16, ("fingerprint",)),), rebroadcast="scaled", protected_seed=2),
    # --- benign look-alikes --------------------------------------------------
    Clip("bn01_genuine_guarantee", (
        _shop(12, 41, title="羊毛大衣", price="¥899", caption="正品保障 官方授权"),)),
    Clip("bn02_best_before", (
        _shop(12, 42, title="鲜牛奶", price="¥39", caption="最佳食用时间 冷藏三天内"),)),
    Clip("bn03_brand_no_cue", (
        _shop(12, 43, title="LV 专柜正品", price="¥12800", speech="这款路易威登是专柜正品，支持验货。"),)),
    Clip("bn04_authorised_store_logo", (
        _shop(12, 44, title="Gucci 官方旗舰店", price="¥8900", caption="官方授权 正品保障", logo=_logo("gucci")),)),
    Clip("bn05_plain_sale", (
        _shop(12, 45, title="纯棉T恤", price="¥49", speech="今天的T恤纯棉的，喜欢的宝宝可以下单。"),)),
    Clip("bn06_unrelated_video", (_shop(16, 46),), rebroadcast="unrelated", protected_seed=9),
)


# --- protected content and re-broadcasts -------------------------------------

def protected_frames(seed: int, seconds: float) -> Iterator[np.ndarray]:
    """A distinctive 'broadcast': shots that change every 3 s, moving shapes."""
    rng = np.random.default_rng(1000 + seed)
    w, h = SIZE
    shots = []
    for _ in range(int(seconds // 3) + 1):
        base = np.zeros((h, w, 3), np.uint8)
        base[:] = rng.integers(0, 256, 3, dtype=np.uint8)
        for _ in range(25):
            c = tuple(int(v) for v in rng.integers(0, 256, 3))
            x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
            cv2.circle(base, (x, y), int(rng.integers(20, 160)), c, -1)
        shots.append(base)
    for i in range(int(seconds * FPS)):
        frame = shots[int(i / FPS // 3)].copy()
        x = int((i * 9) % w)
        cv2.rectangle(frame, (x, 300), (x + 120, 420), (255, 255, 255), -1)
        yield frame


def _rebroadcast(frame: np.ndarray, how: str, backdrop: np.ndarray) -> np.ndarray:
    w, h = SIZE
    if how == "mirror":
        return np.ascontiguousarray(frame[:, ::-1])
    if how == "crop":
        return cv2.resize(frame[54:666, 96:1184], (w, h))
    if how in ("border", "scaled"):
        scale = 0.8 if how == "border" else 0.6
        out = np.full_like(frame, 16 if how == "border" else 90)
        small = cv2.resize(frame, (int(w * scale), int(h * scale)))
        y, x = (h - small.shape[0]) // 2, (w - small.shape[1]) // 2
        out[y : y + small.shape[0], x : x + small.shape[1]] = small
        return out
    if how == "pip":
        out = backdrop.copy()
        small = cv2.resize(frame, (int(w * 0.55), int(h * 0.55)))
        out[40 : 40 + small.shape[0], 520 : 520 + small.shape[1]] = small
        return out
    raise ValueError(f"unknown re-broadcast {how!r}")


def rebroadcast_frames(clip: Clip) -> Iterator[np.ndarray]:
    backdrop = next(scene_frames(clip.spec))
    seconds = clip.spec.seconds
    if clip.rebroadcast == "unrelated":
        yield from protected_frames(clip.protected_seed, seconds)
        return
    for frame in protected_frames(clip.protected_seed, seconds + 20):
        yield _rebroadcast(frame, clip.rebroadcast or "border", backdrop)


# --- writing the corpus ------------------------------------------------------

def generate(out_dir: Path, clips: tuple[Clip, ...] = CLIPS) -> Path:
    """Render every clip and its labels; returns the path of labels.json."""
    (out_dir / "clips").mkdir(parents=True, exist_ok=True)
    protected_dir = out_dir / "protected"
    protected_dir.mkdir(exist_ok=True)
    sentences = [s.speech for c in clips for s in c.scenes if s.speech]
    voices = synthesize(sentences, out_dir / "speech")
    spoken = iter(voices or [])
    entries = []
    for clip in clips:
        speech = [next(spoken) for s in clip.scenes if s.speech] if voices else None
        path = out_dir / "clips" / f"{clip.name}.mp4"
        frames = None
        if clip.rebroadcast:
            frames = _limit(rebroadcast_frames(clip), clip.spec.seconds)
        render_clip(clip.spec, path, speech=speech, frames=frames)
        entries.append({
            "file": f"clips/{clip.name}.mp4",
            "benign": not clip.labels,
            "labels": [label.to_dict() for label in clip.labels],
        })
    for seed in sorted({c.protected_seed for c in clips if c.rebroadcast and c.rebroadcast != "unrelated"}):
        spec = ClipSpec(f"protected{seed}", (Scene(seconds=40),))
        render_clip(spec, protected_dir / f"broadcast-{seed}.mp4", frames=protected_frames(seed, 40))
    labels = out_dir / "labels.json"
    labels.write_text(json.dumps({"speech": voices is not None, "clips": entries}, ensure_ascii=False, indent=1))
    return labels


def _limit(frames: Iterator[np.ndarray], seconds: float) -> Iterator[np.ndarray]:
    for i, frame in enumerate(frames):
        if i >= int(seconds * FPS):
            return
        yield frame


if __name__ == "__main__":
    print(generate(Path(sys.argv[1] if len(sys.argv) > 1 else "var/corpus")))
