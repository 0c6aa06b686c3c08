"""Logo matching with real OpenCV on rendered frames: precision and recall per method.

Frames are 1280x720 busy product backdrops with a registered mark pasted in,
scaled (12-30% of the frame width), rotated (+-35 deg), tilted, blurred,
partly covered (up to 30%) and JPEG re-compressed; negatives are clean
frames and look-alikes (same letters and motifs, other badge and letterforms;
for the flat mark: same colour other outline, same outline other colour).
"""

from __future__ import annotations

import pytest

from events import Box
from logos import LogoOptions, LogoStage
from logos.matcher import box_iou
from logos.synthetic import scene_cases


def score(stage: LogoStage, cases, method: str) -> dict:
    """Precision/recall of one method's hits; a hit counts if brand and box (IoU > 0.3) match."""
    tp = fp = fn = 0
    for case in cases:
        found = False
        for hit in stage.detect(case.image):
            if hit.method != method:
                continue
            if case.brand_id == hit.brand_id and box_iou(hit.box, Box(*case.box)) > 0.3 and not found:
                found = tp = tp + 1
            else:
                fp += 1
        fn += bool(case.brand_id) and not found
    return {"precision": tp / max(1, tp + fp), "recall": tp / max(1, tp + fn), "tp": tp, "fp": fp, "fn": fn}


@pytest.fixture(scope="module")
def textured_cases(marks):
    textured = {b: (letters, [m for m in ms if m.ndim == 2 or m.shape[2] == 3]) for b, (letters, ms) in marks.items()}
    return scene_cases(textured, 30, seed=11)


@pytest.fixture(scope="module")
def flat_cases(marks):
    letters, ms = marks["hermes"]
    return scene_cases({"hermes": (letters, [m for m in ms if m.ndim == 3 and m.shape[2] == 4])}, 24, seed=12)


def test_sift_precision_recall(stage, textured_cases):
    r = score(stage, textured_cases, "sift")
    print(f"\nSIFT on {len(textured_cases)} frames: precision {r['precision']:.3f} recall {r['recall']:.3f} {r}")
    assert r["precision"] >= 0.95 and r["recall"] >= 0.85


def test_shape_precision_recall(brands, flat_cases):
    stage = LogoStage(brands, LogoOptions(methods=("shape",)))
    r = score(stage, flat_cases, "shape")
    print(f"\nshape on {len(flat_cases)} frames: precision {r['precision']:.3f} recall {r['recall']:.3f} {r}")
    assert r["precision"] >= 0.95 and r["recall"] >= 0.4
    uncovered = [c for c in flat_cases if c.brand_id and c.distortion.occlusion == 0]
    hits = sum(any(h.brand_id == "hermes" for h in stage.detect(c.image)) for c in uncovered)
    assert hits >= 0.9 * len(uncovered), "an uncovered flat mark should be found"


def test_features_cannot_see_the_flat_mark(brands, flat_cases):
    """Why the shape matcher exists: SIFT alone finds no flat mark."""
    sift_only = LogoStage(brands, LogoOptions(methods=("sift",)))
    assert score(sift_only, flat_cases[:8], "sift")["tp"] == 0


def test_similar_brands_keep_only_the_best_hit(stage, marks):
    """CC (Chanel) and CD (Dior) share a letter; one print must not give both brands."""
    cases = scene_cases({"chanel": marks["chanel"], "dior": marks["dior"]}, 6, seed=13, negatives=0)
    for case in cases:
        brands_hit = [h.brand_id for h in stage.detect(case.image)]
        assert brands_hit == [case.brand_id], (case.brand_id, brands_hit)


def test_one_flann_index_holds_every_reference(stage):
    sift = next(m for m in stage.matchers if m.name == "sift")
    assert len(sift.refs) == 6 and sift.descriptor_count > 6 * 100
