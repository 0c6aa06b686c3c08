"""parse_prices: amounts, currencies and roles in OCR and ASR text.

The examples pin the forms live-commerce captions and Whisper transcripts use;
the properties render random amounts every way a price is written or spoken,
embed them in sales talk that holds no other number, and read them back.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events import parse_prices

DIGITS = "零一二三四五六七八九"
FULLWIDTH = str.maketrans("0123456789,.", "０１２３４５６７８９，．")
FAST = settings(max_examples=200, deadline=None)


# -- rendering amounts as people write and say them --------------------------------------


def chinese(n: int) -> str:
    """A positive integer in standard Chinese numerals (10 -> 十, 105 -> 一百零五, 10010 -> 一万零一十).

    Sections of four digits under 亿/万; a 零 marks every gap of zeros inside the number
    (一千零五, 一万零五百), and a leading 一十 is read 十 (十万, not 一十万).
    """

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


def with_liang(words: str) -> str:
    """二 before 百/千/万/亿 said as 两 (两千零五十, 一万两千), except in the tens (十二万 stays)."""
    return re.sub(r"(?<!十)二(?=[百千万亿])", "两", words)


_NEXT_LOWER = {"万": "千", "千": "百", "百": "十"}


def short(words: str) -> str:
    """The spoken short form that drops a last unit one below the unit before it.

    一万二千 -> 一万二, 两千九百 -> 两千九, 三百五十 -> 三百五; anything else unchanged
    (一万零二百 keeps its unit: after 零 the digit means itself). A last 两 is said 二 (一万二).
    """
    m = re.fullmatch(r"(.*([万千百]))([一二两三四五六七八九])([千百十])", words)
    if m and _NEXT_LOWER[m.group(2)] == m.group(4):
        return m.group(1) + m.group(3).replace("两", "二")
    return words


def grouped(whole: int, separator: str) -> str:
    """Thousands separators: 12999 -> "12,999" (or "12，999" with a full-width comma)."""
    return f"{whole:,}".replace(",", separator) if separator else str(whole)


@st.composite
def written_prices(draw: st.DrawFn) -> tuple[str, Decimal]:
    """Arabic amounts with a currency: grouped or not, full-width or not, jiao/fen or not."""
    whole = draw(st.integers(min_value=1, max_value=99_999_999))
    frac = draw(st.sampled_from(["", "", "5", "05", "99", "50"]))
    digits = grouped(whole, draw(st.sampled_from(["", ",", "，"]))) + ("." + frac if frac else "")
    if draw(st.booleans()):
        digits = digits.translate(FULLWIDTH)
    form = draw(st.sampled_from(["¥{}", "￥{}", "RMB{}", "RMB {}", "rmb{}", "{}元", "{}块", "{}块钱", "{}r", "{}R", "{}rmb", "¥{}元"]))
    return form.format(digits), Decimal(f"{whole}.{frac or 0}")


@st.composite
def spoken_prices(draw: st.DrawFn) -> tuple[str, Decimal]:
    """Whole amounts in Chinese numerals, standard, with 两, or in the short form, then a unit."""
    n = draw(st.integers(min_value=1, max_value=99_999_999))
    words = draw(st.sampled_from([chinese, lambda k: with_liang(chinese(k)), lambda k: short(with_liang(chinese(k)))]))(n)
    return words + draw(st.sampled_from(["元", "块", "块钱"])), Decimal(n)


@st.composite
def jiao_prices(draw: st.DrawFn) -> tuple[str, Decimal]:
    """Amounts under 100 with jiao (and fen), the way they are said or captioned: 九块九, 9块9."""
    whole = draw(st.integers(min_value=1, max_value=99))
    jiao = draw(st.integers(min_value=1, max_value=9))
    fen = draw(st.integers(min_value=1, max_value=9))
    cn = chinese(whole)
    forms = [
        (f"{cn}块{DIGITS[jiao]}", f"{whole}.{jiao}"),
        (f"{cn}元{DIGITS[jiao]}", f"{whole}.{jiao}"),
        (f"{cn}块{DIGITS[jiao]}毛", f"{whole}.{jiao}"),
        (f"{cn}块{DIGITS[jiao]}毛{DIGITS[fen]}", f"{whole}.{jiao}{fen}"),
        (f"{cn}块{DIGITS[jiao]}{DIGITS[fen]}", f"{whole}.{jiao}{fen}"),
        (f"{cn}块零{DIGITS[fen]}", f"{whole}.0{fen}"),
        (f"{whole}块{jiao}", f"{whole}.{jiao}"),
        (f"{whole}块{jiao}{fen}", f"{whole}.{jiao}{fen}"),
        (f"{whole}元{jiao}毛", f"{whole}.{jiao}"),
    ]
    text, amount = draw(st.sampled_from(forms))
    return text, Decimal(amount)


@st.composite
def wan_prices(draw: st.DrawFn) -> tuple[str, Decimal]:
    """Arabic amounts with 万: 3万, 1.2万, 12.5万元, 1万2 (= 12000)."""
    tenths = draw(st.integers(min_value=10, max_value=9_999))  # 1.0万 .. 999.9万
    digits = f"{Decimal(tenths) / 10:f}".removesuffix(".0")
    unit = draw(st.sampled_from(["万元", "万块", "万rmb"]))
    if tenths % 10 and draw(st.booleans()):  # "1万2": the digit after 万 is thousands
        digits = f"{tenths // 10}万{tenths % 10}"
        unit = unit[1:]
    return digits + unit, Decimal(tenths) * 1000


ANY_PRICE = st.one_of(written_prices(), spoken_prices(), jiao_prices(), wan_prices())

# Sales talk around a price: (before, after, the role a word fixes, or "selling" for a lone price).
# None of it holds a digit, a numeral, a unit or a Latin letter, so the price is the only number.
CONTEXTS = [
    ("宝宝们今天只要", "，赶紧拍", "selling"),
    ("直播间到手价", "，拍下就发", "selling"),
    ("家人们秒杀价：", "包邮到家", "selling"),
    ("这款包包专柜价", "，今天给大家福利", "original"),
    ("原价是", "的好东西", "original"),
    ("专柜同价", "，家人们冲", "original"),
    ("", "，家人们冲", "selling"),
    ("看看这个", "包邮到家", "selling"),
    ("喜欢的宝宝们", "，带回家", "selling"),
    ("", "", "selling"),
]
SALES_CONTEXT = st.sampled_from(CONTEXTS)


def test_contexts_hold_no_other_number() -> None:
    text = "".join(before + after for before, after, _ in CONTEXTS)
    assert not re.search(r"[\dA-Za-z零〇一二两三四五六七八九十百千万亿点元块毛角¥]", text)


def summary(text: str) -> list[tuple[float, str, str]]:
    return [(p.amount, p.currency, p.role) for p in parse_prices(text)]


# -- examples ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("¥99", [(99, "CNY", "selling")]),
        ("￥９９", [(99, "CNY", "selling")]),
        ("９９元", [(99, "CNY", "selling")]),
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
        ("九十九块九毛九", [(99.99, "CNY", "selling")]),
        ("九块零五", [(9.05, "CNY", "selling")]),
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
        ("¥99 到手价199", [(99, "CNY", "unknown"), (199, "CNY", "selling")]),
        # thousands separators; a plain space is not one, a thin space is
        ("12,999元", [(12999, "CNY", "selling")]),
        ("¥12,999", [(12999, "CNY", "selling")]),
        ("12，999元", [(12999, "CNY", "selling")]),
        ("1,299,000元", [(1299000, "CNY", "selling")]),
        ("1 299元", [(299, "CNY", "selling")]),
        ("1\u2009299元", [(1299, "CNY", "selling")]),
        ("12,9999元", [(9999, "CNY", "selling")]),
        # Chinese numerals, short spoken forms, Arabic with 万
        ("一万二千九百九十九元", [(12999, "CNY", "selling")]),
        ("一万二元", [(12000, "CNY", "selling")]),
        ("两千九元", [(2900, "CNY", "selling")]),
        ("两千零五十块", [(2050, "CNY", "selling")]),
        ("十五元", [(15, "CNY", "selling")]),
        ("3万元", [(30000, "CNY", "selling")]),
        ("1.2万元", [(12000, "CNY", "selling")]),
        ("到手价1.2万", [(12000, "CNY", "selling")]),
        ("只要3万", [(30000, "CNY", "selling")]),
        ("1万2999元", [(12999, "CNY", "selling")]),
        ("一点二万元", [(12000, "CNY", "selling")]),
        ("9点9元", [(9.9, "CNY", "selling")]),
        ("只要九十九一件", [(99, "CNY", "selling")]),
        # units r / R / rmb / glued ¥
        ("99r", [(99, "CNY", "selling")]),
        ("299R包邮", [(299, "CNY", "selling")]),
        ("99rmb", [(99, "CNY", "selling")]),
        ("99¥", [(99, "CNY", "selling")]),
        # ranges
        ("99-199元", [(99, "CNY", "unknown"), (199, "CNY", "unknown")]),
        ("99~199元", [(99, "CNY", "unknown"), (199, "CNY", "unknown")]),
        ("99～199元", [(99, "CNY", "unknown"), (199, "CNY", "unknown")]),
        ("99到199元", [(99, "CNY", "unknown"), (199, "CNY", "unknown")]),
        ("¥99-¥199", [(99, "CNY", "unknown"), (199, "CNY", "unknown")]),
        ("九十九到一百九十九元", [(99, "CNY", "unknown"), (199, "CNY", "unknown")]),
        ("到手价99-199元", [(99, "CNY", "selling"), (199, "CNY", "selling")]),
        ("原价999-1299元 现在99元", [(999, "CNY", "original"), (1299, "CNY", "original"), (99, "CNY", "selling")]),
        ("99-199元 今天¥59", [(99, "CNY", "unknown"), (199, "CNY", "unknown"), (59, "CNY", "selling")]),
        # What comes off a price, or a spending threshold, is not a price (a "¥10" off looks like a fake).
        ("满199-30元", []),
        ("满两件再减十元", []),
        ("普拉达这款今天先领一百元优惠券再下单", []),
        ("下单前领20元无门槛券", []),
        ("关注主播送十元红包，到手价99元", [(99, "CNY", "selling")]),
        ("99元券后价", [(99, "CNY", "selling")]),
        # several items for one price: a bundle, not the product's selling price
        ("普拉达钱包下单送的卡套，单买是两个五十元", [(50, "CNY", "unknown")]),
        ("买古驰皮带的宝宝再加购袜子，三件一百元", [(100, "CNY", "unknown")]),
        ("一件99元", [(99, "CNY", "selling")]),
        # a part of the price: instalments and deposits
        ("古驰手袋分十二期，每期三百九十九元", [(399, "CNY", "unknown")]),
        ("这款付定金三百元，下周一发货", [(300, "CNY", "unknown")]),
        ("立减10元 到手价99", [(99, "CNY", "selling")]),
        ("便宜了100元，今天只要899元", [(899, "CNY", "selling")]),
        # a list price beside the live price, no word
        ("¥899 ¥199", [(899, "CNY", "original"), (199, "CNY", "selling")]),
        ("¥199 ¥899", [(199, "CNY", "selling"), (899, "CNY", "original")]),
        ("899元 199元", [(899, "CNY", "original"), (199, "CNY", "selling")]),
        ("2999元 299元", [(2999, "CNY", "original"), (299, "CNY", "selling")]),
        ("¥899/¥199", [(899, "CNY", "original"), (199, "CNY", "selling")]),
        ("899 199元", [(199, "CNY", "selling")]),
        ("¥199 ¥199", [(199, "CNY", "unknown"), (199, "CNY", "unknown")]),
        ("口红¥199，眼影¥99", [(199, "CNY", "unknown"), (99, "CNY", "unknown")]),
        ("¥899 ¥199 ¥99", [(899, "CNY", "unknown"), (199, "CNY", "unknown"), (99, "CNY", "unknown")]),
        ("¥899 ¥199 到手价¥99", [(899, "CNY", "unknown"), (199, "CNY", "unknown"), (99, "CNY", "selling")]),
        # counter-price words
        ("专柜同价一万二千九百九十九元", [(12999, "CNY", "original")]),
        ("专柜价12999", [(12999, "CNY", "original")]),
        ("专柜同价12999", [(12999, "CNY", "original")]),
        ("同价999元", [(999, "CNY", "original")]),
        ("全场同价99", [(99, "CNY", "selling")]),
        # Whisper artefacts: a stray full-width digit after 元 is not jiao
        ("九十九元４", [(99, "CNY", "selling")]),
        ("99元４，", [(99, "CNY", "selling")]),
        ("九十九元。", [(99, "CNY", "selling")]),
        ("九块４", [(9, "CNY", "selling")]),
        ("９块９包邮", [(9.9, "CNY", "selling")]),
        # a digit after 元/块 that starts a count is not jiao either
        ("九十九元一件", [(99, "CNY", "selling")]),
        ("九块九一件", [(9.9, "CNY", "selling")]),
        ("99块2斤", [(99, "CNY", "selling")]),
        ("99元9", [(99, "CNY", "selling")]),
        ("9块9包邮", [(9.9, "CNY", "selling")]),
        ("9块99", [(9.99, "CNY", "selling")]),
        ("一块包邮", [(1, "CNY", "selling")]),
        ("只要一块", [(1, "CNY", "selling")]),
    ],
)
def test_prices_in_text(text: str, expected: list[tuple[float, str, str]]) -> None:
    assert summary(text) == [(float(a), c, r) for a, c, r in expected]


@pytest.mark.parametrize(
    "text",
    [
        "1:1复刻 专柜品质", "一块手表", "2026新款", "库存仅剩23件", "千万别错过", "百分百正品", "第2件半价", "Y2K风格",
        "", "   ", "转速3000rpm", "2024-12-25", "一块带回家",
    ],
)
def test_no_price_without_currency_or_price_word(text: str) -> None:
    assert parse_prices(text) == ()


def test_price_text_keeps_the_label() -> None:
    prices = parse_prices("原价2999 现价299")
    assert [p.text for p in prices] == ["原价2999", "现价299"]


def test_short_and_liang_renderers() -> None:
    assert [short(with_liang(chinese(n))) for n in (12000, 2900, 350, 2050, 10200, 120000, 22000)] == [
        "一万二", "两千九", "三百五", "两千零五十", "一万零两百", "十二万", "两万二",
    ]


# -- properties ----------------------------------------------------------------------------


@FAST
@given(ANY_PRICE, SALES_CONTEXT)
def test_every_rendering_reads_back_in_sales_talk(price: tuple[str, Decimal], context: tuple[str, str, str]) -> None:
    (rendered, amount), (before, after, role) = price, context
    assert summary(before + rendered + after) == [(float(amount), "CNY", role)]


@FAST
@given(st.integers(min_value=1, max_value=999_999_999))
def test_chinese_numerals_round_trip(n: int) -> None:
    assert summary(chinese(n) + "元") == [(float(n), "CNY", "selling")]


@FAST
@given(
    st.integers(min_value=1, max_value=9_999_999),
    st.integers(min_value=0, max_value=99),
    st.sampled_from(["¥{}", "￥{}", "{}元", "{}块", "RMB {}", "到手价{}", "到手价：{}元", "现价{}"]),
)
def test_arabic_amounts_round_trip(whole: int, cents: int, template: str) -> None:
    amount = whole + cents / 100
    text = template.format(f"{whole}.{cents:02d}" if cents else str(whole))
    assert summary(text) == [(round(amount, 2), "CNY", "selling")]


@FAST
@given(
    st.integers(min_value=1, max_value=99_999_999),
    st.sampled_from([("到手价", "selling"), ("专柜价", "original"), ("原价：", "original"), ("只要", "selling"), ("专柜同价", "original")]),
    st.sampled_from([str, lambda n: grouped(n, ","), chinese, lambda n: short(with_liang(chinese(n)))]),
)
def test_bare_numbers_after_a_price_word(n: int, word: tuple[str, str], render: Callable[[int], str]) -> None:
    label, role = word
    assert summary(f"宝宝们{label}{render(n)}，赶紧拍") == [(float(n), "CNY", role)]


@FAST
@given(st.integers(min_value=100, max_value=99_999), st.integers(min_value=1, max_value=99), st.booleans())
def test_original_and_selling_roles(original: int, selling: int, spoken: bool) -> None:
    fmt = chinese if spoken else str
    text = f"原价{fmt(original)}元 现在只要{fmt(selling)}元"
    assert summary(text) == [(float(original), "CNY", "original"), (float(selling), "CNY", "selling")]


@FAST
@given(
    st.lists(st.integers(min_value=1, max_value=99_999_999), min_size=2, max_size=2, unique=True),
    st.sampled_from(["¥{}", "￥{}", "{}元", "{}r"]),
    st.sampled_from([" ", "  ", "/", " → ", ""]),
)
def test_two_unlabelled_prices_are_list_and_live_price(amounts: list[int], form: str, between: str) -> None:
    if form.startswith("{}") and not between:
        between = " "  # "99元199元" is fine, but "99r199r" glues into one token
    text = form.format(amounts[0]) + between + form.format(amounts[1])
    high = max(amounts)
    assert summary(text) == [(float(a), "CNY", "original" if a == high else "selling") for a in amounts]


@FAST
@given(
    st.lists(st.integers(min_value=1, max_value=9_999_999), min_size=2, max_size=2, unique=True),
    st.sampled_from(["-", "~", "～", "到", " - ", "至"]),
    st.sampled_from(["{}元", "¥{}", "{}块"]),
    st.sampled_from([("", "unknown"), ("到手价", "selling"), ("原价", "original")]),
    st.booleans(),
    st.booleans(),
)
def test_ranges(amounts: list[int], joiner: str, form: str, word: tuple[str, str], spoken: bool, both: bool) -> None:
    """Both ends are prices, "99-199元" as well as "99元-199元"; a word before sets both roles."""
    low, high = sorted(amounts)
    label, role = word
    fmt = chinese if spoken and not form.startswith("¥") else str
    # "一块到两块" is "together to two pieces" when no price word says otherwise, so spoken 块 ends stay bare.
    both = form.startswith("¥") or (both and not (spoken and form == "{}块"))
    low_text = form.format(fmt(low)) if both else fmt(low)
    text = f"家人们{label}{low_text}{joiner}{form.format(fmt(high))}，赶紧拍"
    assert summary(text) == [(float(low), "CNY", role), (float(high), "CNY", role)]


@FAST
@given(
    st.integers(min_value=1, max_value=99_999_999),
    st.sampled_from("０１２３４５６７８９"),
    st.sampled_from([chinese, str]),
    st.sampled_from(["，赶紧拍", "", "。", "，"]),
)
def test_stray_fullwidth_digit_after_yuan_is_not_jiao(n: int, stray: str, render: Callable[[int], str], after: str) -> None:
    assert summary(f"宝宝们今天只要{render(n)}元{stray}{after}") == [(float(n), "CNY", "selling")]


@FAST
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60))
def test_any_text_parses_without_error(text: str) -> None:
    for price in parse_prices(text):
        assert price.amount >= 0 and price.role in ("selling", "original", "unknown")


@FAST
@given(st.text(alphabet="0123456789,，.．¥￥元块毛角r-~到零一二两三四五六七八九十百千万亿点 原价只要", max_size=30))
def test_price_like_noise_parses_without_error(text: str) -> None:
    for price in parse_prices(text):
        assert 0 <= price.amount < float("inf") and price.currency
