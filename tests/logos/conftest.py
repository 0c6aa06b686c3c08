"""Fixtures: the default brand registry, its stage, and the marks' letters for look-alikes."""

from __future__ import annotations

import cv2
import pytest

from logos import DEFAULT_BRANDS_DIR, LogoOptions, LogoStage, load_brand_registry

# The letters each default synthetic mark was drawn with (look-alikes reuse them).
LETTERS = {"chanel": "CC", "louis_vuitton": "LV", "gucci": "GG", "hermes": "H", "dior": "CD", "prada": "PR"}


@pytest.fixture(scope="session")
def brands():
    return load_brand_registry(DEFAULT_BRANDS_DIR)


@pytest.fixture(scope="session")
def marks(brands):
    return {b.brand_id: (LETTERS[b.brand_id], [cv2.imread(p, cv2.IMREAD_UNCHANGED) for p in b.logo_paths]) for b in brands}


@pytest.fixture(scope="session")
def stage(brands):
    return LogoStage(brands, LogoOptions())
