"""OCR stage: on-screen text of sampled frames as evidence, followed over time.

Public face (docs/ARCHITECTURE.md)::

    stage = OcrStage(OcrOptions(engine="paddle"))   # or "rapid"
    evidence = stage.process(sampled_frame)          # synchronous
    stage.submit(sampled_frame); stage.poll()        # shared bounded queue, never blocks
    stage.flush(stream_id); stage.dropped(stream_id); stage.stats(); stage.close()
    resolve_model(options)                           # which weights, or a ConfigError saying how to get them

Prices in the text are parsed with ``events.parse_prices`` (shared with ASR and the rules).
"""

from ocr.engine import ModelInfo, resolve_model
from ocr.options import OcrOptions
from ocr.stage import OcrStage, OcrStats

__all__ = ["ModelInfo", "OcrOptions", "OcrStage", "OcrStats", "resolve_model"]
