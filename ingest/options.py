"""Ingest options, what an opened source looks like, and its running counters."""

from __future__ import annotations

from dataclasses import dataclass

from events import ConfigError


@dataclass(frozen=True, slots=True)
class IngestOptions:
    """How a source is read.

    ``sample_interval_s`` is the frame grid (1 s: the per-second slicing the
    platforms use); ``realtime`` paces a local file at its own speed so it
    behaves like a live stream, and ``loop`` replays it forever (media time
    keeps counting up). Reconnects back off from
    ``initial_backoff_s`` doubling to ``max_backoff_s`` and stop after
    ``give_up_after_s`` of failing; ``stall_timeout_s`` without a packet
    counts as a drop.
    """

    realtime: bool = False
    loop: bool = False
    sample_interval_s: float = 1.0
    audio: bool = True
    audio_chunk_s: float = 0.5
    reconnect: bool = True
    initial_backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    stall_timeout_s: float = 10.0
    give_up_after_s: float = 300.0
    open_timeout_s: float = 10.0
    queue_size: int = 64

    def __post_init__(self) -> None:
        for name in ("sample_interval_s", "audio_chunk_s", "initial_backoff_s", "max_backoff_s", "stall_timeout_s", "open_timeout_s"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"ingest option {name}={getattr(self, name)!r}: must be a positive number of seconds")
        if self.give_up_after_s < 0 or self.queue_size < 1:
            raise ConfigError("ingest options give_up_after_s >= 0 and queue_size >= 1 are required; fix the ingest config")


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What ``StreamSource.open()`` found.

    ``is_live`` sources (network, no known duration) are reconnected when they
    drop; finite ones (files, VOD playlists) simply end. ``warnings`` are the
    operator-facing notes (e.g. no audio: speech is not covered).
    """

    source: str
    stream_id: str
    is_live: bool
    has_audio: bool
    width: int
    height: int
    fps: float | None
    duration_s: float | None
    video_codec: str
    audio_codec: str | None
    format_name: str
    warnings: tuple[str, ...] = ()


@dataclass(slots=True)
class IngestStats:
    """Counters of one source, updated by its reader thread; ``StreamSource.stats`` hands out copies.

    ``packets_skipped`` are non-key video packets never given to the decoder
    (the keyframe gate); ``frames_decoded`` vs ``frames_emitted`` shows what
    the sampling grid saved on colour conversion. ``end_reason`` is ``eof``,
    ``closed``, ``gave_up`` or ``error`` once iteration is over.
    """

    packets: int = 0
    video_packets: int = 0
    audio_packets: int = 0
    packets_skipped: int = 0
    frames_decoded: int = 0
    frames_emitted: int = 0
    decode_errors: int = 0
    audio_chunks: int = 0
    audio_seconds: float = 0.0
    reconnects: int = 0
    loops: int = 0
    has_audio: bool = False
    keyframe_interval_s: float | None = None
    media_time: float = 0.0
    end_reason: str = ""
