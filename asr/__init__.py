"""Speech-to-text on live audio: faster-whisper (offline Whisper base), Silero VAD, guards.

Public face (docs/ARCHITECTURE.md)::

    stage = AsrStage(AsrOptions(language="zh", hotwords=brand_names))
    evidence = stage.process(audio_chunk)   # non-blocking: whatever text is ready (an events.AudioDetector)
    evidence += stage.finish(stream_id)     # end of stream: the rest
    stage.close()                           # stop the worker processes
    stage.status(stream_id)                 # AsrStatus: lag, backlog, degraded
    stage.set_degraded(stream_id, True)     # the cheaper tier for this stream (the worker's scheduler decides)
    stage.worker_stats()                    # AsrWorkerStats: worker deaths, replacements, gaps
    stage.transcript(stream_id, t0, t1)     # the text around an alert
    resolve_model(options)                  # ModelInfo, for `livewatch check`
"""

from asr.engine import AsrStatus
from asr.model import ModelInfo, resolve_model
from asr.options import AsrOptions
from asr.stage import AsrStage, AsrWorkerStats

__all__ = ["AsrOptions", "AsrStage", "AsrStatus", "AsrWorkerStats", "ModelInfo", "resolve_model"]
