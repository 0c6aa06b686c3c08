"""Normalisation: evasions and ASR homophones must reduce to what the lexicon says."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.normalize import Normalizer, cn_to_int

N = Normalizer()
SEPARATORS = [" ", ".", "·", "-", "_", "*", "/", "\u3000", "\u200b", "\u200d", "🔥", "|", "~", "，", "、"]


@pytest.mark.parametrize(
    ("raw", "compact"),
    [
        ("高 仿", "高仿"),
        ("高.仿", "高仿"),
        ("高\u200b仿", "高仿"),
        ("ＧＵＣＣＩ", "gucci"),
        ("這款包包是高仿的，和專櫃一模一樣", "这款包包是高仿的和专柜一模一样"),
        ("九十九元", "99元"),
        ("一千二百块", "1200块"),
        ("一比一", "1比1"),
        ("１：１", "11"),
        ("假一赔十", "假一赔十"),  # not a price: stays characters, so 陪时 still sounds the same
        ("一模一样", "一模一样"),
    ],
)
def test_compact_form(raw: str, compact: str) -> None:
    assert N.compact(raw) == compact


@pytest.mark.parametrize(
    ("a", "b"),
    [("高访", "高仿"), ("搞仿", "高仿"), ("gao fang", "高仿"), ("高fang", "高仿"), ("置于", "治愈"), ("陪时", "赔十"),
     ("专贵", "专柜"), ("驴牌", "lv牌")],
)
def test_homophones_share_a_pinyin_coding(a: str, b: str) -> None:
    assert N.normalize(a).pinyin == N.normalize(b).pinyin


def test_pinyin_spans_map_back_to_text() -> None:
    norm = N.normalize("买gao fang包")
    assert norm.readable_pinyin() == "mai gao fang bao"
    assert norm.compact_span(1, 3) == (1, 8)  # "gaofang"


def test_gaps_remember_separators() -> None:
    norm = N.normalize("i love gucci")
    assert norm.compact == "ilovegucci" and norm.gaps == {1, 5}


def test_clause_breaks_are_clause_marks_not_spaces_or_decimal_points() -> None:
    norm = N.normalize("高仿，一比一。GUCCI 包 9.9元!好")
    assert norm.compact == "高仿1比1gucci包99元好"
    assert norm.breaks == {2, 5, 14}


@pytest.mark.parametrize(("numeral", "value"), [("九十九", 99), ("一百零五", 105), ("两万五千", 25000), ("十", 10), ("一二三", 123), ("三千", 3000)])
def test_chinese_numerals(numeral: str, value: int) -> None:
    assert cn_to_int(numeral) == value


# -- properties -------------------------------------------------------------------------

TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
CJK_WORDS = st.sampled_from(["高仿", "专柜", "治愈", "最佳", "假一赔十", "原单", "复刻", "包治百病", "香奈儿", "顶级复刻"])
TRADITIONAL = {"高仿": "高仿", "专柜": "專櫃", "治愈": "治癒", "最佳": "最佳", "假一赔十": "假一賠十", "原单": "原單",
               "复刻": "復刻", "包治百病": "包治百病", "香奈儿": "香奈兒", "顶级复刻": "頂級復刻"}


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_normalisation_is_idempotent(text: str) -> None:
    once = N.compact(text)
    assert N.compact(once) == once


@settings(max_examples=200, deadline=None)
@given(CJK_WORDS, st.lists(st.sampled_from(SEPARATORS), min_size=1, max_size=6), st.data())
def test_inserted_separators_do_not_change_the_compact_form(word: str, seps: list[str], data: st.DataObject) -> None:
    chars = list(word)
    out = chars[0]
    for c in chars[1:]:
        out += data.draw(st.sampled_from(seps)) + c
    assert N.compact(out) == N.compact(word)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=20))
def test_full_width_and_case_do_not_change_the_compact_form(ascii_text: str) -> None:
    full = "".join(chr(ord(c) + 0xFEE0) for c in ascii_text)
    assert N.compact(full) == N.compact(ascii_text.lower()) == N.compact(ascii_text.upper())


@settings(max_examples=50, deadline=None)
@given(CJK_WORDS)
def test_traditional_forms_reduce_to_simplified(word: str) -> None:
    assert N.compact(TRADITIONAL[word]) == N.compact(word)
