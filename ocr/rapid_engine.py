"""RapidOCR 3.x on ONNX Runtime with its bundled PP-OCRv6 small det/rec models.

Only the bundled models load offline (any other choice downloads on first
use), so the engine is warmed up with one tiny image at load: a broken
install fails at start, not on the first live frame. The angle classifier is
off: live-commerce text is upright and it costs a model call per line.
Detection runs at the stage's ``max_side_px`` instead of RapidOCR's default
upscaling, so 640 px frames cost what 640 px should.
"""

from __future__ import annotations

import numpy as np

from ocr.engine import ModelInfo, TextLine, quad_to_box
from ocr.options import OcrOptions


class RapidEngine:
    name = "rapid"

    def __init__(self, model: ModelInfo, options: OcrOptions) -> None:
        from rapidocr import RapidOCR

        self._ocr = RapidOCR(
            params={
                "Global.use_cls": False,
                "Global.log_level": "error",
                "Global.text_score": 0.3,
                "Det.model_path": model.det,
                "Rec.model_path": model.rec,
                # Detect at the size the stage hands over: the default ("min" side 736) would
                # upscale a 640x360 frame to 1308x736 and make max_side_px pointless.
                "Det.limit_type": "max",
                "Det.limit_side_len": options.max_side_px,
                "EngineConfig.onnxruntime.intra_op_num_threads": options.threads_per_worker,
                "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            }
        )
        self.read(np.full((48, 160, 3), 255, np.uint8))

    def read(self, image: np.ndarray) -> list[TextLine]:
        out = self._ocr(np.ascontiguousarray(image))
        if out.txts is None or out.boxes is None:
            return []
        return [
            TextLine(text, float(score), quad_to_box(box))
            for text, score, box in zip(out.txts, out.scores, out.boxes)
            if text.strip()
        ]
