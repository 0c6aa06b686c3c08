"""The ASR work of one process: per-stream VAD and segmentation, a backlog, one model.

The same engine runs inside a worker process (live) and in the caller's process
(``workers=0``, for scanning a recording), so both paths behave the same.

``accept`` is cheap (VAD only, a few ms per chunk) and never waits for Whisper;
``step`` runs one Whisper pass for the stream that has waited longest, and (``pack_streams``,
off by default) for whatever other streams have waiting that still fits the window: that paid
while every window was encoded whole; with the window fitted to the speech it no longer saves
CPU live and costs latency at 8 streams (``AsrOptions.pack_streams``).
A pass takes only what is waiting when it starts (it never waits for a window to fill),
so at low load nothing changes and under load the windows fill by themselves. A stream is
decoded on the cheaper tier (beam 1, no temperature fallback, stricter VAD, the encoder's
window fitted to the speech) while ``set_degraded`` says so: the worker's scheduler
(``livewatch.scheduler``) chooses it per stream, from every stage's load, so the engine never
decides it alone. Speech waiting beyond ``max_backlog_s`` is dropped, oldest first, so memory
stays bounded whatever happens.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from asr.guard import load_phrases
from asr.options import AsrOptions
from asr.transcribe import SAMPLE_RATE, STREAM_GAP_S, Batch, Transcriber, Utterance
from asr.vad import WINDOW, Cut, Segmenter, SileroStream
from events import AudioChunk, Evidence

log = logging.getLogger(__name__)

_GAP_S = 0.25  # a jump in media time larger than this is a new segment of the stream
_JOIN_S = 0.05  # carried audio and the utterance after it closer than this are one utterance


@dataclass(frozen=True, slots=True)
class AsrStatus:
    """What the stream status shows about ASR for one stream."""

    stream_id: str
    degraded: bool = False
    lag_s: float = 0.0  # wall seconds the oldest waiting speech has waited
    backlog_s: float = 0.0  # seconds of speech waiting for Whisper
    audio_s: float = 0.0
    speech_s: float = 0.0
    segments: int = 0
    dropped_segments: int = 0  # removed by the hallucination guard
    dropped_audio_s: float = 0.0  # speech or chunks dropped under back-pressure
    worker_restarts: int = 0


class _NoVad:
    """Stands in for Silero when VAD is off: every window is speech."""

    def __init__(self) -> None:
        self._rest = 0

    def probs(self, samples: np.ndarray) -> np.ndarray:
        total = self._rest + len(samples)
        self._rest = total % WINDOW
        return np.ones(total // WINDOW, dtype=np.float32)


@dataclass
class _Stream:
    origin: float  # media time of sample 0 of the current segment
    vad: Any
    seg: Segmenter
    buffer: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    buffer_start: int = 0  # stream sample index of buffer[0]
    samples: int = 0
    pending: deque[Utterance] = field(default_factory=deque)
    carry: Utterance | None = None
    final: bool = False
    degraded: bool = False
    audio_s: float = 0.0
    speech_s: float = 0.0
    segments: int = 0
    dropped_segments: int = 0
    dropped_audio_s: float = 0.0


class AsrEngine:
    """Per-process ASR state for any number of streams, sharing one Whisper model."""

    def __init__(self, options: AsrOptions, model: Any) -> None:
        self._o = options
        self._transcriber = Transcriber(options, model, load_phrases(options.hallucinations_file))
        # Language detection runs once per window: streams of different languages must not share one.
        self._pack = options.pack_streams and options.language is not None
        self._streams: dict[str, _Stream] = {}
        self._finished: dict[str, AsrStatus] = {}  # last status of ended streams (bounded)

    # ---- audio in (cheap) ------------------------------------------------------------
    def accept(self, chunk: AudioChunk) -> None:
        """Run VAD over ``chunk`` and queue any utterance it completes."""
        samples = _as_16k(chunk)
        st = self._streams.get(chunk.stream_id)
        if st is None:
            st = self._new_stream(chunk.stream_id, chunk.media_start, None)
        elif st.final or abs(st.origin + st.samples / SAMPLE_RATE - chunk.media_start) > _GAP_S:
            log.info("audio resumes at %.2fs: new segment", chunk.media_start, extra={"stream_id": chunk.stream_id})
            self._cut(chunk.stream_id, st, st.seg.finish(), chunk.wall_time)
            st = self._new_stream(chunk.stream_id, chunk.media_start, st)
        st.buffer = np.concatenate([st.buffer, samples])
        st.samples += len(samples)
        st.audio_s += len(samples) / SAMPLE_RATE
        st.seg.threshold = self._o.degraded_vad_threshold if st.degraded else self._o.vad_threshold
        self._cut(chunk.stream_id, st, st.seg.push(st.vad.probs(samples)), chunk.wall_time)
        self._trim(st)
        self._bound_backlog(chunk.stream_id, st)

    def end_stream(self, stream_id: str) -> None:
        """No more audio for ``stream_id``: close its last utterance; its next pass commits all."""
        st = self._streams.get(stream_id)
        if st is None:
            return
        self._cut(stream_id, st, st.seg.finish(), time.time())
        st.final = True
        if not self.has_pending(stream_id):  # nothing left to transcribe: no pass would ever retire it
            self._retire(stream_id, st)

    # ---- Whisper (expensive) ---------------------------------------------------------
    def has_pending(self, stream_id: str | None = None) -> bool:
        if stream_id is not None:
            st = self._streams.get(stream_id)
            return st is not None and (bool(st.pending) or (st.final and st.carry is not None))
        return any(self.has_pending(sid) for sid in list(self._streams))

    def step(self, stream_id: str | None = None) -> list[Evidence]:
        """One Whisper pass led by ``stream_id`` (default: the stream that waited longest).

        With packing, other streams' waiting speech rides along while it fits ``max_window_s``,
        longest-waiting first; only streams decoded alike (degraded or not) share a pass, so a
        stream at full quality never gets beam 1 because another one is behind.
        """
        sid = stream_id or next(iter(self._waiting()), None)
        st = self._streams.get(sid) if sid else None
        if sid is None or st is None or not self.has_pending(sid):
            return []
        taken = [(sid, st, self._take_batch(st, self._o.max_window_s))]
        if self._pack:
            taken += self._riders(sid, st.degraded, self._o.max_window_s - taken[0][2].duration)
        results = self._transcriber.run([batch for _, _, batch in taken], degraded=st.degraded)
        evidence: list[Evidence] = []
        for i, ((rsid, rst, batch), result) in enumerate(zip(taken, results)):
            if i and not result.heard:
                # Whisper sometimes ends a window early after a pause ("no speech after the last
                # timestamp") and never decodes the pieces after it: such a rider goes back as it
                # was, and leads a pass of its own at the latest when it is the oldest.
                rst.pending.extendleft(reversed(batch.utterances))
                continue
            rst.carry = result.carry
            rst.segments += len(result.evidence)
            rst.dropped_segments += sum(result.dropped.values())
            if rst.final and not self.has_pending(rsid):
                self._retire(rsid, rst)
            evidence += result.evidence
        return evidence

    def _riders(self, lead: str, degraded: bool, room_s: float) -> list[tuple[str, _Stream, Batch]]:
        """Batches of other streams that fit in ``room_s`` (a gap of silence before each), oldest first.

        A stream whose next utterance does not fit is passed over; it leads a pass of its own later.
        (Carried audio is never taken without its continuation: the word at the cut needs both.)
        """
        riders: list[tuple[str, _Stream, Batch]] = []
        for sid in self._waiting():
            if sid == lead:
                continue
            st = self._streams[sid]
            if st.degraded != degraded or _head(st)[0] > room_s - STREAM_GAP_S:
                continue
            batch = self._take_batch(st, room_s - STREAM_GAP_S)
            room_s -= STREAM_GAP_S + batch.duration
            riders.append((sid, st, batch))
        return riders

    def set_degraded(self, stream_id: str, degraded: bool) -> None:
        """Decode ``stream_id`` on the cheaper tier (or back on the full one) from its next pass.

        A stream the engine does not hold (no audio yet, or ended) is left alone: the scheduler
        says it again at its next reading, and an ended stream must leave nothing behind.
        """
        st = self._streams.get(stream_id)
        if st is not None:
            st.degraded = degraded

    def _retire(self, stream_id: str, st: _Stream) -> None:
        """An ended stream with nothing left: only its last status is kept (until ``forget``; bounded)."""
        del self._streams[stream_id]
        self._finished[stream_id] = self.status(stream_id, st)
        while len(self._finished) > 100:
            self._finished.pop(next(iter(self._finished)))

    def forget(self, stream_id: str) -> None:
        """Drop everything kept about ``stream_id``, its last status included."""
        self._streams.pop(stream_id, None)
        self._finished.pop(stream_id, None)

    def status(self, stream_id: str, st: _Stream | None = None) -> AsrStatus:
        st = st or self._streams.get(stream_id)
        if st is None:
            return self._finished.get(stream_id, AsrStatus(stream_id))
        waiting = [u.end_wall for u in st.pending]
        return AsrStatus(
            stream_id=stream_id,
            degraded=st.degraded,
            lag_s=round(max(0.0, time.time() - min(waiting)), 3) if waiting else 0.0,
            backlog_s=round(sum(u.duration for u in st.pending), 3),
            audio_s=round(st.audio_s, 3),
            speech_s=round(st.speech_s, 3),
            segments=st.segments,
            dropped_segments=st.dropped_segments,
            dropped_audio_s=round(st.dropped_audio_s, 3),
        )

    def stream_ids(self) -> list[str]:
        return list(self._streams)

    # ---- internals -------------------------------------------------------------------
    def _new_stream(self, stream_id: str, media_start: float, old: _Stream | None) -> _Stream:
        o = self._o
        seg = Segmenter(o.vad_threshold, o.min_silence_s, o.speech_pad_s, o.min_speech_s, o.max_utterance_s)
        st = _Stream(origin=media_start, vad=SileroStream() if o.vad else _NoVad(), seg=seg)
        if old is not None:  # a gap: keep counters and whatever the old segment still owes
            st.pending, st.carry, st.degraded = old.pending, old.carry, old.degraded
            st.audio_s, st.speech_s, st.segments = old.audio_s, old.speech_s, old.segments
            st.dropped_segments, st.dropped_audio_s = old.dropped_segments, old.dropped_audio_s
        self._streams[stream_id] = st
        return st

    def _cut(self, stream_id: str, st: _Stream, cuts: list[Cut], wall_time: float) -> None:
        for cut in cuts:
            lo = max(cut.start, st.buffer_start) - st.buffer_start
            hi = min(cut.end, st.samples) - st.buffer_start
            if hi <= lo:
                continue
            utt = Utterance(
                stream_id=stream_id,
                media_start=st.origin + (lo + st.buffer_start) / SAMPLE_RATE,
                samples=st.buffer[lo:hi].copy(),
                end_wall=wall_time - (st.samples - (hi + st.buffer_start)) / SAMPLE_RATE,
                forced=cut.forced,
            )
            st.pending.append(utt)
            st.speech_s += utt.duration

    def _trim(self, st: _Stream) -> None:
        """Forget audio no utterance can still need (keeps a little for the start pad)."""
        keep_from = st.seg.open_start
        if keep_from is None:
            keep_from = st.samples - int(self._o.speech_pad_s * SAMPLE_RATE) - WINDOW
        drop = max(0, keep_from - st.buffer_start)
        if drop:
            st.buffer = st.buffer[drop:]
            st.buffer_start += drop

    def _bound_backlog(self, stream_id: str, st: _Stream) -> None:
        while len(st.pending) > 1 and sum(u.duration for u in st.pending) > self._o.max_backlog_s:
            lost = st.pending.popleft()
            st.dropped_audio_s += lost.duration
            st.carry = None
            log.warning("ASR backlog over %.0fs: dropped %.1fs of speech", self._o.max_backlog_s, lost.duration, extra={"stream_id": stream_id})

    def _take_batch(self, st: _Stream, room_s: float) -> Batch:
        """Waiting utterances (after any carried audio) up to ``room_s``, ending at a forced cut.

        The first one is taken whatever its length (the caller checks it fits when that matters).
        """
        batch: list[Utterance] = [st.carry] if st.carry is not None else []
        st.carry = None
        total = sum(u.duration for u in batch)
        while st.pending and (not batch or total + st.pending[0].duration <= room_s):
            utt = st.pending.popleft()
            if batch and _continues(batch[-1], utt):
                batch[-1] = _join(batch[-1], utt)  # carried audio + its continuation: one utterance
            else:
                batch.append(utt)
            total += utt.duration
            if utt.forced:
                break
        return Batch(tuple(batch), final=st.final and not st.pending)

    def _waiting(self) -> list[str]:
        """Streams with speech to transcribe, the one waiting longest first (an ended stream's last carry first of all)."""
        waiting = [(st.pending[0].end_wall if st.pending else 0.0, sid) for sid, st in self._streams.items() if self.has_pending(sid)]
        return [sid for _, sid in sorted(waiting)]


def _continues(a: Utterance, b: Utterance) -> bool:
    return abs(a.media_end - b.media_start) < _JOIN_S


def _head(st: _Stream) -> tuple[float, float]:
    """Length and completion (wall time) of the first utterance of the stream's next batch:
    carried audio joined to its continuation is one utterance, as old as the continuation."""
    if st.carry is None:
        return st.pending[0].duration, st.pending[0].end_wall
    if st.pending and _continues(st.carry, st.pending[0]):
        return st.carry.duration + st.pending[0].duration, st.pending[0].end_wall
    return st.carry.duration, st.carry.end_wall


def _join(a: Utterance, b: Utterance) -> Utterance:
    return Utterance(a.stream_id, a.media_start, np.concatenate([a.samples, b.samples]), b.end_wall, b.forced, b.speech_prob)


def _as_16k(chunk: AudioChunk) -> np.ndarray:
    """Chunk samples as float32 mono at 16 kHz (ingest already delivers that; be safe)."""
    samples = np.asarray(chunk.samples, dtype=np.float32).reshape(-1)
    if chunk.sample_rate == SAMPLE_RATE or len(samples) == 0:
        return samples
    n = int(round(len(samples) * SAMPLE_RATE / chunk.sample_rate))
    return np.interp(np.linspace(0, len(samples) - 1, n), np.arange(len(samples)), samples).astype(np.float32)
