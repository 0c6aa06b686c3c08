"""Generated media and a real nginx-rtmp server shared by the ingest tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.live_server import LiveServer
from tests.media import make_clip, make_video_without_audio

CARDS = [(0.0, 2.5, "正品保证 假一赔十"), (2.5, 6.0, "原价999 到手价99")]


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ingest-media")


@pytest.fixture(scope="session")
def clip(media_dir: Path) -> Path:
    """6 s, 720p, 25 fps, keyframe every 1 s, tone audio, two text cards."""
    return make_clip(media_dir / "clip.mp4", 6, text_cards=CARDS)


@pytest.fixture(scope="session")
def clip_long_gop(media_dir: Path) -> Path:
    """4 s with a keyframe every 2 s: longer than the 1 s sampling interval."""
    return make_clip(media_dir / "gop2.mp4", 4, text_cards=CARDS, gop_s=2.0, size=(640, 360))


@pytest.fixture(scope="session")
def clip_no_audio(media_dir: Path) -> Path:
    return make_video_without_audio(media_dir / "silent.mp4", 3, size=(640, 360))


@pytest.fixture(scope="session")
def live_clip(media_dir: Path) -> Path:
    """A small clip for the pusher to loop (FLV-friendly H.264 + AAC)."""
    return make_clip(media_dir / "live.mp4", 4, text_cards=CARDS, size=(640, 360))


@pytest.fixture(scope="module")
def live_server():
    with LiveServer() as server:
        yield server
