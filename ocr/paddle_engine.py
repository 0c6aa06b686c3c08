"""PaddleOCR 3.x (PP-OCRv5 mobile det/rec) on paddlepaddle 3.2.2, CPU, fully offline.

Offline needs two things: both models passed by name *and* directory (or
paddlex fetches them from a hub; the document-orientation, unwarping and
text-line-orientation models of the full pipeline are never loaded), and
``PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK`` set before paddlex is first imported
(else it probes four model hosts at start and waits for them to time out).
Those flags are process-wide: this module is meant to be imported in an OCR
worker process, where setting them touches nothing else.
"""

from __future__ import annotations

import logging
import os
import warnings

import numpy as np

from ocr.engine import PADDLE_DET, PADDLE_REC, ModelInfo, min_area_quad
from ocr.options import OcrOptions

log = logging.getLogger(__name__)

_OFFLINE_FLAGS = {
    "PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK": "True",
    "PADDLE_PDX_MODEL_SOURCE": "bos",  # never the first-choice Hugging Face probe if anything asks
}


# The detection settings PaddleOCR's OCR pipeline (paddlex configs/pipelines/OCR.yaml) runs the
# detector with; the detector's own defaults differ (960 px long side), so they are spelled out.
_PIPELINE_DET = {"limit_side_len": 64, "limit_type": "min", "thresh": 0.3, "box_thresh": 0.6, "unclip_ratio": 1.5}
_PIPELINE_REC_BATCH = 6
# Input shapes whose oneDNN kernels and buffers a predictor keeps. Every read has shapes of its own
# (changed areas of any size for detection, batch widths for recognition), so kept shapes are hardly
# ever met again, while PaddleOCR's default of 10 held 150-250 MB more in the worker, filling up over
# hundreds of reads; one costs no measurable time (570-610 ms of CPU per 1280 px frame either way).
_ONEDNN_CACHED_SHAPES = 1


class PaddleEngine:
    """PP-OCRv5 mobile det and rec as two models, giving what ``PaddleOCR.predict`` gives.

    Detection runs with the pipeline's settings, quads are sorted and turned into the
    pipeline's crop rectangles, and recognition sorts crops by aspect ratio into batches of
    six as the pipeline does (padding within a batch nudges scores in the third decimal).
    """

    name = "paddle"

    def __init__(self, model: ModelInfo, options: OcrOptions) -> None:
        for key, value in _OFFLINE_FLAGS.items():
            os.environ.setdefault(key, value)
        warnings.filterwarnings("ignore", message="No ccache found")
        from paddleocr import TextDetection, TextRecognition
        from paddlex.inference.pipelines.components import SortQuadBoxes

        for noisy in ("paddlex", "paddleocr", "ppocr"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        common = {"device": "cpu", "cpu_threads": options.threads_per_worker, "mkldnn_cache_capacity": _ONEDNN_CACHED_SHAPES}
        self._det = TextDetection(model_name=PADDLE_DET, model_dir=model.det, **_PIPELINE_DET, **common)
        self._rec = TextRecognition(model_name=PADDLE_REC, model_dir=model.rec, **common)
        self._sort = SortQuadBoxes()

    def detect(self, image: np.ndarray) -> list[np.ndarray]:
        (result,) = self._det.predict(np.ascontiguousarray(image))
        polys = result["dt_polys"]
        return [min_area_quad(poly) for poly in self._sort(polys)] if len(polys) else []

    def recognize(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        if not crops:
            return []
        order = sorted(range(len(crops)), key=lambda i: crops[i].shape[1] / crops[i].shape[0])
        found = self._rec.predict([np.ascontiguousarray(crops[i]) for i in order], batch_size=_PIPELINE_REC_BATCH)
        out: list[tuple[str, float]] = [("", 0.0)] * len(crops)
        for i, result in zip(order, found):
            out[i] = (str(result["rec_text"]), float(result["rec_score"]))
        return out
