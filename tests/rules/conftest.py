"""Fixtures for the rules engine tests: a brand registry, evidence factories, a copied rule set."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

import pytest

import rules
from events import Box, Brand, Evidence, Modality, Price

BRANDS = (
    Brand("chanel", ("Chanel", "香奈儿"), ("香奶奶", "小香"), min_price=8000.0),
    Brand("lv", ("LV", "Louis Vuitton", "路易威登"), ("驴牌",), min_price=6000.0),
    Brand("gucci", ("GUCCI", "古驰"), ("古奇",), min_price=5000.0),
)


def make_evidence(
    text: str = "",
    modality: Modality = Modality.ASR,
    t: float = 0.0,
    duration: float = 2.0,
    stream: str = "s1",
    confidence: float = 0.9,
    brand: str | None = None,
    prices: tuple[Price, ...] = (),
    observation_id: str = "",
) -> Evidence:
    return Evidence(
        stream_id=stream,
        modality=modality,
        media_start=t,
        media_end=t + duration,
        text=text,
        confidence=confidence,
        wall_time=1_700_000_000.0 + t,
        brand=brand,
        prices=prices,
        observation_id=observation_id,
    )


# A product card (title beside its price sticker) and a caption band, as segments tests lay them out.
TITLE_BOX, PRICE_BOX, CAPTION_BOX = Box(60, 60, 700, 110), Box(880, 60, 340, 140), Box(0, 600, 1280, 100)


def line(text: str, t: float, box: Box, *, price: float | None = None, obs: str | None = None, stream: str = "s1") -> Evidence:
    prices = (Price(price, text=f"¥{price:g}"),) if price is not None else ()
    return Evidence(
        stream, Modality.OCR, t, t, text, 0.95, 0.0, box=box, prices=prices,
        observation_id=obs or f"{text}@{t}", details={"event": "start"},
    )


def said(text: str, t: float, duration: float = 3.0, stream: str = "s1") -> Evidence:
    return Evidence(stream, Modality.ASR, t, t + duration, text, 0.8, 0.0)


def card(title: str, price: float, t: float) -> list[Evidence]:
    return [line(title, t, TITLE_BOX), line(f"¥{price:g}", t, PRICE_BOX, price=price)]


@pytest.fixture(scope="session")
def brands() -> tuple[Brand, ...]:
    return BRANDS


@pytest.fixture
def ev() -> Callable[..., Evidence]:
    return make_evidence


@pytest.fixture(scope="session")
def default_engine() -> rules.RuleEngine:
    """The bundled rule set (shared, read-only use: explain only)."""
    return rules.load_engine(brands=BRANDS, options=rules.RulesOptions(hot_reload=False))


@pytest.fixture
def engine() -> rules.RuleEngine:
    """A fresh engine on the bundled rule set (own per-stream state)."""
    return rules.load_engine(brands=BRANDS, options=rules.RulesOptions(hot_reload=False))


@pytest.fixture
def ruleset(tmp_path: Path) -> Path:
    """A writable copy of the bundled rule set (rules/ + lexicons/)."""
    target = tmp_path / "ruleset"
    shutil.copytree(rules.DEFAULT_RULES_DIR, target)
    return target


def engine_with_rule(tmp_path: Path, rule_yaml: str, brands: tuple[Brand, ...] = ()) -> rules.RuleEngine:
    """An engine running one rule written for the test, with the bundled lexicons."""
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir(exist_ok=True)
    (rules_dir / "r.yaml").write_text(rule_yaml, encoding="utf-8")
    return rules.RuleEngine(rules_dir, rules.DEFAULT_RULES_DIR / "lexicons", brands, rules.RulesOptions(hot_reload=False))
