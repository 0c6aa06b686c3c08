"""OCR stage: on-screen text of sampled frames as evidence, followed over time.

Public face (docs/ARCHITECTURE.md)::

    stage = OcrStage(OcrOptions(engine="paddle"))   # or "rapid"
    evidence = stage.process(sampled_frame)          # synchronous (an events.FrameDetector)
    evidence += stage.finish(stream_id)              # end of stream: every open observation ends
    stage.stats(); stage.close()                     # OcrStats (frames read, worker pool); stop the workers
    resolve_model(options)                           # which weights, or a ConfigError saying how to get them

Prices in the text are parsed with ``events.parse_prices`` (shared with ASR and the rules).
"""

from ocr.engine import ModelInfo, resolve_model
from ocr.options import OcrOptions
from ocr.stage import OcrStage, OcrStats

__all__ = ["ModelInfo", "OcrOptions", "OcrStage", "OcrStats", "resolve_model"]
