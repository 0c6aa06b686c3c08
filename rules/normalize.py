"""Text normalisation and pinyin coding, so evasions and ASR homophones still match.

Sellers write "高 仿", "ＧＵＣＣＩ", "高.仿" or Traditional "專櫃" to dodge keyword filters, and
Whisper writes 高仿 as "高访" or 赔十 as "陪时" (right syllables, wrong characters). Both sides of
a match (the lexicon term and the incoming text) go through the same pipeline:

1. ``compact``: NFKC (full width -> half width, circled digits...), zero-width characters
   removed, lower case, OpenCC Traditional -> Simplified, Chinese numerals before a price unit
   or around 比 turned into digits, then every separator (space, punctuation, symbols, emoji)
   removed. ``gaps`` remembers where separators were, so Latin and digit terms still need a
   word boundary ("lv" must not match inside "silver", "1:1" not inside "1100").
2. ``pinyin``: the compact text with every Chinese character replaced by one private-use code
   point per toneless syllable, and Latin runs that spell pinyin ("gaofang", "gao fang")
   replaced by the same codes. One code per syllable keeps matching exact (no partial-syllable
   hits) and lets one Aho-Corasick automaton find homophones.

Everything here is pure and cached per character; a :class:`Normalizer` holds no per-stream
state and is safe to share between threads.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from functools import lru_cache
from typing import Iterator, NamedTuple

import opencc
from pypinyin.constants import PINYIN_DICT

_ZERO_WIDTH_RE = re.compile("[\u00ad\u180e\u200b-\u200f\u2060-\u2064\ufeff]")
_NUMERAL_HINT_RE = re.compile("[元块圆折比]|rmb|人民币")
_WORD_RE = re.compile(r"[^\W_]+")
_LATIN_RUN_RE = re.compile(r"[a-z]+")
_CLAUSE_MARK_RE = re.compile(r"[，。！？；：,!?;:]|(?<!\d)\.|\.(?!\d)")
_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10_000, "亿": 100_000_000}
_CN_NUM = "零〇一二两三四五六七八九十百千万亿"
# A Chinese numeral run counts as a number only where it cannot be a word: before a price or
# discount unit (九十九元, 三折) or around 比 (一比一). "假一赔十" and "一模一样" stay as they are,
# so homophones of their characters still match in pinyin.
_CN_PRICE_RE = re.compile(rf"([{_CN_NUM}]+)(?=[\W_]*(?:元|块|圆|折|rmb|人民币))")
_CN_RATIO_RE = re.compile(rf"(?<![{_CN_NUM}])([一二三四五六七八九十])([\W_]*比[\W_]*)([一二三四五六七八九十])(?![{_CN_NUM}])")
_PINYIN_CODE_BASE = 0xF0000  # supplementary private use area A: never in real text
_NON_SYLLABLES = {"m", "n", "ng", "hm", "hng", "r", "ê"}
MAX_TERM_VARIANTS = 16


def _toneless(syllable: str) -> str:
    """'lǘ' -> 'lv', 'zhǎng' -> 'zhang' (pypinyin's NORMAL style, computed without its phrase engine)."""
    decomposed = unicodedata.normalize("NFD", syllable).replace("u\u0308", "v")
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _build_syllables() -> tuple[dict[str, str], dict[int, tuple[str, ...]]]:
    """Map each toneless syllable to its code point, and each character to its readings."""
    readings: dict[int, tuple[str, ...]] = {}
    names: set[str] = set()
    for cp, value in PINYIN_DICT.items():
        toneless = tuple(dict.fromkeys(_toneless(p) for p in value.split(",")))
        readings[cp] = toneless
        names.update(toneless)
    codes = {name: chr(_PINYIN_CODE_BASE + i) for i, name in enumerate(sorted(names))}
    return codes, readings


_SYLLABLE_CODES, _READINGS = _build_syllables()
_CODE_NAMES = {code: name for name, code in _SYLLABLE_CODES.items()}
_SEGMENTABLE = {s for s in _SYLLABLE_CODES if s.isascii() and s not in _NON_SYLLABLES}
_MAX_SYLLABLE_LEN = max(map(len, _SEGMENTABLE))


# ``str.translate`` table: a Chinese character -> the code of its first reading; other
# characters are not in it and stay as they are. A plain dict: translate() is twice as fast
# with one as with a dict subclass.
_PINYIN_TABLE = {cp: _SYLLABLE_CODES[r[0]] for cp, r in _READINGS.items() if chr(cp).isalpha()}


def _traditional_chars(t2s: opencc.OpenCC) -> frozenset[str]:
    """The CJK characters OpenCC t2s changes: text without any of them skips the conversion.

    Found with one conversion of every CJK character, one per line (~20 ms). Phrase rules of
    t2s are written in Traditional characters, so they never apply to text without one.
    """
    ranges = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x2A6DF))
    chars = [chr(c) for lo, hi in ranges for c in range(lo, hi + 1)]
    converted = t2s.convert("\n".join(chars)).split("\n")
    if len(converted) != len(chars):  # never seen; fall back to always converting
        return frozenset(chars)
    return frozenset(c for c, out in zip(chars, converted) if out != c)


def cn_to_int(numeral: str) -> int | None:
    """'九十九' -> 99, '一百零五' -> 105, '三千' -> 3000, '一二三' -> 123; None if not a number."""
    if all(c in _CN_DIGITS for c in numeral):
        return int("".join(str(_CN_DIGITS[c]) for c in numeral))
    total, section, digit = 0, 0, None
    for c in numeral:
        if c in _CN_DIGITS:
            digit = _CN_DIGITS[c]
        elif c in _CN_UNITS:
            unit = _CN_UNITS[c]
            if unit >= 10_000:
                total = (total + section + (digit or 0)) * unit
                section = 0
            else:
                section += (1 if digit is None else digit) * unit
            digit = None
        else:
            return None
    return total + section + (digit or 0)


def _convert_numerals(text: str) -> str:
    if _NUMERAL_HINT_RE.search(text) is None:
        return text

    def price(m: re.Match[str]) -> str:
        value = cn_to_int(m.group(1))
        return m.group(1) if value is None else str(value)

    text = _CN_PRICE_RE.sub(price, text)
    return _CN_RATIO_RE.sub(lambda m: f"{cn_to_int(m.group(1))}{m.group(2)}{cn_to_int(m.group(3))}", text)


@lru_cache(maxsize=64)
def _segment(run: str) -> tuple[str, ...] | None:
    """Split a Latin run into pinyin syllables ('gaofang' -> gao, fang), fewest syllables first."""
    n = len(run)
    best: list[tuple[str, ...] | None] = [None] * (n + 1)
    best[n] = ()
    for i in range(n - 1, -1, -1):
        for j in range(min(n, i + _MAX_SYLLABLE_LEN), i, -1):
            rest, here = best[j], best[i]
            if rest is not None and run[i:j] in _SEGMENTABLE and (here is None or len(rest) + 1 < len(here)):
                best[i] = (run[i:j], *rest)
    return best[0]


class Normalized(NamedTuple):
    """One text, normalised for matching (a NamedTuple: built once per event, cheaply).

    ``compact``: what terms are matched against. ``gaps``: compact indices that had a separator
    before them. ``pinyin``: the coded pinyin string; ``pinyin_spans[i]`` is the compact span of
    its i-th code point (None when it maps 1:1, the usual case). ``breaks``: compact indices
    that had a clause break before them (，。！？；: the reach of a negation ends there).
    """

    compact: str
    gaps: frozenset[int]
    pinyin: str
    pinyin_spans: tuple[tuple[int, int], ...] | None
    cleaned: str = ""  # the text before separators were removed (for prices)
    breaks: frozenset[int] = frozenset()

    def compact_span(self, start: int, end: int) -> tuple[int, int]:
        """The compact-text span of pinyin code points [start, end)."""
        if self.pinyin_spans is None:
            return start, end
        return self.pinyin_spans[start][0], self.pinyin_spans[end - 1][1]

    def readable_pinyin(self) -> str:
        return " ".join(_CODE_NAMES.get(c, c) for c in self.pinyin)


class Normalizer:
    """The normalisation pipeline (owns one OpenCC converter; thread-safe for reading)."""

    def __init__(self) -> None:
        self._t2s = opencc.OpenCC("t2s")
        self._traditional = _traditional_chars(self._t2s)

    def clean(self, text: str) -> str:
        """Width, case, zero-width, Traditional and numerals; separators are kept."""
        if not unicodedata.is_normalized("NFKC", text):
            text = unicodedata.normalize("NFKC", text)
        if _ZERO_WIDTH_RE.search(text):
            text = _ZERO_WIDTH_RE.sub("", text)
        text = text.lower()
        if not self._traditional.isdisjoint(text):
            text = self._t2s.convert(text)
        return _convert_numerals(text)

    def normalize(self, text: str) -> Normalized:
        cleaned = self.clean(text)
        words = _WORD_RE.findall(cleaned)
        compact = "".join(words)
        gaps = frozenset(itertools.accumulate(map(len, words[:-1]))) if len(words) > 1 else frozenset()
        pinyin, spans = self._pinyin(compact, gaps)
        return Normalized(compact, gaps, pinyin, spans, cleaned, _clause_breaks(cleaned))

    def compact(self, text: str) -> str:
        """Normalised text without separators: idempotent (``compact(compact(x)) == compact(x)``)."""
        return self.normalize(text).compact

    @staticmethod
    def _pinyin(compact: str, gaps: frozenset[int]) -> tuple[str, tuple[tuple[int, int], ...] | None]:
        coded = compact.translate(_PINYIN_TABLE)
        if not compact.isascii() and _LATIN_RUN_RE.search(compact) is None:
            return coded, None
        pieces: list[str] = []
        spans: list[tuple[int, int]] = []
        pos = 0
        for run_start, run_end in _latin_runs(compact, gaps):
            syllables = _segment(compact[run_start:run_end])
            if not syllables:
                continue
            pieces.append(coded[pos:run_start])
            spans.extend((i, i + 1) for i in range(pos, run_start))
            at = run_start
            for s in syllables:
                pieces.append(_SYLLABLE_CODES[s])
                spans.append((at, at + len(s)))
                at += len(s)
            pos = run_end
        if not pieces:
            return coded, None
        pieces.append(coded[pos:])
        spans.extend((i, i + 1) for i in range(pos, len(compact)))
        return "".join(pieces), tuple(spans)


def _clause_breaks(cleaned: str) -> frozenset[int]:
    """Compact indices that follow a clause mark (a full stop between digits is a decimal point)."""
    if not _CLAUSE_MARK_RE.search(cleaned):
        return frozenset()
    breaks: set[int] = set()
    at, prev_end = 0, 0
    for m in _WORD_RE.finditer(cleaned):
        if at and _CLAUSE_MARK_RE.search(cleaned, prev_end, m.start() + 1):  # +1: see the digit after a point
            breaks.add(at)
        at, prev_end = at + m.end() - m.start(), m.end()
    return frozenset(breaks)


def _latin_runs(compact: str, gaps: frozenset[int]) -> Iterator[tuple[int, int]]:
    """Latin letter runs, also split where a separator was ('gao fang' -> 'gao', 'fang')."""
    for m in _LATIN_RUN_RE.finditer(compact):
        start = m.start()
        for cut in sorted(g for g in gaps if m.start() < g < m.end()):
            yield start, cut
            start = cut
        yield start, m.end()


# Characters whose second reading is in everyday use. Only these expand a term into several
# pinyin codings: the dictionary also lists rare and classical readings (治 chi, 癌 yan), and
# expanding those let "支持验货" heard as "支持艳霍" match 治癌.
COMMON_POLYPHONES = frozenset(
    "长行重乐还好得地了着发为都和只量调降差传弹朝藏数省种转背便参曾处当斗干给更观几假间将教"
    "解尽据看空累落难宁强切亲曲散色少舍盛宿提吐系鲜相兴血要应与载扎涨折正识率模薄剥供冲度"
)


def term_pinyin_variants(normalized: Normalized) -> list[str]:
    """The pinyin codings of a lexicon term, over the readings of its common polyphones.

    Text is coded with each character's first reading; the term with every reading of the
    characters in ``COMMON_POLYPHONES``, so "长" in a term matches a homophone of either zhang
    or chang. Capped at ``MAX_TERM_VARIANTS``.
    """
    options: list[tuple[str, ...]] = []
    for i, code in enumerate(normalized.pinyin):
        start, end = normalized.compact_span(i, i + 1)
        char = normalized.compact[start:end]
        readings = _READINGS.get(ord(char)) if len(char) == 1 and char in COMMON_POLYPHONES else None
        options.append(tuple(_SYLLABLE_CODES[r] for r in readings) if readings else (code,))
    return ["".join(p) for p in itertools.islice(itertools.product(*options), MAX_TERM_VARIANTS)]


# Initials of a toneless syllable, two-letter ones first; y and w count as initials ("wu" is
# w + u), which is how a listener hears 武 against 古 (gu / wu: the same final, another initial).
_INITIALS = ("zh", "ch", "sh", "b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h", "j", "q", "x", "r", "z", "c", "s",
             "y", "w")


def _split_syllable(syllable: str) -> tuple[str, str]:
    """'zhuang' -> ('zh', 'uang'), 'an' -> ('', 'an')."""
    initial = next((i for i in _INITIALS if syllable.startswith(i) and len(syllable) > len(i)), "")
    return initial, syllable[len(initial):]


def _build_near() -> dict[str, tuple[str, ...]]:
    """Each syllable code -> the codes of the syllables one part away: the same final after
    another initial, or the same initial before another final."""
    parts = {name: _split_syllable(name) for name in _SEGMENTABLE}
    by_final: dict[str, list[str]] = {}
    by_initial: dict[str, list[str]] = {}
    for name, (initial, final) in parts.items():
        by_final.setdefault(final, []).append(name)
        by_initial.setdefault(initial, []).append(name)
    near = {}
    for name, (initial, final) in parts.items():
        others = set(by_final[final]) | (set(by_initial[initial]) if initial else set())
        near[_SYLLABLE_CODES[name]] = tuple(sorted(_SYLLABLE_CODES[o] for o in others - {name}))
    return near


_NEAR_SYLLABLES = _build_near()


# Syllables that say nothing of which name was meant: 家 (jia) ends every "X家" nickname (狗家,
# 迪家, 香家) and half of everyday speech (家人们, 大家).
_ANONYMOUS_SYLLABLES = frozenset(_SYLLABLE_CODES[s] for s in ("jia",))


def near_pinyin_variants(pinyin: str) -> list[str]:
    """The pinyin codings one syllable part away from ``pinyin``: one syllable (of at least two)
    with another initial or another final, the others as they are, and not all of them 家.

    Whisper base writes 古驰 (gu chi) as 武池 (wu chi) and 香奶奶 as 香奈来: the syllables a name
    is heard as are often not its homophones but its neighbours. An "X家" nickname heard with X
    off leaves only 家 to go by, and is no match: 机甲 heard as 即假 (ji jia) beside a toy's
    一比一 raised a Dior alert by 迪家 (di jia) in the spoken tuning corpus.
    """
    codes = list(pinyin)
    if syllable_count(pinyin) < 2:
        return []
    out = []
    for i, code in enumerate(codes):
        if all(c in _ANONYMOUS_SYLLABLES for c in codes[:i] + codes[i + 1:]):
            continue
        for other in _NEAR_SYLLABLES.get(code, ()):
            out.append("".join(codes[:i] + [other] + codes[i + 1:]))
    return out


def syllable_count(pinyin: str) -> int:
    """How many code points of a pinyin string are syllables (not raw letters or digits)."""
    return sum(1 for c in pinyin if c in _CODE_NAMES)
