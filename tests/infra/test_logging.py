"""JSON logs: one object per line, stream id on every line, extras kept, never a lost line."""

from __future__ import annotations

import io
import json
import logging
import threading
from pathlib import Path

import pytest

from events import ConfigError
from livewatch.logging import configure_logging, stream_context


@pytest.fixture
def log_lines():
    buffer = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = configure_logging("DEBUG", json=True, stream=buffer)
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(level)


def test_every_line_is_one_json_object_with_stream_id_and_extras(log_lines) -> None:
    log = logging.getLogger("ingest.source")
    log.info("opened %s", "source", extra={"stream_id": "shop-1", "codec": "h264", "path": Path("/x"), "n": 3})
    log.warning("no stream here")
    try:
        raise ValueError("bad frame\nsecond line")
    except ValueError:
        log.exception("decode failed", extra={"stream_id": "shop-2"})
    log.info("多行\n消息", extra={"stream_id": "直播-1"})

    lines = log_lines()
    assert len(lines) == 4  # a multi-line message or traceback stays on one line
    first = lines[0]
    assert first["msg"] == "opened source" and first["level"] == "INFO" and first["logger"] == "ingest.source"
    assert first["stream_id"] == "shop-1" and first["codec"] == "h264" and first["path"] == "/x" and first["n"] == 3
    assert first["ts"].endswith("Z")
    assert lines[1]["stream_id"] is None  # the key is always there
    assert lines[2]["stream_id"] == "shop-2" and "ValueError: bad frame" in lines[2]["exc"]
    assert lines[3]["msg"] == "多行\n消息" and lines[3]["stream_id"] == "直播-1"


def test_stream_context_tags_lines_of_code_that_knows_no_stream(log_lines) -> None:
    third_party = logging.getLogger("a_library.conn")  # not kafka: the CLI quiets kafka-python for the process

    def stream_thread(stream_id: str) -> None:
        with stream_context(stream_id):
            third_party.info("connected")
            logging.getLogger("rules").info("explicit wins", extra={"stream_id": "other"})

    threads = [threading.Thread(target=stream_thread, args=(f"s{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    third_party.info("outside")

    lines = log_lines()
    assert sorted(line["stream_id"] for line in lines if line["msg"] == "connected") == ["s0", "s1", "s2"]
    assert {line["stream_id"] for line in lines if line["msg"] == "explicit wins"} == {"other"}
    assert [line["stream_id"] for line in lines if line["msg"] == "outside"] == [None]


def test_configure_logging_is_idempotent_and_checks_the_level() -> None:
    root = logging.getLogger()
    before = list(root.handlers)
    level = root.level
    try:
        configure_logging("info", stream=io.StringIO())
        handler = configure_logging("warning", json=False, stream=io.StringIO())
        assert [h for h in root.handlers if h not in before] == [handler]
        assert root.level == logging.WARNING
        with pytest.raises(ConfigError, match="log level 'LOUD'"):
            configure_logging("loud")
    finally:
        for h in [h for h in root.handlers if h not in before]:
            root.removeHandler(h)
        root.setLevel(level)
