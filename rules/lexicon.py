"""Lexicons and the matcher: every term, exemption and brand name in two Aho-Corasick automata.

One automaton holds the normalised spelling of every entry, another its pinyin codings, so
one pass over each form of a text finds all entries whatever the lexicon size. A third holds
the codings of brand names one syllable part away (``near_pinyin_variants``), searched only in
speech (``match(near=True)``): what a listener mishears a name as. The automata
are ``ahocorasick_rs`` (Rust): pyahocorasick scans a node's children linearly, and a Chinese
lexicon's root has thousands of them (10,000 terms: 60 us per short text instead of ~1.5 us). An exemption is
an entry too: a term hit that overlaps an exemption hit of its own lexicon does not count
("最佳" inside "最佳食用时间"), but stays visible in explanations.

A lexicon has a ``role``: ``terms`` (the default) lists what rules look for; ``context`` lists
benign context (negation, a brand named only in a story or a comparison, an authorised store,
second-hand goods) whose ``effect`` the rules that honour it apply; ``segment_cue`` lists what
hosts say when they move on to the next product (下一款), which opens a product segment.
"""

from __future__ import annotations

from dataclasses import dataclass

import ahocorasick_rs

from events import Brand
from rules.normalize import Normalized, Normalizer, near_pinyin_variants, syllable_count, term_pinyin_variants

TERM, EXEMPT, BRAND, CONTEXT, CUE = "term", "exempt", "brand", "context", "cue"
TERMS_ROLE, CONTEXT_ROLE, CUE_ROLE = "terms", "context", "segment_cue"
_KIND_OF_ROLE = {TERMS_ROLE: TERM, CONTEXT_ROLE: CONTEXT, CUE_ROLE: CUE}


@dataclass(frozen=True, slots=True)
class LexiconTerm:
    term: str
    aliases: tuple[str, ...] = ()
    pinyin: bool = True
    effect: str = ""  # context lexicons: what the term does (see rules.context)


@dataclass(frozen=True, slots=True)
class Exemption:
    phrase: str
    reason: str = ""
    pinyin: bool = True


@dataclass(frozen=True, slots=True)
class Lexicon:
    """A named list of terms ops edit (``lexicons/<name>.yaml``), with its exemptions."""

    name: str
    terms: tuple[LexiconTerm, ...]
    exemptions: tuple[Exemption, ...] = ()
    description: str = ""
    source: str = ""
    role: str = TERMS_ROLE
    applies_to: tuple[str, ...] = ()  # context lexicons: the lexicons (and "brands") it acts on
    scope: int = 8  # context lexicons: characters a negation or comparison reaches


@dataclass(frozen=True, slots=True)
class _Entry:
    kind: str  # TERM, EXEMPT, BRAND, CONTEXT or CUE
    group: str  # lexicon name, or brand id
    canonical: str  # the lexicon term, the exemption phrase or the brand id
    spelling: str  # the name or alias that matched, as written in the lexicon
    reason: str = ""
    canonical_form: str = ""  # the canonical spelling, normalised
    ascii_start: bool = False  # needs a word boundary before (Latin letter or digit)
    ascii_end: bool = False
    syllables: int = 0  # of the spelling, in pinyin


@dataclass(frozen=True, slots=True)
class Hit:
    """One entry found in one text: ``surface`` is what the (normalised) text says there."""

    kind: str
    group: str
    canonical: str
    spelling: str
    surface: str
    start: int
    end: int
    via: str  # "text", "pinyin" (a homophone) or "near" (one syllable part away: speech only)
    label: str  # '高仿', or '高仿 (as 高访)' when the text said something else
    reason: str = ""  # exemptions: why; context terms: their effect; brand nicknames: "alias"
    syllables: int = 0


@dataclass(frozen=True, slots=True)
class TextMatch:
    hits: tuple[Hit, ...]  # counting hits: terms outside exemptions, and brands
    exempted: tuple[tuple[Hit, Hit], ...]  # (term hit, exemption hit that covers it)
    exemptions: tuple[Hit, ...]


def _is_word_char(c: str) -> bool:
    return c.isascii() and c.isalnum()


def _same_class(a: str, b: str) -> bool:
    """Both ASCII digits, or both Latin letters (CJK counts as alphabetic to str.isalpha)."""
    if not (a.isascii() and b.isascii()):
        return False
    return (a.isdigit() and b.isdigit()) or (a.isalpha() and b.isalpha())


_NOTHING = TextMatch((), (), ())


def _heard_names_win(hits: tuple[Hit, ...]) -> tuple[Hit, ...]:
    """Without near hits over a name heard as such: 迪奥 said is Dior, not a mishearing of another brand."""
    names = [h for h in hits if h.kind == BRAND and h.via != "near"]
    return tuple(h for h in hits if h.via != "near" or not any(n.start < h.end and h.start < n.end for n in names))


def _automaton(keys: dict[str, list[int]]) -> tuple[ahocorasick_rs.AhoCorasick | None, list[tuple[int, ...]]]:
    """An automaton over the keys, and the entries behind each pattern index."""
    if not keys:
        return None, []
    patterns = list(keys)
    automaton = ahocorasick_rs.AhoCorasick(patterns, matchkind=ahocorasick_rs.MatchKind.Standard)
    return automaton, [tuple(keys[p]) for p in patterns]


class Matcher:
    """Finds lexicon terms, exemptions and brand names in normalised text."""

    def __init__(
        self,
        normalizer: Normalizer,
        lexicons: tuple[Lexicon, ...],
        brands: tuple[Brand, ...] = (),
        pinyin_min_syllables: int = 2,
        brand_pinyin_min_syllables: int = 2,
    ) -> None:
        self._normalizer = normalizer
        self._entries: list[_Entry] = []
        text_keys: dict[str, list[int]] = {}
        pinyin_keys: dict[str, list[int]] = {}
        near_keys: dict[str, list[int]] = {}

        def add(entry: _Entry, spelling: str, pinyin: bool, min_syllables: int) -> None:
            norm = normalizer.normalize(spelling)
            if not norm.compact:
                return
            index = len(self._entries)
            self._entries.append(
                _Entry(
                    entry.kind, entry.group, entry.canonical, spelling, entry.reason,
                    normalizer.compact(entry.canonical), _is_word_char(norm.compact[0]), _is_word_char(norm.compact[-1]),
                    syllable_count(norm.pinyin),
                )
            )
            text_keys.setdefault(norm.compact, []).append(index)
            if pinyin and syllable_count(norm.pinyin) >= min_syllables:
                variants = term_pinyin_variants(norm)
                for variant in variants:
                    if variant != norm.compact:
                        pinyin_keys.setdefault(variant, []).append(index)
                if entry.kind == BRAND:
                    for near in {n for v in variants for n in near_pinyin_variants(v)} - set(variants):
                        near_keys.setdefault(near, []).append(index)

        for lex in lexicons:
            kind = _KIND_OF_ROLE[lex.role]
            for t in lex.terms:
                for spelling in (t.term, *t.aliases):
                    add(_Entry(kind, lex.name, t.term, spelling, t.effect), spelling, t.pinyin, pinyin_min_syllables)
            for ex in lex.exemptions:
                add(_Entry(EXEMPT, lex.name, ex.phrase, ex.phrase, ex.reason), ex.phrase, ex.pinyin, pinyin_min_syllables)
        for brand in brands:
            for name in brand.all_names:
                nickname = "alias" if name in brand.aliases and name not in brand.names else ""
                add(_Entry(BRAND, brand.brand_id, brand.brand_id, name, nickname), name, True, brand_pinyin_min_syllables)
        self._text, self._text_entries = _automaton(text_keys)
        self._pinyin, self._pinyin_entries = _automaton(pinyin_keys)
        self._near, self._near_entries = _automaton(near_keys)
        self.term_count = len(self._entries)

    def match(self, norm: Normalized, near: bool = False) -> TextMatch:
        """All hits in one normalised text, with exemptions applied per lexicon; ``near``: brand
        names one syllable part away too (speech: a screen does not mishear)."""
        found: dict[tuple[str, str, str, int, int], Hit] = {}
        compact = norm.compact
        if compact and self._text is not None:
            for key, start, stop in self._text.find_matches_as_indexes(compact, overlapping=True):
                self._add_hits(found, norm, self._text_entries[key], start, stop, "text")
        for automaton, entries, via in ((self._pinyin, self._pinyin_entries, "pinyin"),
                                        (self._near if near else None, self._near_entries, "near")):
            if not norm.pinyin or automaton is None:
                continue
            for key, start, stop in automaton.find_matches_as_indexes(norm.pinyin, overlapping=True):
                start, stop = norm.compact_span(start, stop)
                self._add_hits(found, norm, entries[key], start, stop, via)
        if not found:
            return _NOTHING
        return self._apply_exemptions(_heard_names_win(tuple(found.values())))

    def _add_hits(
        self, found: dict[tuple[str, str, str, int, int], Hit], norm: Normalized, indices: tuple[int, ...], start: int, stop: int, via: str
    ) -> None:
        for index in indices:
            entry = self._entries[index]
            key = (entry.kind, entry.group, entry.canonical, start, stop)
            if key in found or not self._bounded(entry, norm, start, stop):
                continue
            surface = norm.compact[start:stop]
            label = entry.canonical if surface == entry.canonical_form else f"{entry.canonical} (as {surface})"
            found[key] = Hit(
                entry.kind, entry.group, entry.canonical, entry.spelling, surface, start, stop, via, label, entry.reason, entry.syllables
            )

    @staticmethod
    def _bounded(entry: _Entry, norm: Normalized, start: int, stop: int) -> bool:
        """Latin/digit ends need a word boundary: no 'lv' in 'silver', no '1:1' in '1100'."""
        text = norm.compact
        if entry.ascii_start and start > 0 and start not in norm.gaps and _same_class(text[start - 1], text[start]):
            return False
        if entry.ascii_end and stop < len(text) and stop not in norm.gaps and _same_class(text[stop - 1], text[stop]):
            return False
        return True

    @staticmethod
    def _apply_exemptions(hits: tuple[Hit, ...]) -> TextMatch:
        exemptions = tuple(h for h in hits if h.kind == EXEMPT)
        counting: list[Hit] = []
        exempted: list[tuple[Hit, Hit]] = []
        for hit in hits:
            if hit.kind == EXEMPT:
                continue
            cover = next(
                (e for e in exemptions if hit.kind != BRAND and e.group == hit.group and e.start < hit.end and hit.start < e.end),
                None,
            )
            if cover is None:
                counting.append(hit)
            else:
                exempted.append((hit, cover))
        # "全网最低价" also contains 最低价 and 全网最低: keep the longest hit of a lexicon.
        maximal = [
            h
            for h in counting
            if not any(
                o is not h and o.kind == h.kind and o.group == h.group and o.start <= h.start and h.end <= o.end
                and (o.end - o.start) > (h.end - h.start)
                for o in counting
            )
        ]
        return TextMatch(tuple(maximal), tuple(exempted), exemptions)
