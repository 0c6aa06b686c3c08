"""Precision classes: match strength, everyday words, corroboration, benign context, confidence.

Each test is a class of false alarm seen on multi-product broadcasts (issue 11), not one example.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import rules
from events import Action, Brand, MatchStrength, Modality
from tests.rules.conftest import card, engine_with_rule, said

CUE = "counterfeit.brand_with_cue"
GUARANTEE = "counterfeit.brand_with_guarantee"
BRANDS = (
    Brand("dior", ("Dior", "迪奥"), ("迪家", "D家"), min_price=2500.0),
    Brand("gucci", ("GUCCI", "古驰"), ("古奇",), min_price=2000.0),
    Brand("chanel", ("Chanel", "香奈儿"), ("香奶奶", "小香"), min_price=3000.0),
    Brand("louis_vuitton", ("Louis Vuitton", "路易威登", "LV"), ("驴家",), min_price=2500.0),
)


@pytest.fixture(scope="module")
def engine() -> rules.RuleEngine:
    return rules.load_engine(brands=BRANDS, options=rules.RulesOptions(hot_reload=False))


def fired(engine: rules.RuleEngine, text: str) -> dict[str, tuple[str, ...]]:
    return {v.rule_id: v.subjects for v in rules.explain(engine, text, Modality.ASR).fired}


def test_the_lowest_price_on_the_web_is_not_dior(engine) -> None:
    """全网最低价 (dī jià) sounds like 迪家: an everyday word is never a brand heard by sound."""
    exp = rules.explain(engine, "我们这个是全网最低价，史上最强的吸尘器", Modality.ASR)
    assert not any(v.rule_id.startswith("counterfeit.") for v in exp.fired)
    assert any("dior" in line and "everyday word" in line for line in exp.exempted)
    assert fired(engine, "全网最低价，只要九十九元") == {"false_claim.absolute_terms": ("",)}


def test_a_short_name_heard_by_sound_needs_corroboration(engine, ev) -> None:
    # 古迟 (gǔ chí) is not a word: it may be Whisper's 古驰, but alone it proves nothing...
    assert [a for a in engine.process(ev("古迟这个牌子大家都知道", t=0, stream="h1")) if a.rule_id == CUE] == []
    assert [a for a in engine.process(ev("今天的包包只要九十九", t=5, stream="h1")) if a.rule_id == CUE] == []
    # ...with a counterfeit cue in the same utterance it stands, at a lower confidence than the name itself
    (heard,) = [a for a in engine.process(ev("古迟包包是高仿的", t=0, stream="h2")) if a.rule_id == CUE]
    (read,) = [a for a in engine.process(ev("古驰包包是高仿的", t=0, stream="h3")) if a.rule_id == CUE]
    assert heard.brand == read.brand == "gucci"
    assert heard.confidence < read.confidence
    assert {e.strength for e in heard.evidence} == {MatchStrength.HOMOPHONE}


def test_a_price_does_not_corroborate_a_name_heard_by_sound(engine, ev) -> None:
    """Sellers say a price in nearly every sentence: 古迟 + 九十九 is still only a sound."""
    assert [a for a in engine.process(ev("古迟包包只要九十九元", t=0, stream="p1")) if a.rule_id == CUE] == []


def test_a_latin_brand_in_mandarin_speech_is_heard_by_sound(engine, ev) -> None:
    """Whisper, prompted with brand names, wrote 枸杞 (gǒuqǐ) as "Gucci": in Mandarin speech a Latin
    spelling is its guess at a sound, weak until a cue or a stronger match of the brand backs it."""
    said = [ev("Gucci是宁夏的，颗粒很饱满", t=0, duration=3.0, stream="l1"), ev("今天直播间只要59元", t=3.2, stream="l1")]
    assert [a for e in said for a in engine.process(e) if a.rule_id == CUE] == []
    assert [a.brand for a in engine.process(ev("Gucci包包是高仿的，只要99元", t=0, stream="l2")) if a.rule_id == CUE] == ["gucci"]
    # a long name Whisper does not make up
    assert [a.brand for a in engine.process(ev("Louis Vuitton的包包只要99元", t=0, stream="l4")) if a.rule_id == CUE] == ["louis_vuitton"]
    # on screen a Latin name is a spelling, not a guess
    shown = ev("Gucci 斜挎包 ¥99", t=0, stream="l3", modality=Modality.OCR)
    assert [a.brand for a in engine.process(shown) if a.rule_id == CUE] == ["gucci"]


def test_match_strength_is_on_every_evidence_item(engine, ev) -> None:
    (alert,) = [a for a in engine.process(ev("GUCCI 高 仿", t=0, stream="m1", modality=Modality.OCR)) if a.rule_id == CUE]
    assert alert.evidence[0].strength is MatchStrength.NORMALIZED  # 高 仿 with a separator


@pytest.mark.parametrize(
    "text",
    [
        "我们不卖高仿，这款古驰是专柜正品",  # negation of the cue
        "古驰的包都是专柜拿的，高仿的东西我们从来不碰",  # a denial placed after the cue it denies
        "古驰我们只卖正品，复刻和原单货一律不卖",  # several cues fronted before one denial
        "有宝宝问是不是高仿的香奈儿，我们是正品",  # a viewer's question quoted and denied
        "比香奈儿的还好用，价格只要九十九",  # comparison: comparative advertising, not counterfeit
        "香奈儿创立于1910年，今天这款围巾只要八十九",  # a brand's story
        "不是大牌，我们自己设计的，跟迪奥风格有点像，只要一百九十九",  # our own design
    ],
)
def test_benign_context_cancels_the_counterfeit_judgement(engine, text: str) -> None:
    assert CUE not in fired(engine, text)


def test_benign_context_shows_in_explain(engine) -> None:
    exp = rules.explain(engine, "我们不卖高仿", Modality.ASR)
    assert any("高仿" in m and "denial (不卖)" in m for m in exp.matches)
    exp = rules.explain(engine, "高仿我们不碰", Modality.ASR)
    assert any("高仿" in m and "denial (不碰, after it)" in m for m in exp.matches)


@pytest.mark.parametrize(
    "text",
    [
        "高仿的古驰，不是正品，只要九十九",  # the copula after a cue confesses, it does not deny
        "古驰高仿，一比一，我们不做假发票",  # a denial of something else, after a clause break
        "不是我说，这个古驰高仿做得真好",  # a negation does not reach across a clause break
    ],
)
def test_a_negation_elsewhere_in_the_text_does_not_cancel_a_cue(engine, text: str) -> None:
    assert CUE in fired(engine, text)


def test_a_denial_that_ends_its_clause_reaches_the_cue_fronted_before_a_comma(engine) -> None:
    """Whisper base wrote the tuning trap 原单货也一律不卖 as "原单,货也一律不卖" (and 原单,我也一律不卖:
    2 of 12 TTS samples): its comma split the fronted topic from the denial, and a Prada alert followed. A denial with
    nothing after it in its clause takes the topic before it as its object, comma or not; one with
    an object of its own (不做假发票) denies that object only."""
    assert CUE not in fired(engine, "我们家的普拉达每一件都能查到训练后,高访的东西我们从来不碰。原单,货也一律不卖。")
    assert CUE not in fired(engine, "古驰的包都是专柜拿的，高仿的东西，我们从来不碰的")
    assert CUE in fired(engine, "古驰这款是原单，我们不做假发票")


def test_a_denial_by_another_party_denies_nothing_of_the_sellers(engine) -> None:
    """A denial that ends its clause reaches the cue fronted before it (above); when its subject is
    someone else (别家都不卖: "other shops don't sell this") it is a boast, not a denial. Named
    further back, the other party is part of the object and the seller still denies."""
    exp = rules.explain(engine, "古驰这款是原单货，别家都不卖", Modality.ASR)
    assert CUE in {v.rule_id for v in exp.fired}
    assert any("other_party: 别家" in m for m in exp.matches)
    assert CUE in fired(engine, "别人家不卖高仿，我们卖，古驰的包包")  # theirs, before the cue
    assert CUE in fired(engine, "古驰原单，同行从来不做")  # an adverb between subject and denial
    assert CUE not in fired(engine, "外面那些高仿我们从来不碰，古驰专柜正品")
    assert CUE not in fired(engine, "古驰的包都是专柜拿的，高仿的东西，我们从来不碰的")


def test_a_negation_heard_by_sound_cancels_only_what_was_heard_by_sound(engine) -> None:
    """Whisper base writes 不是 as 不适 or 不实 (不是的 came back 不适等 in 6 of 12 samples of a tuning
    trap): a cue it guessed from the sound (高仿 as 高访) is cancelled by a negation guessed the same
    way; a cue heard as written is not cancelled by a word that only sounds like 不是 or 没有."""
    exp = rules.explain(engine, "有宝宝问是不适高访的香奈儿，我们是正品", Modality.ASR)
    assert CUE not in {v.rule_id for v in exp.fired}
    assert any("negation: 不是 (as 不适)" in m for m in exp.matches)
    assert CUE in fired(engine, "美优高仿的古驰包包，只要九十九")  # 美优 (měi yōu) sounds like 没有


def test_an_authorised_store_at_the_brand_price_is_not_counterfeit_but_below_it_is(engine, ev) -> None:
    ok = [ev("古驰官方旗舰店，这款包包原单工艺，两千九百九十九元", t=0, stream="a1")]
    assert [a for e in ok for a in engine.process(e) if a.rule_id == CUE] == []
    cheap = [ev("古驰官方旗舰店，这款包包原单工艺，只要九十九元", t=0, stream="a2")]
    assert [a.brand for e in cheap for a in engine.process(e) if a.rule_id == CUE] == ["gucci"]


def test_second_hand_goods_are_not_compared_with_retail_prices(engine) -> None:
    assert CUE not in fired(engine, "二手香奈儿包包，有小票，只要八百八")
    assert CUE in fired(engine, "香奈儿包包只要八百八")


def test_a_guarantee_joins_only_a_brand_of_the_same_sentence(engine, ev) -> None:
    stream = [ev("这款古驰的包包大家都喜欢", t=0, stream="g1"), ev("我们家的纸巾假一赔十", t=4, stream="g1")]
    assert [a for e in stream for a in engine.process(e) if a.rule_id == GUARANTEE] == []
    (alert,) = [a for a in engine.process(ev("古驰包包假一赔十", t=0, stream="g2")) if a.rule_id == GUARANTEE]
    assert alert.brand == "gucci"


def test_takedown_applies_only_above_the_rules_confidence(tmp_path: Path, ev) -> None:
    engine = engine_with_rule(
        tmp_path,
        "id: test.takedown\nversion: 1\ncategory: counterfeit\nseverity: high\naction: takedown\n"
        "takedown_confidence: 0.7\nscope: segment\n"
        "conditions:\n  all:\n    - brand: {}\n    - terms: {lexicons: [counterfeit_slang]}\n",
        BRANDS,
    )
    (strong,) = engine.process(ev("古驰包包是高仿的", t=0, stream="t1", confidence=0.9))
    (weak,) = engine.process(ev("古迟包包是高访的", t=0, stream="t2", confidence=0.9))
    assert (strong.action, weak.action) == (Action.TAKEDOWN, Action.REVIEW)
    assert strong.confidence >= 0.7 > weak.confidence


def test_a_bundle_price_said_with_a_brand_is_not_the_brands_price(engine) -> None:
    """普拉达钱包下单送的卡套，单买是两个五十元: the ¥50 is two gift card holders, not the wallet."""
    assert CUE not in fired(engine, "古驰钱包下单送的卡套，单买是两个五十元")
    assert CUE in fired(engine, "古驰钱包今天只要五十元")


def test_a_coupon_said_with_a_brand_is_not_the_brands_price(engine) -> None:
    """先领一百元优惠券: the ¥100 comes off the bag's price (the tuning pool's coupon trap, said
    with no authorised-store caption beside it)."""
    assert CUE not in fired(engine, "古驰这款今天先领一百元优惠券再下单")
    assert CUE in fired(engine, "古驰这款今天只要一百元")


def test_a_genuine_lipstick_is_judged_by_the_lipstick_floor_not_the_bag_floor() -> None:
    brands = (Brand("chanel", ("Chanel", "香奈儿"), (), min_price=3000.0, category_min_prices=(("口红", 250.0),)),)
    engine = rules.load_engine(brands=brands, options=rules.RulesOptions(hot_reload=False))
    assert CUE not in fired(engine, "香奈儿的滋润口红今天只要三百八十元")  # a genuine price for a lipstick
    assert CUE in fired(engine, "香奈儿的滋润口红今天只要三十九元")  # not for a genuine one
    assert CUE in fired(engine, "香奈儿的包包今天只要三百八十元")  # the bag floor still holds


def test_a_word_people_say_that_only_sounds_like_a_nickname_is_refused(engine) -> None:
    """工厂底价 (dǐ jià, a rarer word than 低价, 41 in jieba's 60 million) is no more Dior's 迪家 than 全网最低价 is."""
    fired_rules = rules.explain(engine, "工厂底价直接给到大家，一箱五袋不到四十元", Modality.ASR).fired
    assert not any(v.rule_id.startswith("counterfeit.") for v in fired_rules)
    assert "dior" in fired(engine, "这款迪家的包包是高仿的").get(CUE, ())


def test_a_cue_heard_by_sound_inside_a_longer_word_is_no_cue(engine) -> None:
    """皮肤科 (pí fū kē) holds 复刻's sound; the dermatologist recommending a Dior cream is no counterfeit."""
    exp = rules.explain(engine, "迪奥的这款面霜，皮肤科医生都在推荐", Modality.ASR)
    assert not any(v.rule_id.startswith("counterfeit.") for v in exp.fired)
    assert any("复刻" in line and "皮肤科" in line for line in exp.exempted)
    # a word over one edge only is Whisper's spelling, not the host's word: 是复刻版 written 师傅客板
    assert "gucci" in fired(engine, "这个古驰包包师傅客板，细节都对得上").get(CUE, ())
    # a cue heard as a word of its own still counts (Whisper writes the likeliest word for a sound)
    assert "dior" in fired(engine, "迪奥的包包是高房的").get(CUE, ())


MEDICAL = "false_claim.medical_claims"


def test_a_short_claim_heard_only_by_sound_needs_a_disease_or_another_claim_with_it(engine) -> None:
    """置于 (put) sounds like 治愈 (cure): a phone charger put on the desk is no cure claim."""
    exp = rules.explain(engine, "把手机置于桌面上就能充电", Modality.ASR)
    assert MEDICAL not in {v.rule_id for v in exp.fired}
    assert any("heard only by sound" in line and "置于" in line for v in exp.verdicts for line in v.reasons)
    assert MEDICAL not in fired(engine, "把手机置于桌面上，用了一年没毛病"), "毛病 is a fault, not a disease"
    for claim in ("这个面膜能置于痘痘", "这个产品能置于癌症", "这个茶喝了能治于失眠,还能根至高血压"):
        assert MEDICAL in fired(engine, claim), claim  # a disease named, or two claims, with it
    assert MEDICAL in fired(engine, "这个产品能治愈"), "written as the claim: it stands alone"
    assert MEDICAL in fired(engine, "坚持吃三个月,将血糖的效果大家自己看"), "three syllables heard by sound: not short"


def test_the_disease_a_short_claim_is_about_joins_its_evidence(engine, ev) -> None:
    (alert,) = [a for a in engine.process(ev("这个面膜能置于痘痘", t=0, stream="m1")) if a.rule_id == MEDICAL]
    assert {"治愈", "痘痘"} <= {t.split(" ")[0] for e in alert.evidence for t in e.matched_terms}


def test_a_word_rarer_than_the_nickname_it_sounds_like_is_heard_as_the_nickname(engine) -> None:
    """Whisper base writes Chanel's 小香 as 小箱 (a small box, 3 in 60 million): a homophone, corroborated by a cue."""
    assert "chanel" in fired(engine, "这款小箱的双肩包是高访的").get(CUE, ())
    exp = rules.explain(engine, "小箱的双肩包今天只要九十九元", Modality.ASR)
    assert CUE not in {v.rule_id for v in exp.fired}, "a sound alone, a price is no corroboration"


def test_a_name_heard_one_syllable_part_off_counts_only_with_a_cue_said_with_it(engine, ev) -> None:
    """Whisper base writes 古驰 (gu chi) as 武池 (wu chi): another initial, the same final. Heard in
    speech, such a name is the weakest match there is: a cue in the same utterance, never a price."""
    (alert,) = [a for a in engine.process(ev("这款武池的围巾是高仿的", t=0, stream="n1")) if a.rule_id == CUE]
    assert alert.brand == "gucci" and {e.strength for e in alert.evidence} >= {MatchStrength.NEAR_HOMOPHONE}
    (heard,) = [a for a in engine.process(ev("这款古迟的围巾是高仿的", t=0, stream="n2")) if a.rule_id == CUE]
    assert alert.confidence < heard.confidence
    assert [a for a in engine.process(ev("武池的围巾今天只要八十九元", t=0, stream="n3")) if a.rule_id == CUE] == []
    # three syllables and more are weak too when only near: 香奈尔 (xiang nai er) as 香来儿
    assert CUE not in fired(engine, "香来儿的包包只要九十九元")
    assert "chanel" in fired(engine, "香来儿的包包是高仿的").get(CUE, ())


def test_a_near_name_is_refused_when_it_is_an_everyday_word_or_another_name(engine) -> None:
    exp = rules.explain(engine, "这个故事是高仿的", Modality.ASR)  # gu shi, one initial from 古驰 gu chi
    assert CUE not in {v.rule_id for v in exp.fired}
    assert any("故事" in line and "everyday word" in line for line in exp.exempted)
    assert fired(engine, "迪奥的包包是高仿的").get(CUE) == ("dior",)  # no other brand one syllable from 迪奥


def test_a_short_name_heard_by_sound_is_not_corroborated_by_the_product_it_is_said_of() -> None:
    """这个 + a sound like a nickname + the card's product reads like "this Chanel doll", but the
    place before the product holds any attribute: 这个小象玩偶 (a little elephant plush, xiǎo xiàng
    as 小香) beside a ¥49 plush toy, and the same said as Whisper wrote it, 小校 (one sound part
    from 小香). Tried as corroboration, the tuning clips' perfect transcript raised the first and
    their Whisper transcript the second: still a cue."""

    def alerts(title: str, price: float, sentence: str) -> list:
        engine = rules.load_engine(brands=BRANDS, options=rules.RulesOptions(hot_reload=False))
        events = [*card(title, price, 0), said(sentence, 1)]
        return [a for e in events for a in engine.process(e) if a.rule_id == CUE]

    assert alerts("毛绒玩偶", 49, "这个小象玩偶的鼻子是可以弯的") == []
    assert alerts("毛绒玩偶", 49, "这个小校玩偶的鼻子是可以拆的") == []
    (alert,) = alerts("秋冬手提包", 129, "这款小箱的手提包是高仿的")  # with a cue it stands, for review
    assert alert.brand == "chanel" and alert.action is Action.REVIEW


def test_a_nickname_heard_with_only_its_jia_right_is_no_name(engine) -> None:
    """机甲 heard as 即假 (ji jia) is one initial from 迪家 (di jia), and 家 says nothing of which name."""
    exp = rules.explain(engine, "这个即假模型是一比一还原动画里的样子", Modality.ASR)
    assert not any(v.rule_id.startswith("counterfeit.") for v in exp.fired)
    assert not any("dior" in m for m in exp.matches)


def test_on_screen_a_name_is_not_misheard(engine, ev) -> None:
    """OCR misreads shapes, not sounds: 武池 on a card is not Gucci."""
    shown = ev("武池 围巾 高仿", t=0, stream="n4", modality=Modality.OCR)
    assert [a for a in engine.process(shown) if a.rule_id == CUE] == []
    assert fired(engine, "武池 围巾 高仿") and "gucci" in fired(engine, "武池 围巾 高仿").get(CUE, ())  # the same words said
