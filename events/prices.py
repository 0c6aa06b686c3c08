"""Prices in screen text (OCR) and speech (ASR): amount, currency, role.

Live-commerce pitches put a low "selling" price next to a high "original"
anchor ("原价2999 现价299"); the price-anomaly rules compare the selling price
with a brand's lowest genuine retail price, so the parser must say which is
which. It lives on the ground floor, as one pure function, so that OCR, ASR and
the rules read a price the same way.

What counts as a price
    A number is a price when it carries a currency -- a prefix (¥99, ￥９９,
    RMB 99, $19.99) or a unit (99元, 99块, 99块钱, 99rmb, 99r, 299R, 99美元) --
    or follows a price word that names its role (到手价199, 专柜价12999,
    只要3万). A bare number ("库存仅剩23件", "2026新款") is not a price.

How numbers are written
    - Arabic, with ASCII or full-width digits and symbols (NFKC: ￥９９ -> ¥99),
      with a comma as thousands separator: "12,999元", "12，999元" (a comma
      followed by exactly three digits and no fourth). A plain space is *not*
      a thousands separator: OCR joins separate boxes with spaces and cards
      put a count or a second price there, so "1 299元" reads 299元 and
      "¥1 299" reads ¥1. Only the typographic group separators THIN SPACE and
      NARROW NO-BREAK SPACE between digits group them ("1\\u2009299元" = 1299).
    - Chinese numerals with 十/百/千/万/亿/零/两, including the spoken short
      forms where a last digit means the next lower unit: "一万二" = 12000,
      "两千九" = 2900; digit by digit ("一九九" = 199); 点 decimals ("九点九").
    - Arabic mixed with units: "3万" = 30000, "1.2万" = 12000, "1万2" = 12000,
      "1万2999" = 12999.
    - Jiao and fen after 元/块: in speech form a Chinese digit ("九块九" = 9.9,
      "九十九块九毛九" = 99.99, "九块零五" = 9.05), any digit with 毛/角
      ("99块9毛"), and the written caption idiom of Arabic digits right after
      块 ("9块9", "9块99"). A bare Arabic digit after 元 is *not* jiao, and a
      full-width digit right after 元/块 that follows a non-full-width amount
      is a Whisper artefact ("九十九元４", "99元４，" both read 99). A digit
      followed by a classifier is a count, not jiao ("九十九元一件" = 99).

Ranges
    "99-199元", "99~199元", "99到199元", "¥99-¥199": both ends are prices with
    the currency either end carries; their role is the price word before the
    range, else ``unknown``. The lower end must be lower, so "满199-30" is not a
    range.

Not prices
    What comes off a price: an amount after a discount word ("立减10元", "再减十元",
    "满199-30元") or naming a coupon ("先领一百元优惠券", "十元红包"; not "99元券后价").

Roles
    From the nearest price word a few characters before the number
    (到手价/现价/只要/今天 -> selling; 原价/专柜价/专柜同价/同价/价值 ->
    original). When no word says:

    - a lone unlabelled price is the selling price, unless a word already
      named one;
    - exactly two unlabelled prices standing together (only spaces, "/", "|"
      or an arrow between them), of different amounts in one currency, are a
      struck-through list price beside the live price on a card ("¥899 ¥199",
      "899元 199元"): the higher is ``original``, the lower ``selling``
      (again unless a word already named a selling price);
    - anything else stays ``unknown``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from events.types import Price

__all__ = ["ORIGINAL", "SELLING", "UNKNOWN", "parse_prices"]

SELLING, ORIGINAL, UNKNOWN = "selling", "original", "unknown"

_SELLING_WORDS = (
    "到手价", "到手", "现价", "售价", "卖价", "秒杀价", "秒杀", "活动价", "直播价", "直播间价", "特价",
    "优惠价", "折后价", "券后价", "券后", "福利价", "团购价", "抢购价", "拼团价", "限时价", "狂欢价",
    "价格", "一口价", "只要", "只需", "仅需", "仅要", "仅售", "只卖", "才卖", "卖", "现在", "今天", "拍下",
    # "全场同价99" is one price for everything, i.e. what the buyer pays; longer than "同价" so it wins.
    "全场同价",
)
_ORIGINAL_WORDS = (
    "原价", "专柜价", "专柜同价", "专柜", "同价", "市场价", "吊牌价", "官网价", "官方价", "指导价", "零售价",
    "划线价", "门店价", "商场价", "日常价", "平时价", "价值", "正品价",
)
_ROLE_OF_WORD = {w: SELLING for w in _SELLING_WORDS} | {w: ORIGINAL for w in _ORIGINAL_WORDS}


def _alternation(words: Iterable[str]) -> str:
    """A regex alternation, longest first so "原价" beats "价" and "专柜同价" beats "同价"."""
    return "|".join(map(re.escape, sorted(words, key=len, reverse=True)))


_ROLE_WORD_RE = re.compile(_alternation(_ROLE_OF_WORD))
_MAX_WORD_GAP = 6  # a price word further than this many characters before the number says nothing
# What may sit between a price word and its number: "到手价：199", "原价是 2999", "只要¥99".
_JOINER = r"[\s:：是为只要仅需才就]*"
# Words whose number is a price even without a currency ("到手价199"): the explicit *价 words and a few more.
_BARE_WORDS = {w for w in _ROLE_OF_WORD if w.endswith("价")} | {"价格", "只要", "仅需", "仅售", "价值", "专柜"}
_BARE_OK_RE = re.compile(f"(?:{_alternation(_BARE_WORDS)}){_JOINER}$")

_PREFIX_CURRENCY = (
    ("US$", "USD"), ("HK$", "HKD"), ("人民币", "CNY"), ("RMB", "CNY"), ("CNY", "CNY"), ("USD", "USD"),
    ("HKD", "HKD"), ("EUR", "EUR"), ("GBP", "GBP"), ("JPY", "JPY"), ("¥", "CNY"), ("$", "USD"),
    ("€", "EUR"), ("£", "GBP"),
)
_SUFFIX_CURRENCY = (
    ("块钱", "CNY"), ("美元", "USD"), ("美金", "USD"), ("港币", "HKD"), ("港元", "HKD"), ("欧元", "EUR"),
    ("日元", "JPY"), ("英镑", "GBP"), ("人民币", "CNY"), ("元", "CNY"), ("块", "CNY"), ("圆", "CNY"),
    ("RMB", "CNY"),
)
_YUAN_UNITS = ("元", "块", "圆")  # units a jiao/fen may follow
_PREFIX_RE = re.compile(f"(?:{_alternation(p for p, _ in _PREFIX_CURRENCY)})\\s*$", re.IGNORECASE)
_SUFFIX_RE = re.compile(f"\\s*(?:{_alternation(s for s, _ in _SUFFIX_CURRENCY)})", re.IGNORECASE)
# Caption shorthands glued to Arabic digits: "99r", "299R", "99¥". "r" must not start a word ("99rmb" is
# RMB, matched first; "12rpm" is not money) and "¥" must not be the prefix of a next price ("¥899¥199").
_GLUED_SUFFIX_RE = re.compile(r"r(?![a-z])|¥(?!\s*\d)", re.IGNORECASE)
# Without any of these no number of the text is a price: most speech is skipped in one search.
_HINT_RE = re.compile(
    f"{_alternation([*(p for p, _ in _PREFIX_CURRENCY), *(s for s, _ in _SUFFIX_CURRENCY), *_BARE_WORDS])}|\\dr",
    re.IGNORECASE,
)

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_SMALL_UNITS = {"十": 10, "百": 100, "千": 1000}
_BIG_UNITS = {"万": 10_000, "亿": 100_000_000}
_ARABIC = r"\d{1,3}(?:,\d{3})+(?!\d)(?:\.\d+)?|\d+(?:\.\d+)?"
_NUMERAL_CHARS = "".join(_CN_DIGITS) + "".join(_SMALL_UNITS) + "".join(_BIG_UNITS) + "点"
_RUN_RE = re.compile(f"(?:{_ARABIC}|[{_NUMERAL_CHARS}])+")
_TOKEN_RE = re.compile(f"{_ARABIC}|.")
# An amount right after one of these is taken off a price (立减, 再减十元) or is a spending threshold
# (满199-30): neither is what the buyer pays, and a "¥10" discount read as a price looks like a fake.
_DISCOUNT_WORDS = ("立减", "再减", "直减", "减", "优惠", "便宜", "省", "返现", "返", "红包", "补贴", "抵扣", "抵", "满")
# An amount that names a coupon ("一百元优惠券", "20元无门槛券", "十元红包") is also taken off a price;
# "券后" is the price after the coupon ("99元券后价" is still a price).
_COUPON_AFTER_RE = re.compile(r"\s*的?(?:无门槛|新人|店铺|平台|满减)?(?:优惠券|代金券|消费券|购物券|券(?!后)|红包|立减金)")
# A count of two or more items right before the amount: the price of a bundle, not of the product.
_BUNDLE_RE = re.compile(r"(?:[2-9]|\d{2,}|[二两三四五六七八九十])\s*[个件只条双盒包瓶支套对片袋]\s*$")
_PART_PAYMENT_RE = re.compile(r"(?:每期|每月|月供|分期|首付|定金|订金|预付)[^\d一二两三四五六七八九十百千万]{0,3}$")
_DISCOUNT_RE = re.compile(
    f"(?:{_alternation(_DISCOUNT_WORDS)}|满(?:{_ARABIC}|[{_NUMERAL_CHARS}])+[元块]?\\s*[-减])[\\s:：了]*$"
)
_MAX_RUN_TOKENS = 24  # longer numeral runs are not amounts; bounds the longest-prefix search
_MAX_AMOUNT = Decimal(10) ** 12  # beyond this a digit run is an id or noise, and would not fit a float well

# Between the two ends of a range: "99-199", "99~199", "99到199", "九十九至一百九十九".
_RANGE_JOIN_RE = re.compile(r"\s*(?:[-~〜—–至]|到)\s*")
# Between a list price and the live price beside it on a card: "¥899 ¥199", "¥899/¥199".
_TOGETHER_RE = re.compile(r"[\s/|丨→⇒➜➡>]*")

# Jiao/fen after 元/块, speech form ("九块九", "九块九毛九", "九块零五", "两毛").
_CN_JIAO_RE = re.compile(
    r"(?P<jiao>[零〇一二两三四五六七八九])(?P<mao>[毛角])?(?:(?P<fen>[零〇一二两三四五六七八九])(?P<fen_unit>分)?)?"
)
# Jiao/fen written in Arabic digits: "99块9毛", "9块9", "9块99"; never followed by a further digit.
_AR_JIAO_RE = re.compile(r"(?P<jiao>\d)(?P<mao>[毛角])?(?:(?P<fen>\d)(?P<fen_unit>分)?)?(?!\.?\d)")
# After a bare jiao digit, these make it a count instead ("九十九元一件", "99块2斤", "一口价", "九十九元一包"
# but "九块九包邮").
_COUNT_AFTER_RE = re.compile(r"[件个盒瓶支套双条只斤袋箱份片张台罐枚颗粒副对位次口律起样定下直般共天年月号十百千万亿]|包(?!邮)")
# "一块手表" is one watch, not 1 yuan: 块 after a bare small numeral, then a noun ("一块包邮" is still 1 yuan).
_CLASSIFIER_BLOCK_RE = re.compile(r"[一两二几半]块(?=[^\W\d钱零一二两三四五六七八九毛角_])(?!包邮)")

# Whisper (faster-whisper on Mandarin) writes a stray full-width digit after the unit: "九十九元４".
_STRAY_FULLWIDTH_RE = re.compile(r"(?<![０-９])([元块])(?=[０-９])")
# Typographic digit-group separators (not a plain space, see the module docstring).
_THIN_GROUP_RE = re.compile(r"(?<=\d)[\u2009\u202f](?=\d{3}(?!\d))")


@dataclass(frozen=True, slots=True)
class _Amount:
    """A number read at one place in the text, with what it carries."""

    value: Decimal
    start: int  # where the number starts, or its prefix currency
    end: int  # after the number and its unit / jiao
    currency: str | None


@dataclass(frozen=True, slots=True)
class _Read:
    """A price and how its role was decided: by a ``word``, as a ``range`` end, or ``free`` (not yet)."""

    price: Price
    start: int
    end: int
    how: str


def parse_prices(text: str) -> tuple[Price, ...]:
    """Every price in ``text``, in reading order, with currency and role (see the module docstring)."""
    text = _normalize(text)
    if _HINT_RE.search(text) is None:
        return ()
    return _assign_unlabelled(text, _scan(text))


def _normalize(text: str) -> str:
    """NFKC (full-width ￥９９ -> ¥99, ，-> ,) after the two fixes that need to see full-width digits."""
    text = _STRAY_FULLWIDTH_RE.sub(r"\1 ", text)
    text = _THIN_GROUP_RE.sub("", text)
    return unicodedata.normalize("NFKC", text)


def _scan(text: str) -> list[_Read]:
    """Left to right, each number becomes zero, one or two (a range) prices."""
    reads: list[_Read] = []
    pos = floor = 0  # floor: end of the last price; price words and prefixes are looked for after it
    while (run := _RUN_RE.search(text, pos)) is not None:
        first = _amount_at(text, run.start(), floor)
        found = None if first is None else _range_from(text, first, floor) or _single(text, first, floor)
        if not found:
            pos = run.end()
            continue
        reads += found
        pos = floor = found[-1].end
    return reads


def _single(text: str, amount: _Amount, floor: int) -> list[_Read]:
    """One price, if the amount carries a currency or a price word allows a bare number."""
    if _DISCOUNT_RE.search(text, floor, amount.start) or _COUPON_AFTER_RE.match(text, amount.end):
        return []  # "再减十元", "满199-30元", "一百元优惠券": what comes off a price, not a price
    word = _role_word(text[floor : amount.start])
    currency = amount.currency or _bare_currency(text, floor, amount.start)
    if currency is None:
        return []
    if _BUNDLE_RE.search(text, floor, amount.start) or _PART_PAYMENT_RE.search(text, floor, amount.start):
        # "三件一百元": several items for one price; "每期六百四十六元", "定金三百元": a part of the price
        return [_Read(_price(amount.value, currency, UNKNOWN, text[amount.start : amount.end]), amount.start, amount.end, "part")]
    role = _ROLE_OF_WORD[word.group(0)] if word else UNKNOWN
    label_start = floor + word.start() if word else amount.start
    price = _price(amount.value, currency, role, text[label_start : amount.end])
    return [_Read(price, label_start, amount.end, "word" if word else "free")]


def _range_from(text: str, low: _Amount, floor: int) -> list[_Read]:
    """Both ends of "99-199元" / "¥99到¥199", or nothing if ``low`` does not open a range."""
    join = _RANGE_JOIN_RE.match(text, low.end)
    if join is None:
        return []
    run = _RUN_RE.search(text, join.end())
    if run is None or not _only_prefix(text[join.end() : run.start()]):
        return []
    high = _amount_at(text, run.start(), join.end())
    if high is None or high.value <= low.value:
        return []
    if low.currency and high.currency and low.currency != high.currency:
        return []
    currency = low.currency or high.currency or _bare_currency(text, floor, low.start)
    if currency is None:
        return []
    word = _role_word(text[floor : low.start])
    role = _ROLE_OF_WORD[word.group(0)] if word else UNKNOWN
    how = "word" if word else "range"
    label_start = floor + word.start() if word else low.start
    return [
        _Read(_price(low.value, currency, role, text[label_start : low.end]), label_start, low.end, how),
        _Read(_price(high.value, currency, role, text[high.start : high.end]), high.start, high.end, how),
    ]


def _only_prefix(gap: str) -> bool:
    """Nothing, or just a currency, between a range's joiner and its upper end ("99-¥199")."""
    return not gap or _PREFIX_RE.fullmatch(gap) is not None


def _price(value: Decimal, currency: str, role: str, text: str) -> Price:
    return Price(amount=float(value), currency=currency, role=role, text=text.strip())


def _bare_currency(text: str, floor: int, start: int) -> str | None:
    """CNY when a price word right before allows a number without a currency ("到手价199")."""
    return "CNY" if _BARE_OK_RE.search(text, floor, start) else None


def _role_word(gap: str) -> re.Match[str] | None:
    """The price word closest before the number, if it is close (a few characters)."""
    last = None
    for word in _ROLE_WORD_RE.finditer(gap):
        last = word
    if last is None or len(gap) - last.end() > _MAX_WORD_GAP:
        return None
    return last


# -- one amount ----------------------------------------------------------------------------


def _amount_at(text: str, start: int, floor: int) -> _Amount | None:
    """The number starting at ``start`` with its prefix currency (after ``floor``), unit and jiao."""
    run = _RUN_RE.match(text, start)
    if run is None:
        return None
    numeral = _longest_numeral(run.group())
    if numeral is None:
        return None
    value, length = numeral
    if value > _MAX_AMOUNT:
        return None
    end = start + length
    currency, begin = _prefix_at(text, floor, start)
    unit = _unit_at(text, start, end)
    if unit is None:
        return _Amount(value, begin, end, currency)
    symbol, unit_end = unit
    if symbol == "块" and _CLASSIFIER_BLOCK_RE.match(text, start) and not _bare_currency(text, floor, begin):
        return None
    currency = currency or _currency_of(symbol)
    if symbol in _YUAN_UNITS:
        value, unit_end = _with_jiao(text, value, unit_end, arabic=text[end - 1].isdigit(), unit=symbol)
    return _Amount(value, begin, unit_end, currency)


def _prefix_at(text: str, floor: int, start: int) -> tuple[str | None, int]:
    """The currency written before the number ("¥", "RMB ") and where it starts."""
    prefix = _PREFIX_RE.search(text, floor, start)
    if prefix is None or not _token_boundary(text, prefix.start()):
        return None, start
    return _currency_of(prefix.group(0).strip()), prefix.start()


def _unit_at(text: str, start: int, end: int) -> tuple[str, int] | None:
    """The currency unit after the number ("元", "块钱", "rmb", or glued "r"/"¥") and where it ends."""
    suffix = _SUFFIX_RE.match(text, end)
    if suffix is not None:
        return suffix.group(0).strip(), suffix.end()
    if text[end - 1].isdigit():  # "99r", not "九十九r"
        glued = _GLUED_SUFFIX_RE.match(text, end)
        if glued is not None:
            return glued.group(0), glued.end()
    return None


def _token_boundary(text: str, index: int) -> bool:
    """A prefix like "RMB" must not be the tail of a longer word ("XRMB")."""
    return index <= 0 or not (text[index - 1].isascii() and text[index - 1].isalpha())


def _currency_of(symbol: str) -> str:
    symbol = symbol.upper()
    if symbol in ("R", "¥"):
        return "CNY"
    table = _PREFIX_CURRENCY + _SUFFIX_CURRENCY
    return next(code for sym, code in table if sym.upper() == symbol)


def _with_jiao(text: str, value: Decimal, end: int, *, arabic: bool, unit: str) -> tuple[Decimal, int]:
    """Add the jiao/fen that may follow 元/块 ("九块九" = 9.9), if what follows really is one.

    Only a whole amount under 10,000 takes jiao; nobody says "一万二块九".
    """
    if value != value.to_integral_value() or value >= 10_000:
        return value, end
    cn = _CN_JIAO_RE.match(text, end)
    if cn is not None and (not arabic or cn.group("mao")):  # "九块九", "99块九毛"; not "99元九..."
        return _cn_jiao(text, value, end, cn)
    ar = _AR_JIAO_RE.match(text, end)
    # A bare Arabic digit is jiao only in the written idiom "9块9"; after 元 it needs 毛/角.
    if ar is not None and (ar.group("mao") or (unit == "块" and arabic)):
        if not ar.group("mao") and not ar.group("fen_unit") and _COUNT_AFTER_RE.match(text, ar.end()):
            return value, end
        return value + _jiao_value(ar), ar.end()
    return value, end


def _cn_jiao(text: str, value: Decimal, end: int, m: re.Match[str]) -> tuple[Decimal, int]:
    """Speech-form jiao, dropping a fen (then the jiao) that turns out to start a count."""
    jiao, mao, fen, fen_unit = m.group("jiao", "mao", "fen", "fen_unit")
    jiao_end = m.end("mao") if mao else m.end("jiao")
    if fen and not fen_unit and (fen == "两" or _COUNT_AFTER_RE.match(text, m.end())):
        fen = None
    if fen is None and (jiao in "零〇" or (not mao and (jiao == "两" or _COUNT_AFTER_RE.match(text, jiao_end)))):
        return value, end  # "九十九元一件", "九块两件": a count; 零 alone is no jiao
    jiao_digit = Decimal(_CN_DIGITS[jiao]) / 10
    fen_digit = Decimal(_CN_DIGITS[fen]) / 100 if fen else Decimal(0)
    return value + jiao_digit + fen_digit, m.end() if fen else jiao_end


def _jiao_value(m: re.Match[str]) -> Decimal:
    fen = m.group("fen")
    return Decimal(int(m.group("jiao"))) / 10 + (Decimal(int(fen)) / 100 if fen else Decimal(0))


# -- numerals ------------------------------------------------------------------------------


def _longest_numeral(run: str) -> tuple[Decimal, int] | None:
    """The value and length of the longest prefix of ``run`` that is a number.

    "只要九十九一件" runs on into the count; its first three characters are still 99.
    """
    tokens = _TOKEN_RE.findall(run)[:_MAX_RUN_TOKENS]
    for n in range(len(tokens), 0, -1):
        value = _numeral_value(tokens[:n])
        if value is not None:
            return value, sum(map(len, tokens[:n]))
    return None


def _numeral_value(tokens: list[str]) -> Decimal | None:
    """Value of a numeral split into tokens: Arabic numbers and single Chinese characters."""
    if tokens[0] in "点百千万亿" or tokens[-1] == "点":
        return None
    if "点" in tokens:
        return _pointed(tokens)
    if not any(t in _SMALL_UNITS or t in _BIG_UNITS for t in tokens):
        return _digit_string(tokens)
    if any("." in t for t in tokens):  # "1.2万": a decimal times one unit, nothing else
        if len(tokens) == 2 and tokens[0][0].isdigit() and tokens[1] in "千万亿":
            return _arabic(tokens[0]) * (_SMALL_UNITS | _BIG_UNITS)[tokens[1]]
        return None
    return _with_units(tokens)


def _arabic(token: str) -> Decimal:
    return Decimal(token.replace(",", ""))


def _digit_string(tokens: list[str]) -> Decimal | None:
    """One Arabic number, one Chinese digit, or Chinese digits read one by one ("一九九" = 199)."""
    if len(tokens) == 1:
        return _arabic(tokens[0]) if tokens[0][0].isdigit() else Decimal(_CN_DIGITS[tokens[0]])
    if any(t not in _CN_DIGITS for t in tokens) or "两" in tokens or tokens[0] in "零〇":
        return None
    return Decimal("".join(str(_CN_DIGITS[t]) for t in tokens))


def _pointed(tokens: list[str]) -> Decimal | None:
    """"九点九" = 9.9, "9点9" = 9.9, "一点二万" = 12000: whole 点 digits, optionally times 千/万/亿."""
    i = tokens.index("点")
    whole, frac = tokens[:i], tokens[i + 1 :]
    scale = 1
    if frac and frac[-1] in "千万亿":
        scale = (_SMALL_UNITS | _BIG_UNITS)[frac.pop()]
    value = _numeral_value(whole)
    if value is None or value != value.to_integral_value() or not frac:
        return None
    if len(frac) == 1 and frac[0].isdecimal():  # Arabic "9点9", a Whisper spelling
        digits = frac[0]
    elif all(t in _CN_DIGITS for t in frac):
        digits = "".join(str(_CN_DIGITS[t]) for t in frac)
    else:
        return None
    return (value + Decimal("0." + digits)) * scale


def _with_units(tokens: list[str]) -> Decimal | None:
    """Standard reading with units: 一万二千九百九十九, 两千零五十, 十五, 一万二 (12000), 3万, 1万2999.

    Within a section (below 万) small units must fall (千 > 百 > 十); 万/亿 end a section and must
    fall too. A last digit right after a unit is the next lower unit (两千九 = 2900), as in speech.
    """
    total, section = 0, 0
    digit: int | None = None  # the number waiting for its unit
    last_unit, smallest, section_cap, big_cap = 1, 10**12, 10**4, 10**12
    for token in tokens:
        if token in _SMALL_UNITS or token in _BIG_UNITS:
            unit = _SMALL_UNITS.get(token) or _BIG_UNITS[token]
            if unit < 10**4:
                if unit >= section_cap or (digit is not None and digit >= 10):
                    return None
                section += (1 if digit is None else digit) * unit
                section_cap = unit
            else:
                section += digit or 0
                if unit >= big_cap or section == 0:
                    return None
                total, section, section_cap, big_cap = total + section * unit, 0, 10**4, unit
            digit, last_unit, smallest = None, unit, min(smallest, unit)
            continue
        value = _arabic(token) if token[0].isdigit() else Decimal(_CN_DIGITS[token])
        if digit is not None:
            return None  # "九九十" is not a number
        if value == 0:
            last_unit = 1  # 零 resets the implied unit: "一千零五" = 1005
        else:
            digit = int(value)
    if digit is not None:
        if digit >= 10:  # Arabic "1万2999": the rest, below the smallest unit said
            if digit >= smallest:
                return None
            section += digit
        else:
            section += digit * (last_unit // 10 if last_unit >= 100 else 1)
    return Decimal(total + section)


# -- roles ---------------------------------------------------------------------------------


def _assign_unlabelled(text: str, reads: list[_Read]) -> tuple[Price, ...]:
    """Roles for prices no word labelled: a lone one sells; two together are list and live price."""
    prices = [r.price for r in reads]
    free = [i for i, r in enumerate(reads) if r.how == "free"]
    if any(r.price.role == SELLING for r in reads if r.how != "free"):
        return tuple(prices)
    if len(free) == 1:
        prices[free[0]] = _with_role(prices[free[0]], SELLING)
    elif len(free) == 2 and _list_and_live(text, reads[free[0]], reads[free[1]]):
        a, b = free
        high, low = (a, b) if prices[a].amount > prices[b].amount else (b, a)
        prices[high] = _with_role(prices[high], ORIGINAL)
        prices[low] = _with_role(prices[low], SELLING)
    return tuple(prices)


def _list_and_live(text: str, a: _Read, b: _Read) -> bool:
    """Two different prices in one currency with only a space, slash or arrow between them."""
    return (
        a.price.amount != b.price.amount
        and a.price.currency == b.price.currency
        and _TOGETHER_RE.fullmatch(text, a.end, b.start) is not None
    )


def _with_role(price: Price, role: str) -> Price:
    return Price(amount=price.amount, currency=price.currency, role=role, text=price.text)
