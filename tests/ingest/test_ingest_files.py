"""StreamSource on real files decoded by PyAV: sampling, audio, order, bad inputs, close."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from events import AudioChunk, SourceError, VideoFrame
from ingest import IngestOptions, StreamSource
from tests.media import make_audio_only, make_not_video
from tests.waiting import wait_until


def _read(source: StreamSource) -> tuple[list[VideoFrame], list[AudioChunk], list]:
    events = list(source)
    return ([e for e in events if isinstance(e, VideoFrame)], [e for e in events if isinstance(e, AudioChunk)], events)


def _key(event) -> float:
    return event.media_time if isinstance(event, VideoFrame) else event.media_start


def test_file_yields_grid_frames_and_16k_audio_in_media_time_order(clip: Path) -> None:
    src = StreamSource(str(clip), "shop-1")
    info = src.open()
    assert (info.width, info.height, info.has_audio, info.is_live) == (1280, 720, True, False)
    assert info.duration_s == pytest.approx(6.0, abs=0.1)
    frames, chunks, events = _read(src)
    assert [f.media_time for f in frames] == pytest.approx([0, 1, 2, 3, 4, 5], abs=0.05)
    assert [f.index for f in frames] == list(range(6))
    assert all(f.stream_id == "shop-1" and f.image.shape == (720, 1280, 3) and f.image.dtype == np.uint8 for f in frames)
    # the red badge (RGB 220,30,30) at the top right proves the channel order is BGR
    b, g, r = frames[0].image[45, 1205]
    assert r > 150 and b < 100
    assert [_key(e) for e in events] == sorted(_key(e) for e in events)
    assert all(c.sample_rate == 16000 and c.samples.dtype == np.float32 for c in chunks)
    assert all(len(c.samples) == 8000 for c in chunks[:-1])
    assert sum(len(c.samples) for c in chunks) / 16000 == pytest.approx(6.0, abs=0.1)
    assert all(a.media_end == pytest.approx(b.media_start, abs=1e-6) for a, b in zip(chunks, chunks[1:]))
    tone = chunks[2].samples
    assert 0.1 < float(np.abs(tone).max()) < 0.3  # the 0.2-amplitude tone, resampled mono
    stats = src.stats
    assert stats.end_reason == "eof" and stats.frames_emitted == 6 and stats.has_audio
    assert stats.keyframe_interval_s == pytest.approx(1.0, abs=0.01)


def test_a_longer_sample_interval_set_from_another_thread_samples_fewer_frames(clip: Path) -> None:
    src = StreamSource(str(clip), "s", IngestOptions(audio=False))
    threading.Thread(target=src.set_sample_interval, args=(2.0,)).start()  # as the worker's scheduler does
    wait_until(lambda: src._grid.interval == 2.0, 10, "the new interval")
    frames, _, _ = _read(src)
    assert [f.media_time for f in frames] == pytest.approx([0, 2, 4], abs=0.05)
    with pytest.raises(ValueError):
        src.set_sample_interval(0)


def test_keyframe_gop_within_interval_skips_non_key_packets(clip: Path) -> None:
    src = StreamSource(str(clip), "s", IngestOptions(audio=False))
    frames, _, _ = _read(src)
    stats = src.stats
    assert stats.video_packets == 150
    # only the first GOP is decoded in full (spacing unknown), then keyframes only
    assert stats.frames_decoded == 25 + 5
    assert stats.packets_skipped == 150 - stats.frames_decoded
    assert stats.audio_packets == 0 and len(frames) == 6


def test_long_gop_decodes_everything_but_converts_only_grid_frames(clip_long_gop: Path) -> None:
    src = StreamSource(str(clip_long_gop), "s", IngestOptions(audio=False))
    frames, _, _ = _read(src)
    stats = src.stats
    assert stats.packets_skipped == 0 and stats.frames_decoded == 100
    assert [f.media_time for f in frames] == pytest.approx([0, 1, 2, 3], abs=0.05)
    assert [f.keyframe for f in frames] == [True, False, True, False]


def test_half_second_interval_and_chunks(clip: Path) -> None:
    src = StreamSource(str(clip), "s", IngestOptions(sample_interval_s=0.5, audio_chunk_s=1.0))
    frames, chunks, _ = _read(src)
    assert len(frames) == 12 and src.stats.packets_skipped == 0  # 1 s GOP > 0.5 s grid: decode all
    assert all(len(c.samples) == 16000 for c in chunks[:-1])


def test_no_audio_is_warned_and_still_watched(clip_no_audio: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="ingest")
    src = StreamSource(str(clip_no_audio), "quiet")
    info = src.open()
    assert not info.has_audio and info.warnings and "speech is not covered" in info.warnings[0]
    assert any("speech is not covered" in r.getMessage() and r.stream_id == "quiet" for r in caplog.records)
    frames, chunks, _ = _read(src)
    assert len(frames) == 3 and chunks == []


def test_missing_file_is_one_clear_line(tmp_path: Path) -> None:
    missing = tmp_path / "gone.mp4"
    with pytest.raises(SourceError, match=r"gone\.mp4: no such video file; check the path"):
        StreamSource(str(missing), "s").open()


def test_file_that_is_not_video_is_one_clear_line(tmp_path: Path) -> None:
    bogus = make_not_video(tmp_path / "list.mp4")
    with pytest.raises(SourceError) as err:
        StreamSource(str(bogus), "s").open()
    assert str(err.value).startswith(f"{bogus}: not a video") and "\n" not in str(err.value)


def test_audio_without_video_is_refused(tmp_path: Path) -> None:
    audio = make_audio_only(tmp_path / "voice.m4a")
    with pytest.raises(SourceError, match="no video track"):
        StreamSource(str(audio), "s").open()


def test_realtime_paces_a_file_like_a_live_stream(clip_no_audio: Path) -> None:
    src = StreamSource(str(clip_no_audio), "s", IngestOptions(realtime=True))
    start = time.monotonic()
    arrivals = [(time.monotonic() - start, f.media_time) for f in src]
    assert len(arrivals) == 3
    # Pacing is a wall-clock behaviour, so the clock is what this test reads; the bounds are lower
    # bounds (no frame arrives before its media time; a file read fast takes ~50 ms), which a slow
    # machine cannot break.
    assert all(wall >= media - 0.05 for wall, media in arrivals)
    assert arrivals[-1][0] >= 1.9


def test_keyframe_only_decoding_does_not_hold_frames_in_the_reorder_buffer(tmp_path: Path) -> None:
    """Broadcast encoders use B-frames; the decoder would keep each keyframe until two more arrive."""
    from livewatch.synth import ClipSpec, Scene, render_clip

    clip = render_clip(ClipSpec("bframes", (Scene(seconds=5, title="B-frames"),)), tmp_path / "bframes.mp4")
    src = StreamSource(str(clip), "s", IngestOptions(audio=False, queue_size=1))
    frames = iter(src)
    assert next(frames).media_time == 0.0
    # One frame taken, one queued: the reader stops at the packet that yields the third frame
    # (media time 2) and cannot hand it over. Had the decoder held each keyframe for two more,
    # that packet would be the keyframe at 4 s.
    stuck = wait_until(lambda: (s := src.stats).frames_emitted == 3 and s, 30, "the reader to emit a third frame")
    src.close()
    assert stuck.packets_skipped > 0  # keyframes only
    assert stuck.media_time == pytest.approx(2.0, abs=0.05), stuck


def test_loop_replays_with_media_time_counting_up(clip_no_audio: Path) -> None:
    src = StreamSource(str(clip_no_audio), "s", IngestOptions(loop=True))
    times = []
    for frame in src:
        times.append(frame.media_time)
        if len(times) == 7:
            src.close()
    assert times == pytest.approx([0, 1, 2, 3, 4, 5, 6], abs=0.05)
    assert src.stats.loops >= 2 and src.stats.end_reason == "closed"


def test_close_from_another_thread_stops_iteration_promptly(clip: Path) -> None:
    src = StreamSource(str(clip), "s", IngestOptions(realtime=True))
    first, closed = threading.Event(), threading.Event()

    def close_after_the_first_event() -> None:
        first.wait(60)
        src.close()
        closed.set()

    closer = threading.Thread(target=close_after_the_first_event)
    closer.start()
    seen, after_close = 0, 0
    for _ in src:  # the paced file goes on for 6 s: a frame a second and two audio chunks
        seen += 1
        after_close += closed.is_set()
        first.set()
    closer.join(60)
    # at most the one event the consumer was already taking when close() returned
    assert seen and after_close <= 1, after_close
    assert src.stats.end_reason == "closed"
    src.close()  # idempotent


@pytest.mark.parametrize("url, options, expected, waits", [
    ("rtmp://127.0.0.1:9/live/none", IngestOptions(open_timeout_s=2, reconnect=False), "connection refused", False),
    ("rtmp://127.0.0.1:9/live/none", IngestOptions(open_timeout_s=2, initial_backoff_s=0.1, give_up_after_s=0.5),
     "not live after waiting 0.5s (first answer: connection refused", True),
    ("srt://127.0.0.1:9/x", IngestOptions(open_timeout_s=2), "relay the stream to RTMP or HLS", False),
])
def test_unreachable_or_unsupported_live_source_is_one_clear_line(
    url: str, options: IngestOptions, expected: str, waits: bool, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="ingest")
    with pytest.raises(SourceError) as err:
        StreamSource(url, "s", options).open()
    assert str(err.value).startswith(url) and expected in str(err.value) and "\n" not in str(err.value)
    # an unsupported source or reconnect=False fails at once: no wait for the stream to go live, no retry
    retries = [r.getMessage() for r in caplog.records if "not live yet" in r.getMessage() or "attempt" in r.getMessage()]
    assert bool(retries) == waits, retries
