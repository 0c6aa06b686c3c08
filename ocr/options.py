"""OCR options: one typed, frozen object with safe defaults (see docs/ARCHITECTURE.md)."""

from __future__ import annotations

from dataclasses import dataclass

from events import ConfigError

ENGINES = ("paddle", "rapid")


@dataclass(frozen=True)
class OcrOptions:
    """How the OCR stage reads frames and follows text over time.

    Engine and weights:
      ``engine``: "paddle" (PaddleOCR, PP-OCRv5 mobile) or "rapid" (RapidOCR on ONNX Runtime,
      PP-OCRv6 small, bundled). ``model_dir``: a directory holding ``PP-OCRv5_mobile_det/`` and
      ``PP-OCRv5_mobile_rec/`` for paddle; None looks where scripts/setup.d/30-ocr-models.sh puts
      them (``<venv>/share/livewatch/ocr``).

    Worker processes (CPU PaddleOCR grows in memory over hours, so it runs in processes that are
    replaced after ``recycle_after_frames`` frames or above ``recycle_above_mb`` resident MB):
      ``workers=0`` runs the engine in the calling process (tests, quick scans).

    Frames: images whose longer side exceeds ``max_side_px`` are scaled down first.

    Detection is most of the OCR worker's CPU (84 % on the bench broadcast at 1280 px), and it
    finds a live-commerce card's lines on fewer pixels too: the detector sees the frame at most
    ``detect_max_side_px`` long (a changed area of it at the same scale), and the lines it
    finds are recognised from the full-resolution image, their boxes scaled back. An area
    smaller than ``detect_min_side_px`` once scaled is detected as it is. At 640 px the 12
    broadcasts of the evaluation corpus (720p) give the same evaluation figures as at 1280
    (bench/evidence), and lines whose thin last stroke detection at 1280 px cut off are read
    whole (全网第一, not 全网第). The CPU it saves is in bench/ (bench_ocr, bench_pipeline).
    (Lengthening the boxes found on fewer pixels, so that a thin last stroke is not cut off,
    lowered the recogniser's confidence under ``min_confidence`` on a price sticker: the box
    stays as found.)

    Reading only what changed (``track_regions``, on by default; see ``ocr/regions.py``): a
    moving host makes every sampled frame "changed", while the product card, price sticker and
    captions stay put for seconds. So text lines are detected only where pixels changed since
    the last read (areas grown by ``crop_margin_px``; when they cover more than
    ``crop_max_fraction`` of the frame the whole frame is detected), and on the whole frame at
    least every ``full_detect_interval_s`` of media time, which bounds how long a line the
    detector once missed stays unread. A line whose crop did not change since it was last
    recognised keeps its text without recognition; new lines and changed ones are recognised,
    together in one batch, on the frame they appear in. A crop (or an area of the frame)
    counts as changed when at least ``change_pixels`` pixels of its grey thumbnail (24 px
    high for a line, 320 px wide for the frame) differ by more than ``change_level`` grey
    levels: on H.264 at CRF 23-36 unchanged lines differ by at most 9 levels there and a
    one-digit price change (¥99 -> ¥89, ¥1.5 -> ¥1.6) by 90 or more in 13+ pixels.
    ``track_regions=False`` reads every changed frame whole as before, or only the sampler's
    ``changed_box`` (plus ``crop_margin_px``) when ``crop_changed`` and it covers at most
    ``crop_max_fraction`` of the frame.

    Text over time: readings of one line in consecutive frames are one observation when their
    normalised texts are equal, or at least ``same_text_similarity`` alike with the same digits and
    overlapping boxes. An observation ends when it is missed by two reads of its area or stays
    unseen for ``end_grace_s``; while it lasts, an update is emitted every ``refresh_s`` seconds.
    """

    engine: str = "paddle"
    model_dir: str | None = None
    workers: int = 1
    threads_per_worker: int = 2
    recycle_after_frames: int = 2000
    recycle_above_mb: float = 2048.0
    start_timeout_s: float = 180.0
    max_side_px: int = 1280
    detect_max_side_px: int = 640
    detect_min_side_px: int = 32
    min_confidence: float = 0.6
    crop_changed: bool = True
    crop_max_fraction: float = 0.5
    crop_margin_px: int = 32
    track_regions: bool = True
    full_detect_interval_s: float = 3.0
    change_level: int = 24
    change_pixels: int = 4
    same_text_similarity: float = 0.75
    end_grace_s: float = 2.0
    refresh_s: float = 30.0

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ConfigError(f"OCR engine {self.engine!r} is unknown: use one of {', '.join(ENGINES)}")
        if self.workers < 0 or self.threads_per_worker < 1:
            raise ConfigError("OCR workers must be >= 0 and threads_per_worker >= 1: fix OcrOptions")
        if self.recycle_after_frames < 1 or self.recycle_above_mb <= 0:
            raise ConfigError("OCR recycle_after_frames and recycle_above_mb must be positive: fix OcrOptions")
        if self.full_detect_interval_s < 0 or not 0 < self.change_level < 255 or self.change_pixels < 1:
            raise ConfigError(
                "OCR full_detect_interval_s must be >= 0, 0 < change_level < 255 and change_pixels >= 1: fix OcrOptions"
            )
        if self.detect_max_side_px < 64 or self.detect_min_side_px < 8:
            raise ConfigError("OCR detect_max_side_px must be >= 64 and detect_min_side_px >= 8: fix OcrOptions")
        if self.max_side_px < 32:
            raise ConfigError(f"OCR max_side_px={self.max_side_px} is too small: use 640 or more")
