"""Prices in screen text (OCR) and speech (ASR): amount, currency, role.

Live-commerce pitches put a low "selling" price next to a high "original"
anchor ("原价2999 现价299"); the price-anomaly rules compare the selling price
with a brand's lowest genuine retail price, so the parser must say which is
which. It is a pure function of the text so the rules, ASR and OCR agree.

A number is a price when it carries a currency (¥99, RMB 99, 99元, 99块, 九十九元)
or follows a price word (到手价199). Roles come from the nearest price word
before the number (到手价/现价/只要 -> selling, 原价/专柜价/市场价 -> original);
when no word says, a lone unlabelled price is the selling price and several
unlabelled ones are ``unknown``.
"""

from __future__ import annotations

import re
import unicodedata

from events import Price

SELLING, ORIGINAL, UNKNOWN = "selling", "original", "unknown"

# Longest first inside each alternation so "原价" beats "价".
_SELLING_WORDS = (
    "到手价", "到手", "现价", "售价", "卖价", "秒杀价", "秒杀", "活动价", "直播价", "直播间价", "特价",
    "优惠价", "折后价", "券后价", "券后", "福利价", "团购价", "抢购价", "拼团价", "限时价", "狂欢价",
    "价格", "一口价", "只要", "只需", "仅需", "仅要", "仅售", "只卖", "才卖", "卖", "现在", "今天", "拍下",
)
_ORIGINAL_WORDS = (
    "原价", "专柜价", "专柜", "市场价", "吊牌价", "官网价", "官方价", "指导价", "零售价", "划线价",
    "门店价", "商场价", "日常价", "平时价", "价值", "正品价",
)
_ROLE_OF_WORD = {w: SELLING for w in _SELLING_WORDS} | {w: ORIGINAL for w in _ORIGINAL_WORDS}
_ROLE_WORD_RE = re.compile("|".join(sorted(map(re.escape, _ROLE_OF_WORD), key=len, reverse=True)))
# What may sit between a price word and its number: "到手价：199", "原价是 2999", "只要¥99".
_JOINER = r"[\s:：是为只要仅需才就]*"
# Words whose number is a price even without a currency ("到手价199"), i.e. the explicit *价 words.
_BARE_OK = re.compile(
    "(?:" + "|".join(map(re.escape, sorted({w for w in _ROLE_OF_WORD if w.endswith("价")} | {"价格", "只要", "仅需", "仅售", "价值", "专柜"}, key=len, reverse=True))) + ")" + _JOINER + "$"
)

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

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_BIG = {"万": 10_000, "亿": 100_000_000}
_CN_CHARS = "".join(_CN_DIGITS) + "".join(_CN_UNITS) + "".join(_CN_BIG) + "点"

_ARABIC = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_NUMBER_RE = re.compile(rf"(?P<ar>{_ARABIC})(?P<mult>[万千]?)|(?P<cn>[{_CN_CHARS}]+)")
_PREFIX_RE = re.compile("(?:" + "|".join(re.escape(p) for p, _ in _PREFIX_CURRENCY) + r")\s*$", re.IGNORECASE)
_SUFFIX_RE = re.compile(r"\s*(?:" + "|".join(re.escape(s) for s, _ in _SUFFIX_CURRENCY) + ")", re.IGNORECASE)
# After 元/块: "九块九" (9.9), "99块9毛" (99.9), "九块九毛九" (9.99).
_JIAO_RE = re.compile(rf"(?P<jiao>[{''.join(_CN_DIGITS)}]|\d(?=[毛角]))[毛角]?(?:(?P<fen>[{''.join(_CN_DIGITS)}\d])分?)?")
# "一块手表" is one watch, not 1 yuan: 块 after a bare small numeral, then a noun.
_CLASSIFIER_BLOCK_RE = re.compile(r"^[一两二几半]块[^\W\d钱九八七六五四三二一零毛角_]", re.UNICODE)


def parse_prices(text: str) -> tuple[Price, ...]:
    """Every price in ``text``, in reading order, with currency and role."""
    text = normalize(text)
    found: list[tuple[Price, bool]] = []  # (price, role came from a word)
    last_end = 0
    for m in _NUMBER_RE.finditer(text):
        if m.start() < last_end:
            continue
        hit = _price_at(text, m, last_end)
        if hit is None:
            continue
        price, end, labelled = hit
        found.append((price, labelled))
        last_end = end
    return _assign_unlabelled(found)


def normalize(text: str) -> str:
    """NFKC (full-width ￥９９ -> ¥99, ：-> :) with thousands separators unified."""
    return unicodedata.normalize("NFKC", text).replace("，", ",")


def _price_at(text: str, m: re.Match[str], floor: int) -> tuple[Price, int, bool] | None:
    """The price starting with number match ``m``, or None if the number is not a price."""
    amount = _amount(m)
    if amount is None:
        return None
    start, end = m.start(), m.end()
    before = text[floor:start]
    currency = None
    prefix = _PREFIX_RE.search(before)
    if prefix and _token_boundary(text, start - len(prefix.group(0))):
        currency = _currency_of(prefix.group(0).strip(), _PREFIX_CURRENCY)
        start -= len(prefix.group(0))
    suffix = _SUFFIX_RE.match(text, end)
    if suffix and m.group("cn") and _CLASSIFIER_BLOCK_RE.match(text, m.start()):
        return None
    if suffix:
        currency = currency or _currency_of(suffix.group(0).strip(), _SUFFIX_CURRENCY)
        end = suffix.end()
        if suffix.group(0).strip() in ("元", "块", "块钱", "圆"):
            amount, end = _with_jiao(text, amount, end)
    word = _role_word(text[floor:start])
    if currency is None:
        if word is None or not _BARE_OK.search(text[floor:start]):
            return None
        currency = "CNY"
    role = _ROLE_OF_WORD[word.group(0)] if word else UNKNOWN
    label_start = floor + word.start() if word else start
    price = Price(amount=amount, currency=currency, role=role, text=text[label_start:end].strip())
    return price, end, word is not None


def _token_boundary(text: str, index: int) -> bool:
    """A prefix like "RMB" must not be the tail of a longer word ("XRMB")."""
    return index <= 0 or not (text[index - 1].isascii() and text[index - 1].isalpha())


def _currency_of(token: str, table: tuple[tuple[str, str], ...]) -> str:
    token = token.upper()
    return next(code for sym, code in table if sym.upper() == token)


def _role_word(gap: str) -> re.Match[str] | None:
    """The price word closest before the number, if it is close (a few characters)."""
    last = None
    for w in _ROLE_WORD_RE.finditer(gap):
        last = w
    if last is None or len(gap) - last.end() > 6:
        return None
    return last


def _with_jiao(text: str, amount: float, end: int) -> tuple[float, int]:
    """Add the 毛/分 that may follow 元/块 ("九块九" = 9.9)."""
    m = _JIAO_RE.match(text, end)
    if not m or amount != int(amount):
        return amount, end
    jiao = _digit(m.group("jiao"))
    fen = _digit(m.group("fen")) if m.group("fen") else 0
    return round(amount + jiao / 10 + fen / 100, 2), m.end()


def _digit(ch: str) -> int:
    return int(ch) if ch.isdigit() else _CN_DIGITS[ch]


def _amount(m: re.Match[str]) -> float | None:
    if m.group("ar"):
        value = float(m.group("ar").replace(",", ""))
        return value * {"": 1, "千": 1000, "万": 10_000}[m.group("mult")]
    return chinese_number(m.group("cn"))


def chinese_number(s: str) -> float | None:
    """Value of a Chinese numeral: 九十九, 两千九百九十九, 一万二 (12000), 九点九, 一九九 (digit by digit)."""
    if not s or s[0] in "点百千万亿" or s[-1] == "点" or s.count("点") > 1:
        return None
    whole, _, frac = s.partition("点")
    value = _chinese_integer(whole)
    if value is None:
        return None
    if frac:
        if not all(c in _CN_DIGITS for c in frac):
            return None
        value += float("0." + "".join(str(_CN_DIGITS[c]) for c in frac))
    return float(value)


def _chinese_integer(s: str) -> int | None:
    if all(c in _CN_DIGITS for c in s):
        if len(s) == 1:
            return _CN_DIGITS[s]
        return int("".join(str(_CN_DIGITS[c]) for c in s)) if "两" not in s else None
    total, section, digit = 0, 0, None
    last_unit = 1
    for c in s:
        if c in _CN_DIGITS:
            if digit is not None and _CN_DIGITS[c] != 0:
                return None  # "九九十" is not a number
            if _CN_DIGITS[c] == 0:
                digit, last_unit = None, 1  # 零 resets the implied unit ("一千零五" = 1005)
            else:
                digit = _CN_DIGITS[c]
        elif c in _CN_UNITS:
            unit = _CN_UNITS[c]
            section += (1 if digit is None else digit) * unit
            digit, last_unit = None, unit
        else:  # 万 / 亿
            big = _CN_BIG[c]
            section += digit or 0
            total += (section or 1) * big
            section, digit, last_unit = 0, None, big
    if digit is not None:
        # A trailing digit right after a unit is the next lower unit: 一万二 = 12000, 三千五 = 3500.
        section += digit * (last_unit // 10 if last_unit >= 100 else 1)
    return total + section


def _assign_unlabelled(found: list[tuple[Price, bool]]) -> tuple[Price, ...]:
    """A lone unlabelled price is the selling price unless a word already named one."""
    unlabelled = [i for i, (_, labelled) in enumerate(found) if not labelled]
    has_selling = any(p.role == SELLING for p, labelled in found if labelled)
    out = [p for p, _ in found]
    if len(unlabelled) == 1 and not has_selling:
        i = unlabelled[0]
        out[i] = Price(amount=out[i].amount, currency=out[i].currency, role=SELLING, text=out[i].text)
    return tuple(out)
