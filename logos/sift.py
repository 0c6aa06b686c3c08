"""SIFT logo matching against one FLANN index of every reference logo.

Why one index: matching a frame against each reference in turn costs time in
proportion to the number of brands; a randomized k-d forest over all
reference descriptors answers each frame descriptor's nearest neighbours with
a bounded number of checks, so cost per frame grows with log(brands), not
brands (``bench/bench_logos.py`` measures both).

Per frame: SIFT keypoints, k nearest reference descriptors each, a ratio test
against the nearest descriptor of a *different* reference (so two similar
brands cancel out while a logo's own repeated motifs do not), then per
reference with enough votes a RANSAC homography whose projected outline must
be a sane, convex, un-mirrored quadrilateral.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from events import Box
from logos.matcher import LogoHit, ReferenceLogo

log = logging.getLogger(__name__)

FLANN_KDTREE = 1


@dataclass(frozen=True, slots=True)
class SiftParams:
    """Tuning of the feature matcher (defaults measured on synthetic scenes; see tests/logos)."""

    max_features_per_logo: int = 500
    max_frame_features: int = 4000
    knn: int = 4
    ratio: float = 0.8
    flann_trees: int = 4
    flann_checks: int = 64
    min_matches: int = 8
    min_inliers: int = 12
    ransac_reproj_px: float = 6.0
    max_instances: int = 2
    min_box_px: int = 20
    min_spread: float = 0.15


class SiftMatcher:
    """Textured references in one FLANN index; ``match`` finds them in a grayscale frame."""

    name = "sift"

    def __init__(self, refs: Sequence[ReferenceLogo], params: SiftParams = SiftParams()):
        self.params = params
        self.refs = [r for r in refs if not r.flat]
        self._frame_sift = cv2.SIFT.create(nfeatures=params.max_frame_features)
        self._lock = threading.Lock()  # the FLANN index is not documented as thread-safe
        descs, owners, points = [], [], []
        ref_sift = cv2.SIFT.create(nfeatures=params.max_features_per_logo)
        for i, ref in enumerate(self.refs):
            kps, desc = ref_sift.detectAndCompute(cv2.cvtColor(ref.image, cv2.COLOR_BGR2GRAY), ref.mask)
            if desc is None or len(kps) < params.min_inliers:
                log.warning("logo has too few features for SIFT; it will not be found", extra={"logo": ref.path})
                continue
            descs.append(desc)
            owners.append(np.full(len(kps), i, np.int32))
            points.append(np.array([k.pt for k in kps], np.float32))
        self._desc = np.vstack(descs).astype(np.float32) if descs else np.zeros((0, 128), np.float32)
        self._owner = np.concatenate(owners) if owners else np.zeros(0, np.int32)
        self._points = np.vstack(points) if points else np.zeros((0, 2), np.float32)
        self._index: cv2.flann.Index | None = None
        if len(self._desc) > params.knn:
            self._index = cv2.flann.Index(self._desc, {"algorithm": FLANN_KDTREE, "trees": params.flann_trees})

    @property
    def descriptor_count(self) -> int:
        return len(self._desc)

    def features(self, gray: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Frame keypoint positions and descriptors (split out so the bench can time matching alone)."""
        kps, desc = self._frame_sift.detectAndCompute(gray, None)  # type: ignore[call-overload]  # stubs omit the optional mask
        return np.array([k.pt for k in kps], np.float32).reshape(-1, 2), desc

    def match(self, gray: np.ndarray, bgr: np.ndarray | None = None) -> list[LogoHit]:
        if self._index is None:
            return []
        pts, desc = self.features(gray)
        if desc is None or len(desc) < self.params.min_matches:
            return []
        return self.match_features(pts, desc, gray.shape[:2])

    def match_features(self, pts: np.ndarray, desc: np.ndarray, shape: tuple[int, int]) -> list[LogoHit]:
        if self._index is None:
            return []
        with self._lock:
            idx, dist2 = self._index.knnSearch(desc, self.params.knn, params={"checks": self.params.flann_checks})
        keep, owner, ref_row = distinct_ratio_test(idx, np.sqrt(np.maximum(dist2, 0)), self._owner, self.params.ratio)
        hits = []
        for ref_i in np.unique(owner[keep]):
            sel = keep & (owner == ref_i)
            if sel.sum() < self.params.min_matches:
                continue
            src = self._points[ref_row[sel]]
            hits += self.locate(self.refs[ref_i], src, pts[sel], shape)
        return hits

    def reference_features(self) -> list[tuple[ReferenceLogo, np.ndarray, np.ndarray]]:
        """(reference, keypoint positions, descriptors) per indexed reference (for brute-force baselines)."""
        return [(ref, self._points[self._owner == i], self._desc[self._owner == i])
                for i, ref in enumerate(self.refs) if (self._owner == i).any()]

    def locate(self, ref: ReferenceLogo, src: np.ndarray, dst: np.ndarray, shape: tuple[int, int]) -> list[LogoHit]:
        """Homographies from matched points: up to ``max_instances`` placements of one reference."""
        p = self.params
        hits = []
        for _ in range(p.max_instances):
            if len(src) < p.min_matches:
                break
            H, inl = cv2.findHomography(src, dst, cv2.RANSAC, p.ransac_reproj_px, maxIters=2000, confidence=0.995)
            if H is None:
                break
            inl = np.asarray(inl).ravel() != 0
            n = int(inl.sum())
            if n < p.min_inliers:
                break
            quad = project_outline(H, ref.image.shape[:2])
            spread = inlier_spread(src[inl], ref.image.shape[:2])
            if sane_quad(quad, ref.image.shape[:2], shape, p.min_box_px) and spread >= p.min_spread:
                hits.append(LogoHit(ref.brand_id, ref.path, 1.0 - math.exp(-n / 12.0), quad_box(quad, shape), self.name,
                                    {"inliers": n, "matches": len(src), "spread": round(spread, 3), "quad": quad.round(1).tolist()}))
            src, dst = src[np.logical_not(inl)], dst[np.logical_not(inl)]
        return hits


def distinct_ratio_test(idx: np.ndarray, dist: np.ndarray, owner_of: np.ndarray, ratio: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lowe's ratio test where the runner-up is the nearest descriptor of another reference.

    Returns (kept mask, reference of the best neighbour, descriptor row of the
    best neighbour) per frame descriptor. When all k neighbours belong to the
    same reference, the k-th distance stands in for the runner-up: the true
    one is at least that far, so the test is only stricter.
    """
    idx = idx.astype(np.int64)
    owner = owner_of[idx]
    best = owner[:, 0]
    other = owner != best[:, None]
    first_other = np.where(other.any(1), other.argmax(1), idx.shape[1] - 1)
    runner_up = dist[np.arange(len(dist)), first_other]
    keep = (dist[:, 0] < ratio * runner_up) & (idx[:, 0] >= 0)
    return keep, best, idx[:, 0]


def project_outline(H: np.ndarray, ref_shape: tuple[int, int]) -> np.ndarray:
    h, w = ref_shape
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32).reshape(-1, 1, 2)
    return cv2.perspectiveTransform(corners, H).reshape(-1, 2)


def sane_quad(quad: np.ndarray, ref_shape: tuple[int, int], frame_shape: tuple[int, int], min_px: int) -> bool:
    """Reject degenerate homographies: non-convex, mirrored, tiny, huge, or wildly sheared outlines."""
    if not np.isfinite(quad).all() or not cv2.isContourConvex(quad.astype(np.float32).reshape(-1, 1, 2)):
        return False
    edges = np.roll(quad, -1, axis=0) - quad
    cross = edges[:, 0] * np.roll(edges, -1, axis=0)[:, 1] - edges[:, 1] * np.roll(edges, -1, axis=0)[:, 0]
    if not (cross > 0).all():  # image coordinates: clockwise corners give positive cross products
        return False
    sides = np.linalg.norm(edges, axis=1)
    if sides.min() < min_px:
        return False
    if max(sides[0] / sides[2], sides[2] / sides[0], sides[1] / sides[3], sides[3] / sides[1]) > 2.5:
        return False
    ref_aspect = ref_shape[1] / ref_shape[0]
    aspect = (sides[0] + sides[2]) / (sides[1] + sides[3])
    if not (ref_aspect / 2.5 < aspect < ref_aspect * 2.5):
        return False
    area = cv2.contourArea(quad.astype(np.float32))
    return area < 1.5 * frame_shape[0] * frame_shape[1]


def inlier_spread(ref_pts: np.ndarray, ref_shape: tuple[int, int]) -> float:
    """Share of the reference covered by the inliers' bounding box.

    Inliers bunched in one small patch (the big letters in the middle, which
    a look-alike may copy) prove little about the whole logo.
    """
    lo, hi = ref_pts.min(0), ref_pts.max(0)
    return float((hi - lo).prod() / (ref_shape[0] * ref_shape[1]))


def quad_box(quad: np.ndarray, frame_shape: tuple[int, int]) -> Box:
    h, w = frame_shape
    x0, y0 = np.clip(quad.min(0), 0, [w, h])
    x1, y1 = np.clip(quad.max(0), 0, [w, h])
    return Box(int(x0), int(y0), int(round(x1 - x0)), int(round(y1 - y0)))
