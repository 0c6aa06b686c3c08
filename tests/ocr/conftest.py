"""Real OCR engines, started once per test session in worker processes (both load in seconds)."""

from __future__ import annotations

import pytest

from bench.labelled_frames import labelled_frames
from ocr import OcrOptions, OcrStage


@pytest.fixture(scope="session")
def paddle_stage():
    with OcrStage(OcrOptions(engine="paddle", workers=1)) as stage:
        yield stage


@pytest.fixture(scope="session")
def rapid_stage():
    with OcrStage(OcrOptions(engine="rapid", workers=1)) as stage:
        yield stage


@pytest.fixture(scope="session")
def labelled():
    """One frame per variant (clean, blur, jpeg, rotate, cover) plus a second clean one."""
    return labelled_frames(5, seed=0) + labelled_frames(1, seed=5, variants=("clean",))
