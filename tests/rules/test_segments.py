"""Product segments: card changes and spoken cues split a stream into products; rules join within one."""

from __future__ import annotations

import rules
from events import Box, Evidence, Modality
from rules.segments import SegmentTimeline
from tests.rules.conftest import CAPTION_BOX, PRICE_BOX, TITLE_BOX, card, engine_with_rule, line, said

CUE = "counterfeit.brand_with_cue"


def timeline_of(*events: Evidence) -> SegmentTimeline:
    tl = SegmentTimeline()
    for ev in events:
        tl.observe_screen(ev)
    return tl


def test_a_new_card_title_opens_a_segment_whatever_the_order_of_its_lines() -> None:
    tl = timeline_of(*card("纯棉T恤", 49, 0), *card("经典手提包", 99, 60)[::-1])
    (first, second) = tl.segments
    assert (first.media_start, first.media_end, first.title) == (0.0, 60.0, "纯棉t恤")
    assert (second.media_start, second.reason, second.title) == (60.0, "card", "经典手提包")


def test_a_new_price_under_the_same_title_is_the_same_product() -> None:
    tl = timeline_of(*card("羊毛大衣", 899, 0), line("¥599", 30, PRICE_BOX, price=599), line("包邮", 33, CAPTION_BOX))
    assert len(tl.segments) == 1


def test_the_same_card_read_again_is_the_same_product() -> None:
    tl = timeline_of(*card("羊毛大衣", 899, 0), line("羊毛 大衣", 40, TITLE_BOX), line("¥899", 40, PRICE_BOX, price=899))
    assert len(tl.segments) == 1


def test_captions_changing_under_one_card_do_not_split_it() -> None:
    tl = timeline_of(*card("羊毛大衣", 899, 0), line("点点关注", 5, CAPTION_BOX), line("新人领券", 20, CAPTION_BOX))
    assert len(tl.segments) == 1


def test_a_spoken_cue_opens_a_segment_unless_a_card_change_is_near() -> None:
    tl = timeline_of(*card("纯棉T恤", 49, 0), *card("经典手提包", 99, 60))
    tl.observe_cue(said("好，我们来看下一款", 57))  # arrives late; the card change at 60 s fixes the time
    tl.observe_cue(said("接下来这个宝贝", 120))
    assert [(s.media_start, s.reason) for s in tl.segments] == [(0.0, "start"), (60.0, "card"), (120.0, "speech")]


def test_utterances_belong_to_the_segment_around_their_middle_screen_lines_to_all_they_span() -> None:
    tl = timeline_of(*card("纯棉T恤", 49, 0), *card("经典手提包", 99, 60))
    assert [s.segment_id for s in tl.segments_of(Modality.ASR, 58.0, 64.0)] == ["seg-60.0"]
    assert [s.segment_id for s in tl.segments_of(Modality.OCR, 50.0, 70.0)] == ["seg-0.0", "seg-60.0"]


def test_a_brand_named_for_one_product_never_meets_the_next_products_price(engine) -> None:
    events = [
        *card("托特包", 2999, 0),
        said("这款古驰的托特包是专柜款", 5),
        *card("纯棉T恤", 49, 20),
        said("这件T恤只要四十九", 24),
    ]
    alerts = [a for e in events for a in engine.process(e)]
    assert [a for a in alerts if a.category.value == "counterfeit"] == []


def test_within_one_product_the_cards_brand_and_a_cheap_price_join(engine) -> None:
    events = [*card("古驰经典手提包", 99, 0), said("今天福利价只要九十九元", 5)]
    alerts = [a for e in events for a in engine.process(e) if a.rule_id == CUE]
    alert = alerts[-1]
    assert alert.brand == "gucci" and alert.segment is not None and alert.segment.segment_id == "seg-0.0"
    assert alert.segment.title == "古驰经典手提包"
    assert alert.price is not None and alert.price.amount == 99.0
    assert {e.segment_id for e in alert.evidence} == {"seg-0.0"}
    terms = {t for e in alert.evidence for t in e.matched_terms}
    assert any("same product card" in t for t in terms) and any("said while the card shows the brand" in t for t in terms)


def test_a_number_said_beside_a_card_showing_its_own_genuine_price_is_not_that_products_price(engine) -> None:
    """定金 (deposit) as Whisper may write it (定经): without its role word, 500 looks like the selling
    price; the card says the bag costs 18,500, so a number said beside it without the brand is not it."""
    events = [*card("古驰酒神包", 18500, 0), said("先付定经五百元，月底付尾款", 5)]
    assert [a for e in events for a in engine.process(e) if a.rule_id == CUE] == []


def test_a_cheap_price_said_with_the_brand_binds_whatever_the_card_shows(engine) -> None:
    events = [*card("古驰酒神包", 18500, 0), said("古驰这款今天只要五百元", 5)]
    (alert, *_) = [a for e in events for a in engine.process(e) if a.rule_id == CUE]
    assert alert.price is not None and alert.price.amount == 500.0


def test_a_brand_said_of_the_product_on_the_card_binds_the_cards_price(engine) -> None:
    """这款 + brand + the card's product: the host names the brand of what is on sale. The OCR
    read 皮帯 and Whisper wrote 皮带: the product is compared by sound. No cue is needed (高仿
    heard as 高讽 is no cue), but a cheap price only binds to what the brand was said of."""
    events = [*card("新款皮帯", 69, 0), said("这款香奈儿的皮带大家看一下", 1), said("今天只要六十九元", 5)]
    alerts = [a for a in [*(a for e in events for a in engine.process(e)), *engine.finish("s1")] if a.rule_id == CUE]
    assert {a.alert_id for a in alerts} == {alerts[0].alert_id}
    alert = alerts[-1]  # its last revision
    assert alert.brand == "chanel" and alert.price is not None and alert.price.amount == 69.0
    terms = {t for e in alert.evidence for t in e.matched_terms}
    assert any("said of the product on its card" in t for t in terms)
    assert not any("said while the card shows the brand" in t for t in terms)  # the card does not show it


def test_explain_says_a_brand_is_said_of_the_product_after_it(default_engine) -> None:
    said_of = "said of the product after it"
    assert any(said_of in m for m in rules.explain(default_engine, "这款香奈儿的皮带大家看一下", Modality.ASR).matches)
    assert not any(said_of in m for m in rules.explain(default_engine, "我自己用的是香奈儿的皮带", Modality.ASR).matches)


def test_a_brand_said_without_pointing_at_the_product_on_the_card_does_not_bind_its_price(engine) -> None:
    """No demonstrative (the host's own belt), or a demonstrative and another product (a viewer's
    question about perfume while a belt is on sale): the card's ¥69 is not the brand's price."""
    for sentence in ("我自己用的是香奈儿的皮带", "这款香奈儿的香水我们没有", "那款香奈儿的皮带要两万多"):
        events = [*card("新款皮带", 69, 0), said(sentence, 1)]
        assert [a for e in events for a in engine.process(e) if a.rule_id == CUE] == [], sentence


def test_a_card_is_named_by_the_end_of_its_title_compared_as_spelled() -> None:
    tl = SegmentTimeline(spell=lambda text: text.replace("帯", "带"))
    for ev in card("秋冬新款皮帯", 69, 0):
        tl.observe_screen(ev)
    assert tl.card_named(1.0, 4.0, "皮带是") is not None
    assert tl.card_named(1.0, 4.0, "秋冬外套") is None  # the title's end, not any part of it
    assert tl.card_named(1.0, 4.0, "带子") is None  # two characters at least


def test_a_nickname_inside_an_everyday_word_is_no_brand(engine) -> None:
    """小香风 is the Chanel *style* (tweed jackets of any make), not Chanel."""
    events = [*card("小香风粗花呢外套", 199, 0)]
    assert [a for e in events for a in engine.process(e) if a.rule_id == CUE] == []


def test_window_scope_still_joins_across_products(tmp_path, brands) -> None:
    engine = engine_with_rule(
        tmp_path,
        "id: test.window\nversion: 1\ncategory: counterfeit\nseverity: low\nwindow_s: 60\nscope: window\n"
        "conditions:\n  all:\n    - brand: {}\n    - price_below: {fraction: 0.3, bind: segment}\n",
        brands,
    )
    events = [*card("托特包", 2999, 0), said("这款古驰的托特包是专柜款", 5), *card("纯棉T恤", 49, 20)]
    (alert,) = [a for e in events for a in engine.process(e)]
    assert alert.brand == "gucci" and alert.segment is None


def test_a_new_title_opens_a_segment_even_when_the_price_sticker_reads_the_same() -> None:
    """OCR tracking carries an unchanged "¥59" on: the title alone tells the product changed."""
    price = line("¥59", 0, PRICE_BOX, price=59, obs="price-59")
    tl = timeline_of(line("Gucci钱包", 0, TITLE_BOX), price, line("菊花枸杞养生茶", 40, TITLE_BOX))
    assert [(s.media_start, s.title) for s in tl.segments] == [(0.0, "gucci钱包"), (40.0, "菊花枸杞养生茶")]


def test_captions_appearing_with_a_card_are_not_part_of_it() -> None:
    tl = timeline_of(*card("Gucci钱包", 59, 0), line("新人关注领券", 0, CAPTION_BOX), line("关注领券", 2, CAPTION_BOX),
                     line("高仿1:1原单品质", 9, CAPTION_BOX))
    assert len(tl.segments) == 1


def test_a_title_read_in_part_is_the_same_title() -> None:
    tl = timeline_of(*card("Chanel 链条口盖包", 36800, 0), line("链条口盖包", 12, TITLE_BOX))
    assert len(tl.segments) == 1


def test_a_new_price_read_before_its_new_title_never_meets_the_old_product() -> None:
    """One frame's lines arrive one by one: ¥99 of the next product may come before its title."""
    tl = timeline_of(*card("Prada 三角标钱包", 4600, 0))
    tl.observe_screen(line("¥99", 40, PRICE_BOX, price=99))
    assert [s.media_start for s in tl.segments] == [0.0, 40.0]  # held apart until the title says
    tl.observe_screen(line("Gucci斜挎包", 40, TITLE_BOX))
    tl.observe_screen(line("点赞过万加福利", 45, CAPTION_BOX))
    assert [(s.media_start, s.title) for s in tl.segments] == [(0.0, "prada三角标钱包"), (40.0, "gucci斜挎包")]


def test_a_new_price_under_the_same_title_is_withdrawn_as_a_segment() -> None:
    tl = timeline_of(*card("羊毛大衣", 899, 0), line("¥599", 30, PRICE_BOX, price=599), line("新人领券", 35, CAPTION_BOX))
    assert [s.media_start for s in tl.segments] == [0.0]


def test_a_line_last_seen_as_the_next_product_appears_is_not_part_of_it() -> None:
    tl = timeline_of(*card("纯棉T恤", 49, 0), *card("经典手提包", 99, 60))
    assert [s.segment_id for s in tl.segments_of(Modality.OCR, 0.0, 60.0)] == ["seg-0.0"]
    assert not tl.contains(1, Modality.OCR, 0.0, 60.0) and tl.contains(1, Modality.OCR, 60.0, 60.0)


def logo(brand: str, t: float, box: Box, duration: float = 30.0, stream: str = "s1") -> Evidence:
    return Evidence(stream, Modality.LOGO, t, t + duration, brand, 0.9, 0.0, brand=brand, box=box,
                    observation_id=f"logo-{brand}@{t}")


ON_THE_CARD, ON_THE_HOST = Box(880, 250, 300, 120), Box(300, 380, 150, 90)  # under the price sticker / a shirt


def test_a_logo_on_the_product_card_is_part_of_it_a_logo_elsewhere_is_not() -> None:
    tl = timeline_of(*card("经典手提包", 99, 0))
    assert tl.card_beside(ON_THE_CARD, 0.0, 30.0) is not None
    assert tl.card_beside(ON_THE_HOST, 0.0, 30.0) is None
    assert tl.card_beside(Box(1240, 60, 40, 40), 0.0, 30.0) is not None  # beside the sticker, in its band


def test_a_brand_logo_on_the_card_of_a_cheap_product_is_counterfeit_promotion(engine) -> None:
    on_card = [*card("经典手提包", 99, 0), logo("gucci", 1.0, ON_THE_CARD)]
    alerts = [a for e in on_card for a in engine.process(e) if a.rule_id == CUE]
    assert alerts and alerts[-1].brand == "gucci"
    assert any("same product card" in t for e in alerts[-1].evidence for t in e.matched_terms)


def test_a_brand_logo_on_the_hosts_shirt_names_no_product(engine) -> None:
    on_shirt = [*card("纯棉T恤", 49, 0), logo("gucci", 1.0, ON_THE_HOST)]
    alerts = [a for e in on_shirt for a in engine.process(e)]
    assert [a.rule_id for a in alerts if a.mode.value == "enforce"] == []


def test_a_sentence_whisper_cut_at_a_comma_is_one_utterance(engine) -> None:
    """爱马仕钱夹，今天给大家六十九元 came out of Whisper as two pieces 0.18 s apart (held-out bh04)."""
    cut = [*card("限定钱夹", 69, 0), said("香奈儿钱夹", 10.0, 1.4), said("今天给大家六十九元", 11.58, 3.0)]
    assert CUE in {a.rule_id for e in cut for a in engine.process(e)}


def test_two_sentences_are_two_utterances(engine) -> None:
    apart = [*card("限定钱夹", 69, 0), said("香奈儿的包我自己也背", 10.0, 1.4), said("今天给大家六十九元", 13.0, 3.0)]
    assert CUE not in {a.rule_id for e in apart for a in engine.process(e)}
