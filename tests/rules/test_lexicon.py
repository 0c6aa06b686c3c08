"""Matching: terms, homophones, brands and nicknames, word boundaries, exemptions."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import rules
from events import Modality
from rules.lexicon import BRAND, Exemption, Lexicon, LexiconTerm, Matcher
from rules.normalize import Normalizer

N = Normalizer()
LEXICONS = (
    Lexicon("slang", (LexiconTerm("高仿"), LexiconTerm("1:1", ("1比1",), pinyin=False), LexiconTerm("A货", pinyin=False), LexiconTerm("专柜"))),
    Lexicon("guarantee", (LexiconTerm("假一赔十"),)),
    Lexicon("medical", (LexiconTerm("治愈"),)),
    Lexicon("absolute", (LexiconTerm("最佳"),), (Exemption("最佳食用时间", "consumer tip"),)),
)


@pytest.fixture(scope="module")
def matcher(brands: tuple) -> Matcher:
    return Matcher(N, LEXICONS, brands)


@pytest.fixture(scope="module")
def hits(matcher: Matcher):
    return lambda text: [(h.group, h.canonical) for h in matcher.match(N.normalize(text)).hits]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("这款包包是高访的", ("slang", "高仿")),
        ("高 仿", ("slang", "高仿")),
        ("高.仿", ("slang", "高仿")),
        ("gao fang", ("slang", "高仿")),
        ("高fang", ("slang", "高仿")),
        ("搞仿", ("slang", "高仿")),
        ("和专贵一模一样", ("slang", "专柜")),
        ("假一陪时", ("guarantee", "假一赔十")),
        ("这个产品能置于癌症", ("medical", "治愈")),
        ("能治癒", ("medical", "治愈")),
        ("１：１", ("slang", "1:1")),
        ("一比一的", ("slang", "1:1")),
        ("1 : 1 版本", ("slang", "1:1")),
        ("ａ货", ("slang", "A货")),
    ],
)
def test_terms_match_through_evasions_and_homophones(hits, text: str, expected: tuple[str, str]) -> None:
    assert expected in hits(text)


@pytest.mark.parametrize(
    ("text", "brand"),
    [("香奶奶家的", "chanel"), ("驴牌的包", "lv"), ("ＧＵＣＣＩ", "gucci"), ("g u c c i", "gucci"), ("香乃儿", "chanel"),
     ("路易威登", "lv"), ("LV", "lv"), ("i love lv", "lv"), ("高仿LV包", "lv"), ("GUCCI同款", "gucci"),
     ("这款古迟包包", "gucci")],
)
def test_brand_names_and_nicknames_map_to_brands(matcher: Matcher, text: str, brand: str) -> None:
    assert (brand, brand) in [(h.group, h.canonical) for h in matcher.match(N.normalize(text)).hits if h.kind == BRAND]


@pytest.mark.parametrize("text", ["silver 925", "原价1100元", "level up", "alvin", "1:100"])
def test_latin_and_digit_terms_need_word_boundaries(hits, text: str) -> None:
    assert hits(text) == []


def test_exemption_hides_the_term_but_explains_it(matcher: Matcher) -> None:
    result = matcher.match(N.normalize("本品最佳食用时间为三个月"))
    assert result.hits == ()
    (term, exemption), = result.exempted
    assert (term.canonical, exemption.canonical, exemption.reason) == ("最佳", "最佳食用时间", "consumer tip")


def test_exemption_of_one_lexicon_does_not_hide_another() -> None:
    matcher = Matcher(N, (*LEXICONS, Lexicon("other", (LexiconTerm("最佳"),))), ())
    assert [h.group for h in matcher.match(N.normalize("最佳食用时间")).hits] == ["other"]


def test_longest_hit_of_a_lexicon_wins() -> None:
    matcher = Matcher(N, (Lexicon("abs", (LexiconTerm("最低价"), LexiconTerm("全网最低价"))),), ())
    assert [h.canonical for h in matcher.match(N.normalize("全网最低价")).hits] == ["全网最低价"]


def test_short_terms_do_not_match_by_pinyin() -> None:
    matcher = Matcher(N, (Lexicon("x", (LexiconTerm("仿"),)),), ())
    assert matcher.match(N.normalize("访")).hits == ()


def test_ten_thousand_terms_build_and_match() -> None:
    terms = tuple(LexiconTerm(f"词{i:05d}号") for i in range(10_000))
    matcher = Matcher(N, (Lexicon("big", terms),), ())
    assert [h.canonical for h in matcher.match(N.normalize("这里有词04242号")).hits] == ["词04242号"]


# -- the default lexicons: every exemption holds, look-alikes stay quiet ----------------


def _default_exemptions() -> list[tuple[str, str]]:
    out = []
    for path in sorted((rules.DEFAULT_RULES_DIR / "lexicons").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for e in data.get("exemptions") or ():
            out.append((path.stem, e["phrase"] if isinstance(e, dict) else e))
    return out


@pytest.mark.parametrize(("lexicon", "phrase"), _default_exemptions())
def test_each_default_exemption_suppresses_its_terms(default_engine: rules.RuleEngine, lexicon: str, phrase: str) -> None:
    explanation = rules.explain(default_engine, f"{phrase}")
    assert not [m for m in explanation.matches if m.startswith(f"{lexicon}:")], str(explanation)
    assert not [v.rule_id for v in explanation.fired if v.rule_id.startswith("false_claim")]


@pytest.mark.parametrize(
    "text",
    [
        "正品保障",
        "官方授权",
        "最佳食用时间是开封后三天",
        "正品保障 官方授权 GUCCI 专柜同款新品",
        "今天给大家介绍香奈儿的新款口红，官方旗舰店发货",
        "第一次来直播间的宝宝点个关注",
        "本店最好的一款，今天给大家看看",
        "请置于阴凉干燥处",
        "本品不能代替药物治疗",
        "元旦特惠 GUCCI 专场",
        "这款我们通常LV同款配色",
        "银饰 silver 925",
        "这款路易威登时专贵正品，支持艳霍",  # ASR of 支持验货: a rare reading of 治癌 must not match
    ],
)
def test_look_alikes_raise_nothing(default_engine: rules.RuleEngine, text: str) -> None:
    assert rules.explain(default_engine, text).fired == ()
    assert rules.explain(default_engine, text, Modality.ASR).fired == ()


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(["高仿", "假一赔十", "治愈", "专柜"]),
    st.lists(st.sampled_from([" ", ".", "·", "*", "\u200b", "❤", "/", "\u3000"]), min_size=1, max_size=3),
    st.booleans(),
    st.booleans(),
)
def test_terms_still_match_after_separators_width_and_traditional(matcher: Matcher, term: str, seps: list[str], traditional: bool, pad: bool) -> None:
    trad = {"高仿": "高仿", "假一赔十": "假一賠十", "治愈": "治癒", "专柜": "專櫃"}
    text = trad[term] if traditional else term
    text = seps[0].join(text)
    if pad:
        text = "ＧＯＯＤ" + seps[-1] + text + "！"
    assert term in [h.canonical for h in matcher.match(N.normalize(text)).hits]
