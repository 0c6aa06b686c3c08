"""``StreamSource``: one live source (or file) read with PyAV into sampled frames and audio chunks.

A reader thread owns the FFmpeg container: it demuxes, decodes only what the
sampling grid needs, stamps media and wall time, reconnects dropped live
sources, and hands events to the consumer through a bounded queue. The
thread exists so that ``close()`` can stop iteration at once even while
FFmpeg is blocked in a network read (that read itself is bounded by
``stall_timeout_s`` through PyAV's interrupt callback).

A live source is waited for the same way whether it dropped or has not gone
live yet: streams are usually registered before the broadcaster starts, and
the server refuses them until then. ``open()`` retries such a source with the
reconnect backoff for up to ``give_up_after_s``; files and answers that will
not change (an unknown protocol, no video track) fail at once.
"""

from __future__ import annotations

import copy
import logging
import math
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterator

import av
import numpy as np

from events import AudioChunk, SourceError, VideoFrame
from ingest.options import IngestOptions, IngestStats, SourceInfo
from ingest.sampling import AudioChunker, FrameGrid, Interleaver, KeyframeGate
from ingest.url import is_network, protocol_whitelist, redact, validate_source

log = logging.getLogger(__name__)

AUDIO_RATE = 16000
class _End:
    """The reader's last item: the source is finished."""


_END = _End()


class _NotAvailable(SourceError):
    """A network source did not answer or refused us: it may be there later (not live yet, dropped)."""


@dataclass
class _AudioPath:
    """A connection's sound when it is listened to: the track, its resampler and chunker."""

    stream: av.audio.stream.AudioStream
    resampler: av.AudioResampler
    chunker: AudioChunker


@dataclass
class _Connection:
    """One opened container and its per-connection clocks and decoders."""

    container: av.container.InputContainer
    video: av.video.stream.VideoStream
    has_audio: bool  # the source has a sound track (listened to or not)
    origin: float | None  # source timestamp (s) that maps to ``base``
    base: float | None = None  # media time of ``origin``; set at the first packet
    audio: _AudioPath | None = None
    audio_codec: str | None = None

    @property
    def tracks(self) -> tuple[str, ...]:
        return ("video", "audio") if self.audio is not None else ("video",)


class StreamSource:
    """Iterate ``VideoFrame`` (BGR, on the sampling grid) and ``AudioChunk`` (16 kHz mono) of one source.

    Usage::

        src = StreamSource("rtmp://host/live/key", "shop-1", IngestOptions())
        info = src.open()            # SourceError if it cannot be opened or has no video
        for event in src:            # ends at end of file / when a live source is gone for good
            ...
        src.close()                  # from any thread; iteration stops promptly
    """

    def __init__(self, url: str, stream_id: str, options: IngestOptions = IngestOptions()) -> None:
        self.source = validate_source(url)
        self.stream_id = stream_id
        self.options = options
        self._extra = {"stream_id": stream_id}
        self._stats = IngestStats()
        self._info: SourceInfo | None = None
        self._conn: _Connection | None = None
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._queue: queue.Queue[VideoFrame | AudioChunk | BaseException | _End] = queue.Queue(maxsize=options.queue_size)
        self._thread: threading.Thread | None = None
        self._grid = FrameGrid(options.sample_interval_s)
        self._gate = KeyframeGate(options.sample_interval_s)
        self._interleaver = Interleaver(("video",))  # replaced by each connection's
        self._outage_start = 0.0
        self._pace_origin: float | None = None

    # -- public face ---------------------------------------------------------------

    @property
    def stats(self) -> IngestStats:
        """A copy of the counters (safe to read from any thread)."""
        return copy.copy(self._stats)

    @property
    def info(self) -> SourceInfo | None:
        return self._info

    def open(self) -> SourceInfo:
        """Open the source and describe it; raises ``SourceError``.

        A network source that refuses us or does not answer (not live yet) is retried with the
        reconnect backoff for up to ``give_up_after_s`` (when ``reconnect`` is on); ``close()``
        from another thread ends the wait. Anything else fails at once.
        """
        with self._lock:
            if self._info is not None:
                return self._info
            if self._closed.is_set():
                raise SourceError(f"{redact(self.source)}: source already closed; create a new StreamSource")
        conn = self._first_connection()
        with self._lock:
            if self._closed.is_set():
                conn.container.close()
                raise SourceError(f"{redact(self.source)}: closed while opening")
            self._conn = conn
            self._info = self._describe(conn)
        for warning in self._info.warnings:
            log.warning("%s: %s", redact(self.source), warning, extra=self._extra)
        log.info("opened %s (%dx%d, live=%s, audio=%s)", redact(self.source), self._info.width,
                 self._info.height, self._opened.is_live, self._info.has_audio, extra=self._extra)
        return self._info

    def __iter__(self) -> Iterator[VideoFrame | AudioChunk]:
        self.open()
        with self._lock:
            if self._thread is None and not self._closed.is_set():
                self._thread = threading.Thread(target=self._run, name=f"ingest-{self.stream_id}", daemon=True)
                self._thread.start()
        while not self._closed.is_set():
            try:
                item = self._queue.get(timeout=0.1)
            except queue.Empty:
                if self._thread is None or (not self._thread.is_alive() and self._queue.empty()):
                    return
                continue
            if isinstance(item, _End):
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def set_sample_interval(self, seconds: float) -> None:
        """Sample a frame every ``seconds`` from now on (the worker's scheduler lengthens it under load).

        Safe from any thread: the reader takes it up after the grid point already due.
        """
        if not seconds > 0:
            raise ValueError(f"sample interval {seconds!r}: must be a positive number of seconds")
        self._grid.interval = seconds
        self._gate.retime(seconds)

    def close(self) -> None:
        """Stop reading; safe from any thread and more than once."""
        self._closed.set()
        with self._lock:
            thread, conn = self._thread, self._conn
            if thread is None and conn is not None:
                self._conn = None
                conn.container.close()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1.0)

    def __enter__(self) -> StreamSource:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- opening -------------------------------------------------------------------

    def _first_connection(self) -> _Connection:
        """Connect, waiting for a live source that is not there yet (see ``open``)."""
        try:
            return self._connect()
        except _NotAvailable as exc:
            if not self.options.reconnect:
                raise SourceError(str(exc)) from None
            answer = str(exc).removeprefix(f"{redact(self.source)}: ")
        name, wait_s = redact(self.source), self.options.give_up_after_s
        log.warning("%s: not live yet (%s); waiting for it up to %.0fs", name, answer, wait_s, extra=self._extra)
        conn = self._retry("connect")
        if conn is not None:
            return conn
        if self._closed.is_set():
            raise SourceError(f"{name}: closed while waiting for the stream to go live")
        raise SourceError(f"{name}: not live after waiting {wait_s:g}s (first answer: {answer}); "
                          "check the stream is broadcasting, or raise --give-up-after")

    def _connect(self) -> _Connection:
        opts = self.options
        try:
            container = av.open(
                self.source,
                options={"protocol_whitelist": protocol_whitelist(self.source)},
                timeout=(opts.open_timeout_s, opts.stall_timeout_s),
            )
        except (av.FFmpegError, OSError) as exc:
            error = _open_error(self.source, exc, opts.open_timeout_s)
            if is_network(self.source) and not isinstance(exc, av.error.ProtocolNotFoundError):
                raise _NotAvailable(str(error)) from None
            raise error from None
        try:
            if not container.streams.video:
                raise SourceError(f"{redact(self.source)}: no video track; livewatch watches video, give a video stream or file")
            video = container.streams.video[0]
            audio = container.streams.audio[0] if container.streams.audio else None
        except BaseException:
            container.close()
            raise
        start = container.start_time
        conn = _Connection(container, video, audio is not None, origin=start / 1e6 if start is not None else None,
                           audio_codec=audio.codec_context.name if audio is not None else None)
        self._gate.restart()
        if audio is not None and opts.audio:
            conn.audio = _AudioPath(audio, av.AudioResampler(format="flt", layout="mono", rate=AUDIO_RATE),
                                    AudioChunker(AUDIO_RATE, opts.audio_chunk_s))
        self._stats.has_audio = audio is not None
        return conn

    def _describe(self, conn: _Connection) -> SourceInfo:
        c, v = conn.container, conn.video
        duration = c.duration / 1e6 if c.duration and c.duration > 0 else None
        rate = v.average_rate or v.guessed_rate
        warnings = () if conn.has_audio else ("no audio track: speech is not covered for this stream (video is still watched)",)
        return SourceInfo(
            source=redact(self.source),
            stream_id=self.stream_id,
            is_live=is_network(self.source) and duration is None,
            has_audio=conn.has_audio,
            width=v.codec_context.width,
            height=v.codec_context.height,
            fps=float(rate) if rate else None,
            duration_s=duration,
            video_codec=v.codec_context.name,
            audio_codec=conn.audio_codec,
            format_name=c.format.name,
            warnings=warnings,
        )

    # -- reader thread ---------------------------------------------------------------

    @property
    def _opened(self) -> SourceInfo:
        """What ``open`` found (the reader thread runs only after it)."""
        if self._info is None:
            raise SourceError(f"{redact(self.source)}: read before open(); call open() first")
        return self._info

    def _run(self) -> None:
        conn, reason, packets_before = self._conn, "eof", 0
        try:
            while conn is not None:
                reason, error = self._read_connection(conn)
                if reason == "closed" or self._closed.is_set():
                    reason = "closed"
                    break
                if not self._opened.is_live or not self.options.reconnect:
                    if error is not None:
                        reason = "error"
                        raise SourceError(f"{redact(self.source)}: read failed ({_describe_exc(error)}); check the file or stream")
                    if self.options.loop and not self._opened.is_live and self._stats.packets > packets_before:
                        packets_before = self._stats.packets
                        self._stats.loops += 1
                        conn = self._connect()
                        continue
                    break
                log.warning("%s: stream %s; reconnecting", redact(self.source),
                            "ended" if error is None else f"dropped ({_describe_exc(error)})", extra=self._extra)
                conn = self._reconnect()
                if conn is None:
                    reason = "closed" if self._closed.is_set() else "gave_up"
        except Exception as exc:  # handed to the consumer, which raises it
            reason = "error"
            if not isinstance(exc, SourceError):
                log.exception("ingest reader failed", extra=self._extra)
            self._put(exc)
        finally:
            self._stats.end_reason = reason
            self._put(_END, force=True)
            log.info("%s: ingest finished (%s)", redact(self.source), reason, extra=self._extra)

    def _read_connection(self, conn: _Connection) -> tuple[str, BaseException | None]:
        """Pump one connection until EOF, drop/stall, or close; then flush and close it."""
        self._conn = conn
        self._interleaver = Interleaver(conn.tracks)
        reason, error = "eof", None
        try:
            reason = self._pump(conn)
        except (av.FFmpegError, OSError) as exc:
            reason, error = "dropped", exc
        finally:
            self._flush(conn)
            with self._lock:
                self._conn = None
                conn.container.close()
        return reason, error

    def _pump(self, conn: _Connection) -> str:
        streams: list[av.stream.Stream] = [conn.video] + ([conn.audio.stream] if conn.audio is not None else [])
        for packet in conn.container.demux(streams):
            if self._closed.is_set():
                return "closed"
            if packet.size == 0:  # demux's end-of-stream marker
                continue
            ts = packet.pts if packet.pts is not None else packet.dts
            if ts is None:
                continue
            t = self._media_time(conn, float(ts * packet.time_base))
            self._pace(t)
            self._stats.packets += 1
            self._stats.media_time = max(self._stats.media_time, t)
            if packet.stream.index == conn.video.index:
                track = "video"
                self._on_video(conn, packet, t)
            elif conn.audio is not None:
                track = "audio"
                self._on_audio(conn.audio, packet, t, conn)
                # the chunk being filled starts earlier than this packet: nothing before it may pass
                pending = conn.audio.chunker.start
                t = min(t, pending) if pending is not None else t
            else:
                continue
            for item in self._interleaver.advance(track, t):
                self._put(item)
        return "closed" if self._closed.is_set() else "eof"

    def _media_time(self, conn: _Connection, seconds: float) -> float:
        """Source timestamp -> media time: starts near 0 and never goes back across reconnects."""
        if conn.base is None or conn.origin is None:
            if conn.origin is None or not math.isfinite(conn.origin):
                conn.origin = seconds
            conn.base = self._resume_point()
        return max(conn.base, conn.base + seconds - conn.origin)

    def _resume_point(self) -> float:
        """Media time where a (re)connection starts.

        After a drop the new connection's timestamps may restart anywhere, so
        it continues from the last media time plus the wall-clock outage: media
        time stays monotonic and keeps tracking live time (lag stays honest).
        A looped file's next lap starts one frame after the last.
        """
        if self._stats.packets == 0:
            return 0.0
        if not self._opened.is_live:  # a looped file: the next lap follows on directly
            return self._stats.media_time + 1.0 / (self._opened.fps or 25.0)
        return self._stats.media_time + max(1e-3, time.monotonic() - self._outage_start)

    def _pace(self, t: float) -> None:
        """With ``realtime``, hold each packet until its media time has come (a stand-in live stream)."""
        if not self.options.realtime:
            return
        now = time.monotonic()
        if self._pace_origin is None:
            self._pace_origin = now - t
        delay = self._pace_origin + t - now
        if delay > 0:
            self._closed.wait(delay)

    def _on_video(self, conn: _Connection, packet: av.Packet[Any], t: float) -> None:
        self._stats.video_packets += 1
        if not self._gate.needs_decode(t, packet.is_keyframe):
            self._stats.packets_skipped += 1
            return
        self._stats.keyframe_interval_s = self._gate.spacing
        frames = self._decode(conn.video, packet)
        if self._gate.skipping and packet.is_keyframe:
            # Keyframes only: no later packet refers to this one, so drain the decoder now
            # rather than let its reorder buffer (B-frame streams) hold the frame for two
            # more keyframes, which made every sampled frame ~2 s late on a live stream.
            frames += self._decode(conn.video, None)
            conn.video.codec_context.flush_buffers()
        for frame in frames:
            self._on_frame(conn, frame, t)

    def _on_frame(self, conn: _Connection, frame: av.VideoFrame, packet_t: float) -> None:
        self._stats.frames_decoded += 1
        t = self._frame_time(conn, frame, packet_t)
        if not self._grid.take(t):
            return
        image = frame.to_ndarray(format="bgr24")
        event = VideoFrame(self.stream_id, self._stats.frames_emitted, t, time.time(), image, bool(frame.key_frame))
        self._stats.frames_emitted += 1
        self._interleaver.push(t, event)

    def _on_audio(self, audio: _AudioPath, packet: av.Packet[Any], t: float, conn: _Connection) -> None:
        self._stats.audio_packets += 1
        for frame in self._decode(audio.stream, packet):
            self._on_audio_frame(audio, frame, self._frame_time(conn, frame, t))

    def _on_audio_frame(self, audio: _AudioPath, frame: av.AudioFrame | None, t: float) -> None:
        """Resample to 16 kHz mono and chunk; ``frame=None`` drains the resampler."""
        for out in audio.resampler.resample(frame):
            self._chunks(audio.chunker.add(t, out.to_ndarray().reshape(-1)))

    def _decode(self, stream: av.video.stream.VideoStream | av.audio.stream.AudioStream,
                packet: av.Packet[Any] | None) -> list[Any]:
        """Decode one packet (None: drain); a corrupt packet is counted and skipped, not fatal."""
        try:
            return list(stream.decode(packet))
        except av.FFmpegError as exc:
            self._stats.decode_errors += 1
            log.debug("decode error: %s", exc, extra=self._extra)
            return []

    def _frame_time(self, conn: _Connection, frame: av.frame.Frame, fallback: float) -> float:
        if frame.pts is None or frame.time_base is None:
            return fallback
        return self._media_time(conn, float(frame.pts * frame.time_base))

    def _chunks(self, chunks: list[tuple[float, np.ndarray]]) -> None:
        for start, samples in chunks:
            end = start + samples.size / AUDIO_RATE
            self._stats.audio_chunks += 1
            self._stats.audio_seconds += samples.size / AUDIO_RATE
            self._interleaver.push(start, AudioChunk(self.stream_id, start, end, time.time(), samples, AUDIO_RATE))

    def _flush(self, conn: _Connection) -> None:
        """Drain decoders, the resampler and the chunker of a finished connection, in order."""
        self._outage_start = time.monotonic()
        try:
            for frame in self._decode(conn.video, None):
                self._on_frame(conn, frame, self._stats.media_time)
            if (audio := conn.audio) is not None:
                for frame in self._decode(audio.stream, None):
                    self._on_audio_frame(audio, frame, self._frame_time(conn, frame, 0.0))
                if audio.chunker.position is not None:
                    self._on_audio_frame(audio, None, audio.chunker.position)
                self._chunks(audio.chunker.flush())
        except (av.FFmpegError, OSError, ValueError) as exc:
            log.debug("flush after drop: %s", exc, extra=self._extra)
        for item in self._interleaver.drain():
            self._put(item)

    def _reconnect(self) -> _Connection | None:
        """Reopen a dropped source with exponential backoff; None when closed or after ``give_up_after_s``."""
        conn = self._retry("reconnect")
        if conn is not None:
            self._stats.reconnects += 1
        return conn

    def _retry(self, what: str) -> _Connection | None:
        """Connect with exponential backoff; None when closed or after ``give_up_after_s`` of failures."""
        opts = self.options
        started, delay, attempt = time.monotonic(), opts.initial_backoff_s, 0
        while not self._closed.is_set():
            remaining = opts.give_up_after_s - (time.monotonic() - started)
            if remaining <= 0:
                log.warning("%s: gave up after %.0fs without the stream; finishing", redact(self.source),
                            opts.give_up_after_s, extra=self._extra)
                return None
            attempt += 1
            wait = min(delay, remaining)
            log.info("%s: %s attempt %d in %.1fs", redact(self.source), what, attempt, wait, extra=self._extra)
            if self._closed.wait(wait):
                return None
            try:
                conn = self._connect()
            except SourceError as exc:
                log.log(logging.WARNING if what == "reconnect" else logging.INFO, "%s attempt %d failed: %s",
                        what, attempt, exc, extra=self._extra)
                delay = min(delay * 2, opts.max_backoff_s)
                continue
            log.warning("%s: %s after %d attempt(s)", redact(self.source), "reconnected" if what == "reconnect" else "connected",
                        attempt, extra=self._extra)
            return conn
        return None

    def _put(self, item: VideoFrame | AudioChunk | BaseException | _End, force: bool = False) -> None:
        """Hand an item to the consumer; gives up when closed (the end marker waits briefly)."""
        deadline = time.monotonic() + 1.0
        while True:
            if self._closed.is_set() and not (force and time.monotonic() < deadline):
                return
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                if force and self._closed.is_set() and time.monotonic() >= deadline:
                    return


def _describe_exc(exc: BaseException) -> str:
    if isinstance(exc, av.error.ExitError):
        return "no data within the stall timeout"
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _open_error(source: str, exc: BaseException, timeout_s: float) -> SourceError:
    """One line naming the source and what to do, by the kind of failure."""
    name = redact(source)
    if isinstance(exc, FileNotFoundError) and not is_network(source):
        return SourceError(f"{name}: no such video file; check the path")
    if isinstance(exc, IsADirectoryError):
        return SourceError(f"{name}: is a directory; give a video file inside it")
    if isinstance(exc, av.error.ProtocolNotFoundError):
        scheme = source.split(":", 1)[0]
        return SourceError(f"{name}: PyAV's FFmpeg cannot open {scheme}:// here; relay the stream to RTMP or HLS")
    if isinstance(exc, av.error.InvalidDataError):
        return SourceError(f"{name}: not a video file or stream FFmpeg can read; check it is a video (or a live stream URL)")
    if isinstance(exc, (av.error.ExitError, TimeoutError)):
        return SourceError(f"{name}: no answer within {timeout_s:g}s; check the stream is live and the address is reachable")
    if isinstance(exc, ConnectionRefusedError):
        return SourceError(f"{name}: connection refused; check the host and port, and that the server is running")
    if isinstance(exc, PermissionError) and is_network(source):
        return SourceError(f"{name}: refused by the server (not broadcasting now, or access denied); check the stream is live and its key")
    if isinstance(exc, PermissionError):
        return SourceError(f"{name}: permission denied; check the file's permissions")
    return SourceError(f"{name}: cannot open ({_describe_exc(exc)}); check the URL or path and that the stream is live")
