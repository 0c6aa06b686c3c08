"""Logo matching: ms per frame and precision/recall per method, and cost as brands grow.

Figures (baselines measured in the same run on the same frames):
- SIFT with one FLANN index over all reference logos, ms/frame at 1280 and 640 px wide
  frames (features + matching + homography), vs brute-force matching of the frame against
  each reference logo in turn (cv2.BFMatcher, the same ratio test and homography check);
- SIFT precision and recall at 1280 and 640 px vs the brute-force matcher's;
- the colour + outline matcher for flat marks: ms/frame vs SIFT's, and precision/recall vs
  SIFT's on the same flat-mark frames (SIFT finds none: that is why the shape matcher exists);
- matching cost per frame with 10, 100 and 1,000 registered brands (synthetic marks), SIFT
  features of the frame excluded (identical on both sides), FLANN vs brute force.

Frames are rendered by ``logos.synthetic``: busy product backdrops, marks scaled 12-30% of
the frame width, rotated +-35 deg, tilted, blurred, up to 30% covered, JPEG 50-90, with
look-alike and clean negatives. Timings are wall-clock on a shared 2-core machine: medians.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from bench.figures import figure
from events import Box
from logos import DEFAULT_BRANDS_DIR, LogoOptions, LogoStage, load_brand_registry
from logos.matcher import LogoHit, box_iou, keep_best
from logos.sift import SiftMatcher
from logos.synthetic import scene_cases, synthetic_registry

LETTERS = {"chanel": "CC", "louis_vuitton": "LV", "gucci": "GG", "hermes": "H", "dior": "CD", "prada": "PR"}
N_TEXTURED = 24
N_FLAT = 12
BRAND_COUNTS = (10, 100, 1000)
SCALE_FRAMES = 4


def brute_force(sift: SiftMatcher, pts: np.ndarray, desc: np.ndarray, shape: tuple[int, int]) -> list[LogoHit]:
    """The baseline: every reference logo matched in turn (cost grows with the number of logos)."""
    bf = cv2.BFMatcher(cv2.NORM_L2)
    hits = []
    for ref, ref_pts, ref_desc in sift.reference_features():
        pairs = [m for m in bf.knnMatch(desc, ref_desc, k=2) if len(m) == 2 and m[0].distance < sift.params.ratio * m[1].distance]
        if len(pairs) >= sift.params.min_matches:
            src = ref_pts[[m[0].trainIdx for m in pairs]]
            dst = pts[[m[0].queryIdx for m in pairs]]
            hits += sift.locate(ref, src, dst, shape)
    return hits


def _resize(image: np.ndarray, width: int) -> np.ndarray:
    if image.shape[1] == width:
        return image
    return cv2.resize(image, (width, round(image.shape[0] * width / image.shape[1])), interpolation=cv2.INTER_AREA)


def _pr(results: list[tuple[list[LogoHit], object]], scale: float) -> tuple[float, float]:
    tp = fp = fn = 0
    for hits, case in results:
        found = False
        for h in hits:
            truth = Box(*(round(v * scale) for v in case.box)) if case.box else None
            if truth and h.brand_id == case.brand_id and box_iou(h.box, truth) > 0.3 and not found:
                found, tp = True, tp + 1
            else:
                fp += 1
        fn += bool(case.brand_id) and not found
    return tp / max(1, tp + fp), tp / max(1, tp + fn)


def _sift_vs_brute(sift: SiftMatcher, cases, width: int, min_score: float) -> dict[str, float]:
    flann_ms, bf_ms, flann_res, bf_res = [], [], [], []
    for case in cases:
        gray = cv2.cvtColor(_resize(case.image, width), cv2.COLOR_BGR2GRAY)
        t0 = time.perf_counter()
        pts, desc = sift.features(gray)
        t1 = time.perf_counter()
        hits = sift.match_features(pts, desc, gray.shape) if desc is not None else []
        t2 = time.perf_counter()
        bf_hits = brute_force(sift, pts, desc, gray.shape) if desc is not None else []
        t3 = time.perf_counter()
        flann_ms.append((t2 - t0) * 1000)
        bf_ms.append((t1 - t0 + t3 - t2) * 1000)
        flann_res.append((keep_best([h for h in hits if h.score >= min_score], 0.3), case))
        bf_res.append((keep_best([h for h in bf_hits if h.score >= min_score], 0.3), case))
    s = width / cases[0].image.shape[1]
    (p, r), (bp, br) = _pr(flann_res, s), _pr(bf_res, s)
    return {"ms": statistics.median(flann_ms), "bf_ms": statistics.median(bf_ms), "p": p, "r": r, "bp": bp, "br": br}


def _method_figures() -> list[dict]:
    brands = load_brand_registry(DEFAULT_BRANDS_DIR)
    marks = {b.brand_id: (LETTERS.get(b.brand_id, "XX"), [cv2.imread(p, cv2.IMREAD_UNCHANGED) for p in b.logo_paths]) for b in brands}
    textured = {b: (letters, [m for m in ms if m.shape[2] == 3]) for b, (letters, ms) in marks.items()}
    flat = {"hermes": (marks["hermes"][0], [m for m in marks["hermes"][1] if m.shape[2] == 4])}
    t_cases = scene_cases(textured, N_TEXTURED, seed=101)
    f_cases = scene_cases(flat, N_FLAT, seed=102)
    stage = LogoStage(brands, LogoOptions())
    sift = next(m for m in stage.matchers if m.name == "sift")
    shape = next(m for m in stage.matchers if m.name == "shape")
    min_score = stage.options.min_confidence
    out = []
    for width in (1280, 640):
        r = _sift_vs_brute(sift, t_cases, width, min_score)
        n = f"{len(t_cases)} frames, 6 brands"
        out.append(figure(f"logo sift ms/frame @{width}", r["ms"], "ms", "brute-force per reference", r["bf_ms"], n))
        out.append(figure(f"logo sift precision @{width}", r["p"], "ratio", "brute-force per reference", r["bp"], n))
        out.append(figure(f"logo sift recall @{width}", r["r"], "ratio", "brute-force per reference", r["br"], n))
        shape_ms, sift_ms, shape_res, sift_res = [], [], [], []
        for case in f_cases:
            img = _resize(case.image, width)
            gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
            t0 = time.perf_counter()
            hits = shape.match(gray, img)
            t1 = time.perf_counter()
            s_hits = sift.match(gray, img)
            t2 = time.perf_counter()
            shape_ms.append((t1 - t0) * 1000)
            sift_ms.append((t2 - t1) * 1000)
            shape_res.append((keep_best([h for h in hits if h.score >= min_score], 0.3), case))
            sift_res.append((keep_best([h for h in s_hits if h.score >= min_score], 0.3), case))
        s = width / f_cases[0].image.shape[1]
        (p, rc), (sp, sr) = _pr(shape_res, s), _pr(sift_res, s)
        n = f"{len(f_cases)} frames with the flat mark (half covered up to 30%) or negatives"
        out.append(figure(f"logo shape ms/frame @{width}", statistics.median(shape_ms), "ms", "sift on the same frames",
                          statistics.median(sift_ms), n))
        out.append(figure(f"logo shape precision @{width}", p, "ratio", "sift on the same frames", sp, n))
        out.append(figure(f"logo shape recall @{width}", rc, "ratio", "sift on the same frames", sr, n))
    return out


def _scale_figures() -> list[dict]:
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        synthetic_registry(Path(tmp) / "brands", max(BRAND_COUNTS), seed=7, size=240)
        all_brands = load_brand_registry(Path(tmp) / "brands")
        for count in BRAND_COUNTS:
            brands = all_brands[:count]
            options = LogoOptions(methods=("sift",))
            sift = SiftMatcher(__import__("logos.matcher", fromlist=["x"]).load_references(brands, 240), options.sift)
            marks = {b.brand_id: ("ZZ", [cv2.imread(b.logo_paths[0])]) for b in brands[:: max(1, count // SCALE_FRAMES)][:SCALE_FRAMES]}
            cases = scene_cases(marks, SCALE_FRAMES, seed=count, size=(640, 360), negatives=0)
            flann_ms, bf_ms, found = [], [], 0
            for case in cases:
                gray = cv2.cvtColor(case.image, cv2.COLOR_BGR2GRAY)
                pts, desc = sift.features(gray)
                t0 = time.perf_counter()
                hits = sift.match_features(pts, desc, gray.shape)
                t1 = time.perf_counter()
                flann_ms.append((t1 - t0) * 1000)
                found += any(h.brand_id == case.brand_id for h in hits)
                if len(bf_ms) < (SCALE_FRAMES if count <= 100 else 1):  # 1,000 brands: ~20-40 s a frame
                    t2 = time.perf_counter()
                    brute_force(sift, pts, desc, gray.shape)
                    bf_ms.append((time.perf_counter() - t2) * 1000)
            notes = (f"{sift.descriptor_count} reference descriptors; 640x360 frames; matching only (frame SIFT excluded); "
                     f"FLANN found {found}/{len(cases)} logos")
            out.append(figure(f"logo matching ms/frame, {count} brands", statistics.median(flann_ms), "ms",
                              "brute-force per reference", statistics.median(bf_ms), notes))
    return out


def run() -> list[dict]:
    return _method_figures() + _scale_figures()


if __name__ == "__main__":
    started = time.monotonic()
    for fig in run():
        print(fig)
    print(f"{time.monotonic() - started:.0f} s")
