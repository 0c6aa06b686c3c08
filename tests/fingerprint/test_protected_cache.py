"""The protected library is built once from the videos, then loaded from its saved index."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from livewatch.stages import load_protected
from tests.fingerprint.fp_media import FPS, SIZE, programme_frame, write_video


def test_a_saved_index_is_loaded_while_the_videos_are_the_same(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    protected, saved = tmp_path / "protected", tmp_path / "index"
    protected.mkdir()
    programme(protected / "match-1.mp4", seed=1)
    caplog.set_level(logging.INFO, logger="livewatch.stages")
    built = load_protected(protected, saved)
    loaded = load_protected(protected, saved)
    assert built.content_ids == loaded.content_ids == ("match-1",)
    messages = [r.getMessage() for r in caplog.records]
    assert any("registered" in m for m in messages) and any("loaded" in m for m in messages)
    programme(protected / "match-2.mp4", seed=2)
    assert load_protected(protected, saved).content_ids == ("match-1", "match-2")  # rebuilt: the files changed


def test_an_index_saved_in_another_format_is_built_again(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A saved index is a cache: one written by another version (its hashes differ) costs a rebuild, not a start."""
    protected, saved = tmp_path / "protected", tmp_path / "index"
    protected.mkdir()
    programme(protected / "match-1.mp4", seed=1)
    load_protected(protected, saved)
    meta = json.loads((saved / "index.json").read_text())
    (saved / "index.json").write_text(json.dumps(dict(meta, format=meta["format"] - 1)))
    caplog.set_level(logging.INFO, logger="livewatch.stages")
    assert load_protected(protected, saved).content_ids == ("match-1",)
    assert any("registering the videos again" in r.getMessage() for r in caplog.records)
    assert json.loads((saved / "index.json").read_text())["format"] == meta["format"]  # saved again


def programme(path: Path, seed: int, seconds: int = 6) -> Path:
    return write_video(path, (programme_frame(i / FPS, seed) for i in range(seconds * FPS)), SIZE)
