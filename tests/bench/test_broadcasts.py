"""The long-broadcast generator (bench/broadcasts.py): scripts and labels only, nothing rendered."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pytest

from bench import broadcasts as bc

SPLITS = ("tuning", "heldout")


@pytest.fixture(scope="module")
def scripts() -> dict[str, list[bc.Broadcast]]:
    return {split: bc.broadcasts(split) for split in SPLITS}


def test_scripts_are_deterministic_per_seed() -> None:
    a = bc.build_broadcast("tuning", 2)
    b = bc.build_broadcast("tuning", 2)
    assert a == b and bc.format_script(a) == bc.format_script(b)
    assert bc.build_broadcast("tuning", 2, seed=999) != a
    assert bc.build_broadcast("heldout", 0).sentences != bc.build_broadcast("heldout", 1).sentences


def test_splits_share_no_sentence_and_no_brand(scripts) -> None:
    sentences = {split: {s for b in scripts[split] for s in b.sentences} for split in SPLITS}
    assert sentences["tuning"] and not sentences["tuning"] & sentences["heldout"]
    used = {split: _brands_used(scripts[split]) for split in SPLITS}
    assert used["tuning"] == set(bc.TUNING.brands)
    assert used["heldout"] == set(bc.HELDOUT.brands)


def _brands_used(broadcasts: list[bc.Broadcast]) -> set[str]:
    """Brands of products, labels and logos, and brands whose names or nicknames the texts spell out."""
    used: set[str] = set()
    for b in broadcasts:
        labels = b.labels()
        used |= {p["brand"] for p in labels["products"] if p["brand"]}
        used |= {v["brand"] for v in labels["labels"] if v["brand"]}
        used |= {s.card_logo for s in b.segments if s.card_logo} | {s.shirt_logo for s in b.segments if s.shirt_logo}
        text = " ".join(b.texts()).lower()
        for brand, info in bc.BRANDS.items():
            for name in info["names"] + info["aliases"]:
                pattern = re.escape(name.lower())
                if name.isascii():
                    pattern = rf"(?<![a-z]){pattern}(?![a-z])"
                if re.search(pattern, text):
                    used.add(brand)
    return used


def test_enough_traps_of_enough_classes_in_both_splits(scripts) -> None:
    traps = {split: [t for b in scripts[split] for t in b.labels()["traps"]] for split in SPLITS}
    every = traps["tuning"] + traps["heldout"]
    classes = Counter(t["class"] for t in every)
    assert len(every) >= 30 and len(classes) >= 10
    designed = {c for c in bc.TRAP_CLASSES if c != "cross_product_join"}
    for split in SPLITS:
        assert {t["class"] for t in traps[split]} >= designed
    # The same class, worded differently in each split.
    for cls in designed:
        notes = {split: {t["note"] for t in traps[split] if t["class"] == cls} for split in SPLITS}
        assert not notes["tuning"] & notes["heldout"], cls


def test_violations_of_every_kind(scripts) -> None:
    for split in SPLITS:
        labels = [v for b in scripts[split] for v in b.labels()["labels"]]
        counterfeit = [v for v in labels if v["category"] == "counterfeit"]
        claims = [v for v in labels if v["category"] == "false_claim"]
        assert {v["brand"] for v in counterfeit} == set(bc.POOLS[split].brands)
        assert {m for v in counterfeit for m in v["modalities"]} == {"ocr", "asr", "logo"}
        assert {tuple(v["modalities"]) for v in claims} == {("ocr",), ("asr",)}


def test_labels_lie_within_the_broadcast(scripts) -> None:
    for split in SPLITS:
        for b in scripts[split]:
            labels = b.labels()
            total = labels["seconds"]
            assert 540 <= total <= 720
            spans = labels["products"] + labels["labels"] + labels["traps"]
            assert all(0 <= x["start"] < x["end"] <= total + 1e-6 for x in spans), b.name
            products = labels["products"]
            assert len(products) >= 10
            assert all(29 <= p["end"] - p["start"] <= 100 for p in products), b.name
            assert all(a["end"] <= b2["start"] + 1e-6 for a, b2 in zip(products, products[1:]))
            for v in labels["labels"]:
                if v["category"] == "counterfeit":  # spans its product
                    assert any(p["start"] == v["start"] and p["end"] == v["end"] and p["brand"] == v["brand"]
                               and not p["genuine"] for p in products)
                else:  # spans one shot
                    assert 4.9 <= v["end"] - v["start"] <= 15


def test_a_product_keeps_its_card_and_changes_captions(scripts) -> None:
    b = scripts["tuning"][0]
    for seg in b.segments:
        if not seg.product:
            continue
        assert seg.title and seg.price
        captions = [s.caption for s in seg.shots]
        assert len(set(captions)) > 1
        assert all(bc.SHOT_S[0] <= s.seconds <= 13 for s in seg.shots)
    speech = sum(len(s.speech) for s in b.shots) / bc.CHARS_PER_S
    assert 0.8 <= speech / b.seconds <= 1.0


def test_the_host_says_no_latin_letters(scripts) -> None:
    """The Mandarin voice drops Latin letters: 'Chanel的包' would be heard as '的包', 'A货' as '货'."""
    for split in SPLITS:
        for b in scripts[split]:
            assert not [s for s in b.sentences if re.search(r"[A-Za-z]", s)], b.name
    assert bc.spoken("这款Chanel的包是超A货，LV的也有") == "这款香奈儿的包是超级原单货，路易威登的也有"
    titles = {seg.title for b in scripts["tuning"] for seg in b.segments}
    assert any(re.search(r"[A-Za-z]", t) for t in titles)  # cards still write brands in Latin letters


def test_fitting_to_speech_stretches_shots_and_labels() -> None:
    b = bc.build_broadcast("heldout", 3, seconds=180)
    long_voice = [np.zeros(int((s.seconds + 2.0) * bc.AUDIO_RATE), np.float32) for s in b.shots if s.speech]
    fitted = bc.fit_to_speech(b, long_voice)
    assert fitted.seconds > b.seconds + 2 * len(long_voice) - 1
    labels = fitted.labels()
    assert labels["seconds"] == pytest.approx(fitted.seconds)
    assert all(0 <= x["start"] < x["end"] <= labels["seconds"] + 1e-6 for x in labels["labels"] + labels["traps"])
    assert len(labels["products"]) == len(b.labels()["products"])


def test_chinese_numerals() -> None:
    assert bc.cn_number(12999) == "一万二千九百九十九"
    assert bc.cn_number(105) == "一百零五"
    assert bc.cn_number(15) == "十五"
    assert bc.cn_number(21500) == "二万一千五百"
    assert bc.cn_number(3080) == "三千零八十"
    assert bc.cn_number(10050) == "一万零五十"
