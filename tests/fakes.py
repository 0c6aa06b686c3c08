"""Small stand-ins for the heavy models, for tests of the wiring around them (every stage also
has tests with the real model)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Iterator

import numpy as np


class CardEngine:
    """An OCR engine that finds one line, ``text``, in the middle of every frame."""

    name = "fake"

    def __init__(self, text: str) -> None:
        self.text = text

    def detect(self, image: np.ndarray) -> list[np.ndarray]:
        h, w = image.shape[:2]
        return [np.float32([[w // 4, h // 4], [3 * w // 4, h // 4], [3 * w // 4, h // 2], [w // 4, h // 2]])]

    def recognize(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        return [(self.text, 0.95) for _ in crops]


class SilentWhisper:
    """Whisper that hears nothing."""

    def transcribe(self, audio: np.ndarray, **kw: Any) -> tuple[Iterator[Any], Any]:
        return iter([]), SimpleNamespace(language="zh")
