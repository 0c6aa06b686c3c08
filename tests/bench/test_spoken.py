"""The spoken-pitch corpus (bench/spoken.py): scripts and labels only, nothing rendered."""

from __future__ import annotations

from collections import Counter

import pytest

from bench import broadcasts as bc
from bench import spoken as sp


@pytest.fixture(scope="module")
def clips() -> dict[str, list[tuple[bc.Broadcast, str]]]:
    return {split: sp.build_clips(split) for split in sp.SPLITS}


def test_every_spelling_of_every_brand_in_every_spoken_counterfeit_sentence_once(clips) -> None:
    for split, pool in sp.POOLS.items():
        templates = len(pool.cf_asr_slang) + len(pool.cf_asr_alias)
        said = Counter((clip.segments[-1].brand, spelling) for clip, spelling in clips[split])
        assert said == {(b, s): templates for b in pool.brands for s in sp.spellings(b)}
        for clip, spelling in clips[split]:
            fake = clip.segments[-1]
            assert fake.role == "counterfeit" and fake.counterfeit == ("asr",) and spelling in fake.shots[0].speech
    assert sp.spellings("gucci") == ("古驰", "古奇", "狗家")  # G家: the voice would say 家


def test_one_pitch_a_clip_after_a_benign_product_that_does_not_involve_its_brand(clips) -> None:
    for split in sp.SPLITS:
        for clip, _ in clips[split]:
            [label] = [v for v in clip.labels()["labels"] if v["category"] == "counterfeit"]
            trap, fake = clip.segments
            assert label["category"] == "counterfeit" and label["brand"] == fake.brand
            assert trap.role in ("trap", "genuine_brand", "false_claim") and len(trap.shots) == len(fake.shots) == 1
            assert fake.brand not in trap.mentions and all(t.brand != fake.brand for s in trap.shots for t in s.traps)
        classes = {t["class"] for clip, _ in clips[split] for t in clip.labels()["traps"]}
        assert len(classes) >= 15 and "nickname_homophone" in classes


def test_splits_share_no_sentence_and_no_brand_and_are_deterministic(clips) -> None:
    sentences = {split: {s for clip, _ in clips[split] for s in clip.sentences} for split in sp.SPLITS}
    assert not sentences["spoken-tuning"] & sentences["spoken-heldout"]
    assert {c.segments[-1].brand for c, _ in clips["spoken-tuning"]} == set(bc.TUNING.brands)
    assert {c.segments[-1].brand for c, _ in clips["spoken-heldout"]} == set(bc.HELDOUT.brands)
    assert sp.build_clips("spoken-heldout") == clips["spoken-heldout"]


def test_a_nickname_that_ends_in_jia_is_said_once() -> None:
    template = "这个{item}就是{alias}家的高仿。"
    assert sp.pitch(template, "狗家", "皮带") == "这个皮带就是狗家的高仿。"
    assert sp.pitch(template, "古驰", "皮带") == "这个皮带就是古驰家的高仿。"
    assert sp.pitch("这款{name}的{item}是高仿的。", "香奈儿", "钱包") == "这款香奈儿的钱包是高仿的。"


def test_the_evidence_corpus_scans_it_as_its_own_corpus() -> None:
    from bench import evidence_corpus as ec
    from livewatch.evaluate import SPLIT_ORDER

    assert ec.CORPUS_SPLITS["spoken"] == sp.SPLITS and set(sp.SPLITS) <= set(SPLIT_ORDER)
