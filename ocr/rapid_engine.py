"""RapidOCR 3.x on ONNX Runtime with its bundled PP-OCRv6 small det/rec models.

Only the bundled models load offline (any other choice downloads on first
use), so the engine is warmed up with one tiny image at load: a broken
install fails at start, not on the first live frame. The angle classifier is
off: live-commerce text is upright and it costs a model call per line.
Detection runs at the stage's ``max_side_px`` instead of RapidOCR's default
upscaling, so 640 px frames cost what 640 px should. Detection and recognition
are RapidOCR's own det and rec models called one at a time; RapidOCR crops
along its boxes as they are, so ``detect`` hands them over unchanged.
"""

from __future__ import annotations

import numpy as np

from ocr.engine import ModelInfo
from ocr.options import OcrOptions


class RapidEngine:
    name = "rapid"

    def __init__(self, model: ModelInfo, options: OcrOptions) -> None:
        from rapidocr import RapidOCR

        self._ocr = RapidOCR(
            params={
                "Global.use_cls": False,
                "Global.log_level": "error",
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
        blank = np.full((48, 160, 3), 255, np.uint8)
        self.detect(blank)
        self.recognize([blank])

    def detect(self, image: np.ndarray) -> list[np.ndarray]:
        # RapidOCR keeps use_* flags from one call to the next, so every call names all three.
        out = self._ocr(np.ascontiguousarray(image), use_det=True, use_cls=False, use_rec=False)
        boxes = getattr(out, "boxes", None)  # an image without text gives an empty output of another type
        return [] if boxes is None else [np.asarray(box, dtype=np.float32) for box in boxes]

    def recognize(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        if not crops:
            return []
        out = self._ocr.recognize_txt([np.ascontiguousarray(c) for c in crops])
        return [(str(text), float(score)) for text, score in zip(out.txts or (), out.scores or ())]
