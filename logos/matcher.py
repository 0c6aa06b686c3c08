"""What every logo matcher shares: reference logos, hits, and keeping the best of overlapping hits.

A matcher is built once from the registry's reference logos and then called
per frame: ``match(gray, bgr) -> list[LogoHit]``. Keeping the interface this
small lets the stage run any set of methods and the bench time each alone.

References are split by texture: a flat, single-colour mark gives feature
detectors nothing to hold on to (measured: 0% recall), so it goes to the
shape matcher instead; ops never have to say which is which.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol, Sequence

import cv2
import numpy as np

from events import Box, Brand, ConfigError


@dataclass(frozen=True)
class ReferenceLogo:
    """One reference image of a brand, ready for matching (BGR + mask of the mark's pixels)."""

    brand_id: str
    path: str
    image: np.ndarray = field(repr=False)
    mask: np.ndarray = field(repr=False)
    flat: bool


@dataclass(frozen=True)
class LogoHit:
    """A logo found in a frame: ``score`` in [0, 1], ``box`` in the matched image's pixels."""

    brand_id: str
    logo_path: str
    score: float
    box: Box
    method: str
    details: Mapping[str, Any] = field(default_factory=dict)


class LogoMatcher(Protocol):
    name: str

    def match(self, gray: np.ndarray, bgr: np.ndarray) -> list[LogoHit]: ...


def load_references(brands: Sequence[Brand], max_side: int) -> list[ReferenceLogo]:
    """Read every brand's logos, downscaled to ``max_side``, and tell flat marks from textured ones."""
    refs = []
    for brand in brands:
        for path in brand.logo_paths:
            raw = cv2.imread(path, cv2.IMREAD_UNCHANGED)
            if raw is None:
                raise ConfigError(f"{path}: logo of brand {brand.brand_id} cannot be read; check the brand registry")
            image, mask = _split_alpha(raw)
            scale = max_side / max(image.shape[:2])
            if scale < 1:
                size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
                image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
                mask = cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST)
            refs.append(ReferenceLogo(brand.brand_id, path, image, mask, is_flat(image, mask)))
    return refs


def _split_alpha(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if raw.ndim == 2:
        return cv2.cvtColor(raw, cv2.COLOR_GRAY2BGR), np.full(raw.shape, 255, np.uint8)
    if raw.shape[2] == 4:
        mask = np.where(raw[..., 3] >= 128, 255, 0).astype(np.uint8)
        return np.ascontiguousarray(raw[..., :3]), mask
    return raw, np.full(raw.shape[:2], 255, np.uint8)


def is_flat(image: np.ndarray, mask: np.ndarray, max_texture: float = 4.0) -> bool:
    """True when the mark's interior has (almost) no texture: mean |Laplacian| inside the eroded mask."""
    inner = cv2.erode(mask, np.ones((7, 7), np.uint8))
    if cv2.countNonZero(inner) < 100:
        return False
    lap = np.abs(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.CV_32F))
    return float(lap[inner > 0].mean()) < max_texture


def box_iou(a: Box, b: Box) -> float:
    """Overlap of two boxes; the larger of IoU and "the smaller box is mostly inside the other"."""
    inter = a.intersection(b)
    if inter == 0:
        return 0.0
    area_a, area_b = a.w * a.h, b.w * b.h
    return max(inter / (area_a + area_b - inter), inter / max(1, min(area_a, area_b)))


def keep_best(hits: Sequence[LogoHit], max_overlap: float) -> list[LogoHit]:
    """Across brands and methods, keep only the best-scoring of hits that overlap.

    Two logos sharing letters (CC and CD) both gather some matches on the same
    print; only the stronger one is real (measured: precision 1.0 with this,
    not without).
    """
    kept: list[LogoHit] = []
    for hit in sorted(hits, key=lambda h: -h.score):
        if all(box_iou(hit.box, k.box) <= max_overlap for k in kept):
            kept.append(hit)
    return kept
