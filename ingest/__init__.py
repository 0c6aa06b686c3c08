"""Ingest: open a live source (RTMP, HLS, RTSP, HTTP-FLV, SRT, a file) and read it as sampled events.

Public face::

    IngestOptions, SourceInfo, IngestStats, StreamSource, validate_source

``StreamSource`` yields ``events.VideoFrame`` on the ``sample_interval_s``
grid (BGR uint8) and ``events.AudioChunk`` (16 kHz mono float32) in media-time
order, reconnecting live sources that drop.
"""

from ingest.options import IngestOptions, IngestStats, SourceInfo
from ingest.source import StreamSource
from ingest.url import validate_source

__all__ = ["IngestOptions", "IngestStats", "SourceInfo", "StreamSource", "validate_source"]
