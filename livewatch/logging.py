"""Structured logs: one JSON object per line, with the stream id on every line.

Stages log with ``logging.getLogger(__name__)`` and put context in
``extra={"stream_id": ..., ...}``; only the top floor installs this formatter
(``configure_logging``), so stages never depend on it. Every line carries
``stream_id`` (null when the line is about no stream), and a thread that works
for one stream can set it once with :func:`stream_context`, so lines from
libraries that know nothing about streams get it too.

    configure_logging("INFO")
    with stream_context("shop-1"):
        log.info("opened", extra={"codec": "h264"})
    # {"ts": "2026-11-03T10:00:00.123Z", "level": "INFO", "logger": "ingest.source",
    #  "msg": "opened", "stream_id": "shop-1", "codec": "h264"}
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
from datetime import datetime, timezone
from typing import IO, Iterator

from events import ConfigError

_STREAM_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("livewatch_stream_id", default=None)

# Attributes every LogRecord has; anything else on a record came from ``extra``.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
_HANDLER_MARK = "_livewatch_handler"


@contextlib.contextmanager
def stream_context(stream_id: str | None) -> Iterator[None]:
    """Lines logged in this block (this thread / task) carry ``stream_id`` unless they name their own."""
    token = _STREAM_ID.set(stream_id)
    try:
        yield
    finally:
        _STREAM_ID.reset(token)


class StreamIdFilter(logging.Filter):
    """Gives every record a ``stream_id``: its own ``extra``, else the current :func:`stream_context`, else None."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "stream_id", None) is None:
            record.stream_id = _STREAM_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, stream_id, then every ``extra`` field."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "stream_id": getattr(record, "stream_id", None) or _STREAM_ID.get(),
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRS and key not in entry and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # default=str: an extra that is not JSON (a Path, an exception) must not lose the line.
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """Human-readable lines for a terminal, still showing the stream id."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s [%(stream_id)s] %(message)s")


def configure_logging(level: str | int = "INFO", json: bool = True, stream: IO[str] | None = None) -> logging.Handler:
    """Install one handler on the root logger (JSON lines, or text for a terminal); idempotent.

    A second call replaces the handler the first one installed and leaves any
    other handler (pytest's capture, a user's) alone.
    """
    if isinstance(level, str):
        level = level.upper()
        if not isinstance(logging.getLevelName(level), int):
            raise ConfigError(f"log level {level!r} is not known: use DEBUG, INFO, WARNING or ERROR")
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if json else TextFormatter())
    handler.addFilter(StreamIdFilter())
    setattr(handler, _HANDLER_MARK, True)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
