"""A real live stream: ffmpeg pushing to Debian's nginx-rtmp, read over RTMP and HLS.

The RTMP test walks one stream through a stall (publisher connected, no
data), a drop (publisher gone) with its return, and a final end: the source
reconnects each time, keeps media time monotonic, and finishes cleanly.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable

import pytest

from events import AudioChunk, SourceError, VideoFrame
from ingest import IngestOptions, StreamSource
from tests.live_server import LiveServer
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

LIVE_OPTIONS = IngestOptions(
    stall_timeout_s=1.5,
    open_timeout_s=4.0,
    initial_backoff_s=0.2,
    max_backoff_s=1.0,
    give_up_after_s=2.5,
)


def test_rtmp_survives_stall_and_drop_then_ends_cleanly(
    live_server: LiveServer, live_clip: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ingest")
    pusher = live_server.push(live_clip, "shop1")
    pusher.wait_publishing()
    src = StreamSource(live_server.rtmp_url("shop1"), "shop1", LIVE_OPTIONS)
    info = src.open()
    assert info.is_live and info.has_audio and (info.width, info.height) == (640, 360)

    phases = [threading.Event() for _ in range(3)]
    failed: list[str] = []

    def logged(text: str) -> int:
        return sum(text in r.getMessage() for r in caplog.records)

    def until_the_reader_logs(text: str, action: Callable[[], object]) -> None:
        """``action()``, then wait for the reader to log ``text`` once more: it has seen what we did."""
        before = logged(text)
        action()
        wait_until(lambda: logged(text) > before, 40, lambda: f"the reader to log {text!r}")

    def broadcaster() -> None:
        """The other side: stall, drop and return, end. Each step waits for the reader to catch up,
        and the stall and the drop last until the reader has seen them."""
        steps = [
            lambda: (until_the_reader_logs("no data within the stall timeout", pusher.pause), pusher.resume()),
            lambda: (until_the_reader_logs("; reconnecting", pusher.stop), pusher.start()),
            lambda: pusher.stop(),
        ]
        try:
            for phase, step in zip(phases, steps):
                if not phase.wait(40):
                    failed.append(f"reader never reached phase {phases.index(phase)}")
                    src.close()
                    return
                step()
        except pytest.fail.Exception as exc:  # this thread cannot fail the test: it reports
            failed.append(str(exc))
            src.close()

    thread = threading.Thread(target=broadcaster, daemon=True)
    thread.start()
    frames: list[VideoFrame] = []
    chunks: list[AudioChunk] = []
    frames_at_phase = 0
    for event in src:
        if isinstance(event, AudioChunk):
            chunks.append(event)
            continue
        frames.append(event)
        phase = min(src.stats.reconnects, 2)
        if phase == 0 and len(frames) >= 2 or phase > 0 and len(frames) - frames_at_phase >= 2:
            if not phases[phase].is_set():
                phases[phase].set()
                frames_at_phase = len(frames)
    thread.join(10)

    assert not failed, failed
    stats = src.stats
    assert stats.end_reason == "gave_up"
    assert stats.reconnects == 2
    times = [f.media_time for f in frames]
    assert times == sorted(times) and len(set(times)) == len(times)
    starts = [c.media_start for c in chunks]
    assert starts == sorted(starts) and chunks
    messages = [r.getMessage() for r in caplog.records]
    assert any("dropped" in m and "no data within the stall timeout" in m for m in messages)
    assert any("reconnect attempt" in m for m in messages)
    assert any("gave up after" in m for m in messages)
    assert all(getattr(r, "stream_id", None) == "shop1" for r in caplog.records if r.name.startswith("ingest"))


def test_hls_over_http_is_read_as_live(live_server: LiveServer, live_clip: Path) -> None:
    pusher = live_server.push(live_clip, "hls1")
    pusher.wait_publishing()
    pusher.wait_hls(segments=2)
    src = StreamSource(live_server.hls_url("hls1"), "hls1", LIVE_OPTIONS)
    info = src.open()
    assert info.is_live and info.format_name == "hls"
    frames = []
    for event in src:
        if isinstance(event, VideoFrame):
            frames.append(event)
            if len(frames) == 3:
                break
    src.close()
    pusher.stop()
    assert [f.image.shape for f in frames] == [(360, 640, 3)] * 3
    assert src.stats.end_reason in ("closed", "")


def test_close_interrupts_a_stalled_live_read(live_server: LiveServer, live_clip: Path) -> None:
    pusher = live_server.push(live_clip, "stall1")
    pusher.wait_publishing()
    src = StreamSource(live_server.rtmp_url("stall1"), "stall1", IngestOptions(stall_timeout_s=60))
    src.open()
    it = iter(src)
    next(it)
    pusher.pause()  # FFmpeg now blocks in a read that would only time out after 60 s
    # no observable marks "blocked in the read" from outside: a second is far longer than the buffered frames last
    threading.Timer(1.0, src.close).start()
    for _ in it:
        pass
    assert src.stats.end_reason in ("closed", "")  # not the 60 s stall timeout, nor a reconnect giving up
    pusher.stop()


def test_a_stream_not_live_yet_at_start_is_waited_for_with_the_reconnect_backoff(
    live_server: LiveServer, live_clip: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Registered before the broadcaster starts: the server refuses it until then, and open() waits."""
    caplog.set_level(logging.INFO, logger="ingest")
    options = IngestOptions(stall_timeout_s=2.0, open_timeout_s=4.0, initial_backoff_s=0.2, max_backoff_s=0.5,
                            give_up_after_s=30.0)
    src = StreamSource(live_server.rtmp_url("late1"), "late1", options)
    opened: list[object] = []
    opener = threading.Thread(target=lambda: opened.append(_open_or_error(src)), daemon=True)
    opener.start()
    wait_until(lambda: any("not live yet" in r.getMessage() for r in caplog.records), 20,
               "open() to report that it waits for the stream")
    assert opener.is_alive(), f"open() gave up at once: {opened}"
    pusher = live_server.push(live_clip, "late1")
    try:
        opener.join(25)
        assert opened and not isinstance(opened[0], Exception), opened
        assert opened[0].is_live
        first = next(e for e in src if isinstance(e, VideoFrame))
        assert first.image.shape == (360, 640, 3)
        assert src.stats.reconnects == 0, "waiting for a stream to start is not a reconnect"
    finally:
        src.close()
        pusher.stop()
    messages = [r.getMessage() for r in caplog.records]
    assert any("connect attempt" in m for m in messages)
    assert any("connected after" in m for m in messages)


def test_close_ends_the_wait_for_a_stream_that_is_not_live(
    live_server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    src = StreamSource(live_server.rtmp_url("never1"), "never1",
                       IngestOptions(initial_backoff_s=0.2, max_backoff_s=0.5, give_up_after_s=120.0))

    def close_once_waiting() -> None:
        wait_until(lambda: any("not live yet" in r.getMessage() for r in caplog.records), 30, "open() to wait")
        src.close()

    threading.Thread(target=close_once_waiting, daemon=True).start()
    with pytest.raises(SourceError, match="closed while waiting"):  # not the 120 s give-up
        src.open()


def test_a_stream_that_never_goes_live_fails_after_the_give_up_time(
    live_server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ingest")
    src = StreamSource(live_server.rtmp_url("never2"), "never2",
                       IngestOptions(initial_backoff_s=0.2, max_backoff_s=0.5, give_up_after_s=1.5))
    with pytest.raises(SourceError, match=r"not live after waiting 1\.5s \(first answer: refused by the server"):
        src.open()
    failures = [r for r in caplog.records if "connect attempt" in r.getMessage() and "failed" in r.getMessage()]
    assert failures, "it tried again, with backoff, before giving up"


def _open_or_error(src: StreamSource) -> object:
    try:
        return src.open()
    except Exception as exc:  # noqa: BLE001 - handed to the test thread
        return exc
