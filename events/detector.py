"""What every detector is to the top floor: one input in, evidence out; the stream's end; shutdown.

OCR and logos take sampled frames, ASR takes audio chunks, the fingerprint
index has one face for each. They keep their own per-stream state keyed by
``stream_id`` (text on screen, logos in view, speech being transcribed,
copies playing), so ``finish`` is how a stream's last evidence comes out, and
``close`` releases what a detector runs (worker processes). The top floor
(``livewatch.stages``) holds them in lists and never asks which one it has.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from events.types import AudioChunk, Evidence, SampledFrame

Item = TypeVar("Item", contravariant=True)


class Detector(Protocol[Item]):
    """Turns a stream's inputs, in media-time order, into evidence."""

    def process(self, item: Item, /) -> list[Evidence]:
        """One input (of any stream); the evidence it completed, possibly none."""
        ...

    def finish(self, stream_id: str, /) -> list[Evidence]:
        """The stream ended: the evidence still held for it (open observations, buffered speech); forget it."""
        ...

    def close(self) -> None:
        """Stop what the detector runs (worker processes); nothing when it runs nothing."""
        ...


FrameDetector = Detector[SampledFrame]
AudioDetector = Detector[AudioChunk]
