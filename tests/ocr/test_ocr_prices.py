"""parse_prices: amounts, currencies and roles in OCR and ASR text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocr import parse_prices

DIGITS = "零一二三四五六七八九"


def chinese(n: int) -> str:
    """A positive integer in standard Chinese numerals (10 -> 十, 105 -> 一百零五, 10010 -> 一万零一十)."""
    def section(v: int) -> str:
        out, gap = "", False
        for size, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
            d = v // size % 10
            if d:
                out += ("零" if gap else "") + DIGITS[d] + unit
                gap = False
            elif out:
                gap = True
        return out

    parts = [(n // 10**8, "亿"), (n // 10**4 % 10**4, "万"), (n % 10**4, "")]
    text, zero = "", False
    for value, unit in parts:
        if value:
            text += ("零" if text and (zero or value < 1000) else "") + section(value) + unit
            zero = False
        elif text:
            zero = True
    return text[1:] if text.startswith("一十") else text


def summary(text: str) -> list[tuple[float, str, str]]:
    return [(p.amount, p.currency, p.role) for p in parse_prices(text)]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("¥99", [(99, "CNY", "selling")]),
        ("￥９９", [(99, "CNY", "selling")]),
        ("99元", [(99, "CNY", "selling")]),
        ("九十九元", [(99, "CNY", "selling")]),
        ("到手价199", [(199, "CNY", "selling")]),
        ("到手价：199", [(199, "CNY", "selling")]),
        ("原价2999 现价299", [(2999, "CNY", "original"), (299, "CNY", "selling")]),
        ("RMB 99", [(99, "CNY", "selling")]),
        ("rmb99", [(99, "CNY", "selling")]),
        ("人民币99元", [(99, "CNY", "selling")]),
        ("99块", [(99, "CNY", "selling")]),
        ("99块钱", [(99, "CNY", "selling")]),
        ("高仿LV包 ¥99", [(99, "CNY", "selling")]),
        ("两块钱", [(2, "CNY", "selling")]),
        ("九块九包邮", [(9.9, "CNY", "selling")]),
        ("99块9毛", [(99.9, "CNY", "selling")]),
        ("九块九毛九", [(9.99, "CNY", "selling")]),
        ("九点九元", [(9.9, "CNY", "selling")]),
        ("三千五元", [(3500, "CNY", "selling")]),
        ("两百五十块", [(250, "CNY", "selling")]),
        ("一九九元", [(199, "CNY", "selling")]),
        ("1,299元", [(1299, "CNY", "selling")]),
        ("2.5万元", [(25000, "CNY", "selling")]),
        ("$19.99", [(19.99, "USD", "selling")]),
        ("US$ 20", [(20, "USD", "selling")]),
        ("HK$99", [(99, "HKD", "selling")]),
        ("99美元", [(99, "USD", "selling")]),
        ("一口价88", [(88, "CNY", "selling")]),
        ("限时秒杀 仅需59元", [(59, "CNY", "selling")]),
        ("专柜价2999元，直播间到手只要299元", [(2999, "CNY", "original"), (299, "CNY", "selling")]),
        ("价值一万二的包今天只要九百九十九", [(12000, "CNY", "original"), (999, "CNY", "selling")]),
        ("专柜两千九 直播间只要九十九元", [(2900, "CNY", "original"), (99, "CNY", "selling")]),
        ("原价2999元 299元", [(2999, "CNY", "original"), (299, "CNY", "selling")]),
        ("2999元 299元", [(2999, "CNY", "unknown"), (299, "CNY", "unknown")]),
        ("¥99 到手价199", [(99, "CNY", "unknown"), (199, "CNY", "selling")]),
    ],
)
def test_prices_in_text(text, expected):
    assert summary(text) == [(float(a), c, r) for a, c, r in expected]


@pytest.mark.parametrize(
    "text",
    ["1:1复刻 专柜品质", "一块手表", "2026新款", "库存仅剩23件", "千万别错过", "百分百正品", "第2件半价", "Y2K风格", "", "   "],
)
def test_no_price_without_currency_or_price_word(text):
    assert parse_prices(text) == ()


def test_price_text_keeps_the_label():
    prices = parse_prices("原价2999 现价299")
    assert [p.text for p in prices] == ["原价2999", "现价299"]


@given(st.integers(min_value=1, max_value=999_999_999))
def test_chinese_numerals_round_trip(n):
    assert summary(chinese(n) + "元") == [(float(n), "CNY", "selling")]


@given(
    st.integers(min_value=1, max_value=9_999_999),
    st.integers(min_value=0, max_value=99),
    st.sampled_from(["¥{}", "￥{}", "{}元", "{}块", "RMB {}", "到手价{}", "到手价：{}元", "现价{}"]),
)
def test_arabic_amounts_round_trip(whole, cents, template):
    amount = whole + cents / 100
    text = template.format(f"{whole}.{cents:02d}" if cents else str(whole))
    assert summary(text) == [(round(amount, 2), "CNY", "selling")]


@given(st.integers(min_value=100, max_value=99_999), st.integers(min_value=1, max_value=99), st.booleans())
def test_original_and_selling_roles(original, selling, spoken):
    fmt = chinese if spoken else str
    text = f"原价{fmt(original)}元 现在只要{fmt(selling)}元"
    assert summary(text) == [(float(original), "CNY", "original"), (float(selling), "CNY", "selling")]


@settings(max_examples=300)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60))
def test_any_text_parses_without_error(text):
    for price in parse_prices(text):
        assert price.amount >= 0 and price.role in ("selling", "original", "unknown")
