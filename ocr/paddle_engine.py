"""PaddleOCR 3.x (PP-OCRv5 mobile det/rec) on paddlepaddle 3.2.2, CPU, fully offline.

Offline needs three things: both models passed by name *and* directory (or
paddlex fetches them from a hub), the document-orientation, unwarping and
text-line-orientation models turned off (they are separate downloads), and
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

from ocr.engine import PADDLE_DET, PADDLE_REC, ModelInfo, TextLine, quad_to_box
from ocr.options import OcrOptions

log = logging.getLogger(__name__)

_OFFLINE_FLAGS = {
    "PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK": "True",
    "PADDLE_PDX_MODEL_SOURCE": "bos",  # never the first-choice Hugging Face probe if anything asks
}


class PaddleEngine:
    name = "paddle"

    def __init__(self, model: ModelInfo, options: OcrOptions) -> None:
        for key, value in _OFFLINE_FLAGS.items():
            os.environ.setdefault(key, value)
        warnings.filterwarnings("ignore", message="No ccache found")
        from paddleocr import PaddleOCR

        for noisy in ("paddlex", "paddleocr", "ppocr"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        self._ocr = PaddleOCR(
            text_detection_model_name=PADDLE_DET,
            text_detection_model_dir=model.det,
            text_recognition_model_name=PADDLE_REC,
            text_recognition_model_dir=model.rec,
            use_doc_orientation_classify=False,
            use_doc_unwarping=False,
            use_textline_orientation=False,
            device="cpu",
            cpu_threads=options.threads_per_worker,
        )

    def read(self, image: np.ndarray) -> list[TextLine]:
        lines: list[TextLine] = []
        for result in self._ocr.predict(np.ascontiguousarray(image)):
            for text, score, poly in zip(result["rec_texts"], result["rec_scores"], result["rec_polys"]):
                if text.strip():
                    lines.append(TextLine(text, float(score), quad_to_box(poly)))
        return lines
