"""URL validation: live-streaming schemes and local paths in, FFmpeg pseudo-protocols out."""

from __future__ import annotations

import os

import pytest

from events import SourceError
from ingest import validate_source
from ingest.url import is_network, protocol_whitelist, redact


@pytest.mark.parametrize("url", [
    "rtmp://live.example.com/app/key",
    "rtmps://live.example.com:443/app/key",
    "rtsp://10.0.0.5:554/stream1",
    "https://cdn.example.com/live/room.m3u8",
    "http://127.0.0.1:8080/live/room.flv",
    "srt://127.0.0.1:9000?streamid=x",
])
def test_network_urls_are_accepted_as_given(url: str) -> None:
    assert validate_source(url) == url
    assert is_network(url)


def test_local_paths_come_back_absolute(tmp_path) -> None:
    assert validate_source("clip.mp4") == os.path.abspath("clip.mp4")
    assert validate_source(str(tmp_path / "a b.mp4")) == str(tmp_path / "a b.mp4")
    assert validate_source(f"file://{tmp_path}/x.mp4") == f"{tmp_path}/x.mp4"
    # a colon inside an absolute path is a file name, never a protocol, for FFmpeg
    assert validate_source("./odd:name.mp4").startswith("/")


@pytest.mark.parametrize("url", [
    "concat:/tmp/a.mp4|/etc/passwd",
    "pipe:0",
    "subfile:/etc/passwd",
    "data:video/mp4;base64,AAAA",
    "tee:/tmp/x",
    "async:file:/etc/passwd",
    "crypto:/tmp/x",
    "file:/etc/passwd",
    "file:///tmp/../etc/passwd",
    "file://otherhost/share/x.mp4",
    "ftp://example.com/x.mp4",
    "gopher://example.com/",
    "rtmp:///no-host",
    "rtmp://host/app\nkey",
    "",
    "   ",
])
def test_pseudo_protocols_and_odd_schemes_are_refused_in_one_line(url: str) -> None:
    with pytest.raises(SourceError) as err:
        validate_source(url)
    message = str(err.value)
    assert "\n" not in message and len(message) < 300
    assert any(word in message for word in ("use", "give"))  # says what to do


def test_credentials_never_reach_messages() -> None:
    assert redact("rtsp://admin:s3cret@10.0.0.5:554/s") == "rtsp://***@10.0.0.5:554/s"
    with pytest.raises(SourceError) as err:
        validate_source("gopher://admin:s3cret@host/")
    assert "s3cret" not in str(err.value)


def test_protocol_whitelist_fits_each_kind_of_source() -> None:
    assert protocol_whitelist("/tmp/x.mp4") == "file,crypto"
    assert "http" in protocol_whitelist("https://cdn.example.com/a.m3u8")
    assert "file" not in protocol_whitelist("https://cdn.example.com/a.m3u8")
    assert protocol_whitelist("rtmp://h/a/b").startswith("rtmp")
