"""Product segments: which product on sale a piece of evidence belongs to.

Live commerce is a sequence of products. While one is on sale its product card (a title and a
price sticker) stays on screen; when the host moves on, the card changes, or the host says so
(下一款, 接下来这个宝贝). A price or a counterfeit cue belongs to the product it was shown or
said with: joining a brand named in passing with the next product's ¥49 price is how a 30 s
window made false counterfeit alerts.

The timeline is built from two signals, in media time:

- **Card changes** (OCR). Lines that appear within ``card_join_s`` of a line carrying a price,
  and next to it (one band, or stacked), form one *card*; captions elsewhere on screen do not.
  A segment opens when a line takes the place of a title line of the current segment's card
  (overlapping box) with different text — even when the price sticker reads the same, so OCR
  tracking carries it on — or, for a card that is only a price, when that price changes. A
  card that only changes its price under the same title is the same product at a new price; a
  title read in part (the host in front of it) is the same title.
- **Spoken cues** (ASR, ``segment_cue`` lexicons). They open a segment at the utterance's start
  unless another boundary is within ``min_gap_s`` (the card change is the more precise one).
  Speech arrives seconds late, so boundaries may be inserted in the past: membership is
  computed when rules are evaluated, never stamped on arrival.

Screen lines belong to every segment they were in view during (a caption can outlive a
product); an utterance belongs to the segment around its middle.
"""

from __future__ import annotations

import bisect
import difflib
from collections.abc import Callable
from dataclasses import dataclass, field

from events import Box, Evidence, Modality, Segment

START, CARD, SPEECH = "start", "card", "speech"


@dataclass(frozen=True)
class SegmentOptions:
    card_join_s: float = 2.0  # lines appearing this close to a price line belong to its card
    card_overlap: float = 0.3  # IoU from which a new card line takes an old one's place
    same_text: float = 0.75  # similarity from which two card lines say the same thing
    min_gap_s: float = 6.0  # a spoken cue this close to another boundary opens nothing
    max_boundaries: int = 256  # per stream; the oldest are forgotten


@dataclass
class _Line:
    observation_id: str
    text: str
    box: Box
    start: float
    priced: bool
    card: str | None = None
    spelled: str | None = None  # the text as ``SegmentTimeline.spell`` writes it, once asked


@dataclass
class _Boundary:
    at: float
    reason: str
    card: str | None = None
    title: str = ""
    tentative: bool = False  # a new price under a titled card: kept only if a new title follows


@dataclass
class SegmentTimeline:
    """The product segments of one stream. Feed it every text evidence of that stream."""

    options: SegmentOptions = field(default_factory=SegmentOptions)
    # How a card line is compared with what is said of it (``card_named``): the rules engine
    # gives its pinyin coding, so 皮带 said names the 皮帯 OCR read and 手袋 the 手带 Whisper wrote.
    spell: Callable[[str], str] = str
    _boundaries: list[_Boundary] = field(default_factory=lambda: [_Boundary(0.0, START)])
    _lines: dict[str, _Line] = field(default_factory=dict)  # observation id -> screen line
    _cards: dict[str, list[_Line]] = field(default_factory=dict)

    # -- input ----------------------------------------------------------------------------

    def observe_screen(self, ev: Evidence) -> None:
        """An OCR evidence event: a line appearing may complete a card, a card may open a segment."""
        if ev.modality is not Modality.OCR or not ev.observation_id or ev.box is None:
            return
        if ev.observation_id in self._lines:
            return
        self._settle(ev.media_start)
        priced = any(p.role != "original" for p in ev.prices)
        line = _Line(ev.observation_id, _squash(ev.text), ev.box, ev.media_start, priced)
        self._lines[ev.observation_id] = line
        near = [ln for ln in self._recent(line.start) if ln is not line and _near(ln.box, line.box)]
        if priced:
            carded = [ln.card for ln in near if ln.card is not None]
            card = carded[-1] if carded else f"card-{line.start:.1f}-{line.box.x}-{line.box.y}"
            for other in near:
                if other.card is None:
                    self._join(other, card)
            self._join(line, card)
        elif cards := [ln.card for ln in near if ln.priced and ln.card is not None]:
            self._join(line, cards[-1])
        else:
            self._retitle(line)
        self._forget_old(line.start)

    def _retitle(self, line: _Line) -> None:
        """A new title where the current card's title was: the next product, even if its price reads the same."""
        current = self._card_in(self._index_at(line.start))
        old = self._cards.get(current or "", [])
        if current is None or not any(not ln.priced for ln in old) or not self._replaces(line, old):
            return
        card = f"card-{line.start:.1f}-{line.box.x}-{line.box.y}"
        line.card = card
        self._cards[card] = [line]
        self._open(line.start, card)

    def observe_cue(self, ev: Evidence) -> None:
        """An utterance with a spoken cue (下一款): a segment starts where it starts."""
        at = ev.media_start
        if any(abs(b.at - at) < self.options.min_gap_s for b in self._boundaries):
            return
        bisect.insort(self._boundaries, _Boundary(at, SPEECH), key=lambda b: b.at)
        del self._boundaries[: max(0, len(self._boundaries) - self.options.max_boundaries)]

    # -- queries --------------------------------------------------------------------------

    def segments_of(self, modality: Modality, start: float, end: float) -> list[Segment]:
        """The segments a piece of evidence belongs to (see the module docstring)."""
        return [self.segment(i) for i in self.indices_of(modality, start, end)]

    def indices_of(self, modality: Modality, start: float, end: float) -> range:
        """Positions of those segments in the timeline as it is now (cheap; see ``segment``)."""
        if modality is Modality.ASR:
            middle = self._index_at((start + end) / 2)
            return range(middle, middle + 1)
        first = self._index_at(start)
        # [start, end) is half open: a line last seen as the next product appears is not part of it
        last = self._index_at(end - 1e-6) if end > start else first
        return range(first, max(first, last) + 1)

    def contains(self, index: int, modality: Modality, start: float, end: float) -> bool:
        """Does evidence over [start, end] belong to the segment at ``index``? (``indices_of``, inverted)"""
        lo = self._boundaries[index].at
        hi = self._boundaries[index + 1].at if index + 1 < len(self._boundaries) else float("inf")
        if modality is Modality.ASR:
            middle = (start + end) / 2
            return lo <= middle < hi or (index == 0 and middle < lo)
        reaches = end > lo if end > start else start >= lo
        return reaches and start < hi or (index == 0 and start < lo)

    def segment(self, index: int) -> Segment:
        """The segment at a position ``indices_of`` gave, before the timeline changes again."""
        return self._segment(index)

    def card_of(self, observation_id: str) -> str | None:
        """The product card a screen line belongs to, if it is part of one."""
        line = self._lines.get(observation_id)
        return line.card if line else None

    def card_beside(self, box: Box, start: float, end: float) -> str | None:
        """The card of a segment over [start, end] that a picture at ``box`` is part of: it touches
        one of the card's lines, stacked in its column or beside it in its band (the product
        photo on a product card). A logo elsewhere (the host's shirt, the set) names no product."""
        for i in self.indices_of(Modality.LOGO, start, end):
            card = self._card_in(i)
            if card is not None and any(_touches(box, ln.box) for ln in self._cards.get(card, [])):
                return card
        return None

    def card_named(self, start: float, end: float, said_of: str) -> str | None:
        """The card of the segment an utterance over [start, end] belongs to, if ``said_of`` (what
        was said right after a brand, as ``spell`` writes it) begins with the end of one of the
        card's title lines: its product (这款香奈儿的皮带 while the card reads 新款皮带)."""
        card = self._card_in(self._index_at((start + end) / 2))
        for line in self._cards.get(card or "", []):
            if line.priced:
                continue
            if line.spelled is None:
                line.spelled = self.spell(line.text)
            tail = line.spelled
            if any(said_of.startswith(tail[-k:]) for k in range(2, len(tail) + 1)):
                return card
        return None

    @property
    def segments(self) -> list[Segment]:
        return [self._segment(i) for i in range(len(self._boundaries))]

    # -- internals ------------------------------------------------------------------------

    def _index_at(self, t: float) -> int:
        return max(0, bisect.bisect_right(self._boundaries, t, key=lambda b: b.at) - 1)

    def _segment(self, i: int) -> Segment:
        b = self._boundaries[i]
        end = self._boundaries[i + 1].at if i + 1 < len(self._boundaries) else None
        title = b.title or self._title(self._card_in(i))
        return Segment(f"seg-{b.at:.1f}", b.at, end, title, b.reason)

    def _recent(self, t: float) -> list[_Line]:
        return [ln for ln in self._lines.values() if abs(ln.start - t) <= self.options.card_join_s]

    def _join(self, line: _Line, card: str) -> None:
        line.card = card
        self._cards.setdefault(card, []).append(line)
        i = self._index_at(line.start)
        boundary = self._boundaries[i]
        current = self._card_in(i)
        if current is None:
            boundary.card = card
        elif current == card:
            boundary.tentative = boundary.tentative and line.priced  # its title came: a new product
        elif self._replaces(line, self._cards.get(current, [])):
            self._open(line.start, card)
        elif line.priced and self._reprices(line, self._cards.get(current, [])):
            # The lines of one frame arrive one by one: a new price may be the next product whose
            # title is still to come, or the same product at a new price. Open a segment now so the
            # old product never meets this price, and withdraw it if no title follows.
            self._open(line.start, card, tentative=True)

    def _reprices(self, line: _Line, old_card: list[_Line]) -> bool:
        return any(
            old.priced and old.box.iou(line.box) >= self.options.card_overlap and old.text != line.text for old in old_card
        )

    def _settle(self, now: float) -> None:
        """Withdraw tentative segments whose card got no new title within ``card_join_s``."""
        stale = [b for b in self._boundaries if b.tentative and now - b.at > self.options.card_join_s]
        for b in stale:
            self._boundaries.remove(b)

    def _card_in(self, i: int) -> str | None:
        """The card of segment i: the one that opened it, or the first card shown in it."""
        b = self._boundaries[i]
        return b.card

    def _replaces(self, line: _Line, old_card: list[_Line]) -> bool:
        """Does ``line`` take the place of a line of ``old_card`` with something else?"""
        titled = any(not ln.priced for ln in old_card)
        if line.priced and titled:
            return False  # a new price under the same title: same product
        for old in old_card:
            if old.priced != line.priced or old.box.iou(line.box) < self.options.card_overlap:
                continue
            if not _same_text(old.text, line.text, self.options.same_text):
                return True
        return False

    def _open(self, at: float, card: str, tentative: bool = False) -> None:
        near = next((b for b in self._boundaries if abs(b.at - at) < self.options.min_gap_s and b.reason == SPEECH), None)
        if near is not None:  # the host announced it a moment before: the card fixes the time
            self._boundaries.remove(near)
        pending = next((b for b in self._boundaries if b.tentative and abs(b.at - at) <= self.options.card_join_s), None)
        if pending is not None:  # the title that confirms a new price's segment
            pending.tentative, pending.card = tentative, card
            return
        bisect.insort(self._boundaries, _Boundary(at, CARD, card, tentative=tentative), key=lambda b: b.at)
        del self._boundaries[: max(0, len(self._boundaries) - self.options.max_boundaries)]

    def _title(self, card: str | None) -> str:
        lines = self._cards.get(card or "", [])
        titled = [ln.text for ln in lines if not ln.priced]
        return max(titled, key=len) if titled else (lines[0].text if lines else "")

    def _forget_old(self, now: float) -> None:
        """Keep only lines still useful: of cards of remembered segments, or recent ones."""
        if len(self._lines) < 512:
            return
        oldest = self._boundaries[0].at
        keep_cards = {b.card for b in self._boundaries if b.card}
        self._lines = {
            k: ln for k, ln in self._lines.items() if ln.card in keep_cards or ln.start >= max(oldest, now - 60.0)
        }
        self._cards = {c: v for c, v in self._cards.items() if c in keep_cards}


def _squash(text: str) -> str:
    return "".join(text.split()).casefold()


def _same_text(a: str, b: str, similarity: float) -> bool:
    """Alike, or one a fragment of the other (a title half hidden behind the host reads short)."""
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    if matcher.ratio() >= similarity:
        return True
    shorter = min(len(a), len(b))
    block = matcher.find_longest_match(0, len(a), 0, len(b))
    return shorter >= 2 and block.size >= similarity * shorter


def _touches(picture: Box, line: Box) -> bool:
    """A picture against a text line: overlapping, or at most the line's height apart in the
    line's column or band (OCR boxes hug the glyphs: the sticker or card around them adds about
    half a line on each side, and the photo sits on the card)."""
    reach = max(line.h, 1)
    vertical_gap = max(picture.y, line.y) - min(picture.y + picture.h, line.y + line.h)
    horizontal_gap = max(picture.x, line.x) - min(picture.x + picture.w, line.x + line.w)
    return (horizontal_gap < 0 and vertical_gap <= reach) or (vertical_gap < 0 and horizontal_gap <= reach)


def _near(a: Box, b: Box) -> bool:
    """Parts of one product card: in one band (title beside the price) or stacked (title over it)."""
    height = max(a.h, b.h, 1)
    vertical_gap = max(a.y, b.y) - min(a.y + a.h, b.y + b.h)
    horizontal_gap = max(a.x, b.x) - min(a.x + a.w, b.x + b.w)
    return vertical_gap <= height and horizontal_gap <= 8 * height
