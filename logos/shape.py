"""Colour-and-contour matching for flat, texture-less marks.

A single-colour mark has no interior keypoints, so feature matching finds it
in 0% of frames (measured). What it does have is a colour and an outline:
pick the pixels close to the mark's colour (CIELAB distance, robust to JPEG
and mild lighting changes), take their outer contours, and compare each with
the reference outline. Hu moments are a cheap first filter but cannot tell a
shape from a variant with a feature moved round its rim, so the decision is
the overlap (IoU) of the two silhouettes once centred, scaled to the same
area and rotated to the best of 72 angles. Misses marks whose outline is
heavily covered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from events import Box
from logos.matcher import LogoHit, ReferenceLogo

_CANVAS = 96
_ROOT_AREA = 36.0  # silhouettes are scaled so sqrt(area) is this many canvas pixels
_ANGLES = 72


@dataclass(frozen=True, slots=True)
class ShapeParams:
    max_side: int = 640             # works on a downscaled frame: outlines survive, cost drops
    colour_tolerance: float = 30.0  # CIELAB distance (8-bit OpenCV Lab units)
    max_hu_distance: float = 1.0    # cv2.matchShapes I1, a loose pre-filter
    min_iou: float = 0.85           # aligned silhouette overlap needed to accept (look-alikes reach ~0.81)
    min_area_px: int = 250          # at max_side
    max_area_frac: float = 0.5


@dataclass(frozen=True)
class _FlatRef:
    ref: ReferenceLogo
    lab: np.ndarray
    contour: np.ndarray
    rotations: np.ndarray  # (_ANGLES, _CANVAS, _CANVAS) bool


class ShapeMatcher:
    """Flat references; ``match`` looks for their colour and outline in a BGR frame."""

    name = "shape"

    def __init__(self, refs: Sequence[ReferenceLogo], params: ShapeParams = ShapeParams()):
        self.params = params
        self._refs = [_prepare(r) for r in refs if r.flat]

    def match(self, gray: np.ndarray, bgr: np.ndarray) -> list[LogoHit]:
        if not self._refs:
            return []
        p = self.params
        scale = min(1.0, p.max_side / max(bgr.shape[:2]))
        small = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else bgr
        lab = cv2.cvtColor(small, cv2.COLOR_BGR2LAB).astype(np.float32)
        frame_area = small.shape[0] * small.shape[1]
        hits = []
        for fr in self._refs:
            for contour in _colour_contours(lab, fr.lab, p.colour_tolerance):
                area = cv2.contourArea(contour)
                if not (p.min_area_px <= area <= p.max_area_frac * frame_area):
                    continue
                if cv2.matchShapes(fr.contour, contour, cv2.CONTOURS_MATCH_I1, 0.0) > p.max_hu_distance:
                    continue
                iou = best_aligned_iou(fr.rotations, silhouette(contour))
                if iou < p.min_iou:
                    continue
                x, y, w, h = cv2.boundingRect(contour)
                box = Box(int(x / scale), int(y / scale), int(round(w / scale)), int(round(h / scale)))
                score = 0.5 + 0.5 * (iou - p.min_iou) / max(1e-6, 1 - p.min_iou)
                hits.append(LogoHit(fr.ref.brand_id, fr.ref.path, score, box, self.name, {"iou": round(iou, 3)}))
        return hits


def _prepare(ref: ReferenceLogo) -> _FlatRef:
    lab = cv2.cvtColor(ref.image, cv2.COLOR_BGR2LAB).reshape(-1, 3)[ref.mask.reshape(-1) > 0]
    contours, _ = cv2.findContours(ref.mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    contour = max(contours, key=cv2.contourArea)
    base = silhouette(contour).astype(np.uint8)
    c = (_CANVAS / 2, _CANVAS / 2)
    rotations = np.stack([
        cv2.warpAffine(base, cv2.getRotationMatrix2D(c, k * 360 / _ANGLES, 1.0), (_CANVAS, _CANVAS), flags=cv2.INTER_NEAREST) > 0
        for k in range(_ANGLES)
    ])
    return _FlatRef(ref, np.median(lab, axis=0).astype(np.float32), contour, rotations)


def silhouette(contour: np.ndarray) -> np.ndarray:
    """The filled contour on a fixed canvas, centred on its centroid, scaled to a fixed area."""
    m = cv2.moments(contour)
    if m["m00"] <= 0:
        return np.zeros((_CANVAS, _CANVAS), bool)
    s = _ROOT_AREA / np.sqrt(m["m00"])
    cx, cy = m["m10"] / m["m00"], m["m01"] / m["m00"]
    pts = (contour.reshape(-1, 2).astype(np.float64) - (cx, cy)) * s + _CANVAS / 2
    canvas = np.zeros((_CANVAS, _CANVAS), np.uint8)
    cv2.fillPoly(canvas, [np.round(pts).astype(np.int32)], (1,))
    return canvas > 0


def best_aligned_iou(rotations: np.ndarray, candidate: np.ndarray) -> float:
    inter = np.logical_and(rotations, candidate).sum(axis=(1, 2))
    union = np.logical_or(rotations, candidate).sum(axis=(1, 2))
    return float((inter / np.maximum(union, 1)).max())


def _colour_contours(lab: np.ndarray, colour: np.ndarray, tolerance: float) -> list[np.ndarray]:
    dist = np.linalg.norm(lab - colour, axis=2)
    mask = (dist < tolerance).astype(np.uint8) * 255
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    return list(contours)
