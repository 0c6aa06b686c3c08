"""Rules as plain data, and the evaluation of their conditions over a window of facts.

A *fact* is one thing a detector established in one stream: a lexicon term said or shown, a
brand (logo, name or nickname), a selling price, a fingerprint run. A condition tree decides
whether the facts of a window amount to a violation, and for which *subject*: a brand
("brand:chanel") or a protected content ("content:match-0412"). Subjects are how one rule yields
one alert per brand, and how "brand AND price below 30 % of that brand's lowest genuine price"
compares each price with the right brand.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Set
from dataclasses import dataclass, field
from typing import Protocol

from events import Action, Box, Brand, Category, Evidence, MatchStrength, Modality, Mode, Severity, live_source

TEXT_MODALITIES = (Modality.ASR, Modality.OCR)
BRAND_MODALITIES = (Modality.LOGO, Modality.OCR, Modality.ASR)


@dataclass(slots=True)
class Fact:
    """One matched item of one piece of evidence; ``media_end`` grows while it stays in view."""

    kind: str  # "term", "brand", "price", "fingerprint" or "context"
    group: str  # lexicon name for terms; the effect for context; "" otherwise
    value: str  # the term, brand id, price text or content id
    label: str  # what an alert's matched_terms shows
    modality: Modality
    media_start: float
    media_end: float
    confidence: float
    evidence: Evidence
    seq: int  # which evidence observation it came from (one AlertEvidence per seq)
    amount: float = 0.0
    currency: str = "CNY"
    strength: MatchStrength = MatchStrength.DETECTED
    weak: bool = False  # a short name or term only heard by sound: needs corroboration (engine, Terms)
    effect: str = ""  # the benign-context effect that cancels it for rules honouring it
    note: str = ""  # why, for explanations ("negation 不是")
    utterance: int = 0  # speech: the utterance it was said in, when Whisper cut one into pieces
    # A brand said after a demonstrative (这款香奈儿的皮带): the pinyin codes of the words after it,
    # which may name the product on the card (``Cards.card_named``); "" otherwise.
    said_of: str = ""

    @property
    def duration(self) -> float:
        return self.media_end - self.media_start

    @property
    def said_in(self) -> int:
        """What it was said or shown with: its utterance (speech cut into pieces), else its evidence."""
        return self.utterance or self.seq

    def relabelled(self, label: str) -> Fact:
        """A copy with another label (dataclasses.replace is ten times slower on the hot path)."""
        return Fact(
            self.kind, self.group, self.value, label, self.modality, self.media_start, self.media_end,
            self.confidence, self.evidence, self.seq, self.amount, self.currency, self.strength, self.weak,
            self.effect, self.note, self.utterance, self.said_of,
        )


@dataclass(frozen=True, slots=True)
class Result:
    """What a condition established: for any subject (``universal``) and/or per subject."""

    universal: tuple[Fact, ...] | None = None
    bound: Mapping[str, tuple[Fact, ...]] = field(default_factory=dict)

    @property
    def satisfied(self) -> bool:
        return self.universal is not None or bool(self.bound)


FAILED = Result()


class Cards(Protocol):
    """Which product card a piece of evidence is part of (``rules.segments.SegmentTimeline``)."""

    def card_of(self, observation_id: str) -> str | None:
        """The card a screen line belongs to."""
        ...

    def card_beside(self, box: Box, start: float, end: float) -> str | None:
        """The card of the product on sale that a picture (a logo) seen over [start, end] is part of."""
        ...

    def card_named(self, start: float, end: float, said_of: str) -> str | None:
        """The card on screen while [start, end] was said, if ``said_of`` (``Fact.said_of``) begins with its product."""
        ...


class _NoCards:
    def card_of(self, observation_id: str) -> str | None:
        return None

    def card_beside(self, box: Box, start: float, end: float) -> str | None:
        return None

    def card_named(self, start: float, end: float, said_of: str) -> str | None:
        return None


class Window:
    """The facts one rule may join: inside its window (or product segment) and above its thresholds.

    ``cards`` tells which product card a screen line or a logo belongs to (see rules.segments).
    """

    def __init__(self, facts: list[Fact], brands: Mapping[str, Brand], cards: Cards = _NoCards()) -> None:
        self.brands = brands
        self.cards = cards
        self._by_kind: dict[str, list[Fact]] = {}
        for f in facts:
            self._by_kind.setdefault(f.kind, []).append(f)

    def of(self, kind: str, modalities: tuple[Modality, ...]) -> list[Fact]:
        return [f for f in self._by_kind.get(kind, ()) if f.modality in modalities]


class Condition(Protocol):
    def evaluate(self, window: Window) -> Result: ...

    def kinds(self) -> frozenset[str]:
        """Kinds of facts that can change this condition's outcome (what triggers evaluation)."""
        ...

    def needs(self) -> frozenset[str]:
        """Kinds of facts that must be in the window for this condition to hold (cheap skip)."""
        ...

    def explain(self, window: Window, depth: int = 0) -> list[str]: ...


def _bound(prefix: str, facts: Iterable[Fact]) -> Result:
    """Facts grouped by subject ('brand:lv', 'content:match-0412')."""
    bound: dict[str, list[Fact]] = {}
    for f in facts:
        bound.setdefault(f"{prefix}:{f.value}", []).append(f)
    return Result(bound={k: tuple(v) for k, v in bound.items()})


def _line(depth: int, ok: bool, text: str) -> str:
    return f"{'  ' * depth}[{'x' if ok else ' '}] {text}"


def _labels(facts: tuple[Fact, ...] | list[Fact]) -> str:
    return ", ".join(dict.fromkeys(f"{f.label} [{f.modality.value} {f.media_start:.1f}s]" for f in facts))


@dataclass(frozen=True, slots=True)
class Terms:
    """Terms of the given lexicons said or shown; ``min_count`` distinct terms.

    ``corroborated_by``: a short term only heard by sound (weak: 治愈 written 置于, which also
    means "put on") counts only with another of the condition's terms or a term of these
    lexicons (a disease named) said or shown with it; those then join its evidence.
    Without it, a weak term counts as any other (a cue is joined with a brand anyway).
    """

    lexicons: tuple[str, ...]
    modalities: tuple[Modality, ...] = TEXT_MODALITIES
    min_count: int = 1
    corroborated_by: tuple[str, ...] = ()

    def evaluate(self, window: Window) -> Result:
        hits = [f for f in window.of("term", self.modalities) if f.group in self.lexicons]
        if self.corroborated_by and any(f.weak for f in hits):
            hits = self._corroborated(hits, window)
        return Result(universal=tuple(hits)) if len({f.value for f in hits if f.group in self.lexicons}) >= self.min_count else FAILED

    def _corroborated(self, hits: list[Fact], window: Window) -> list[Fact]:
        """Strong hits, weak ones said or shown with another of them, and the corroborating terms used."""
        others = [f for f in window.of("term", self.modalities) if f.group in self.corroborated_by]
        kept = [f for f in hits if not f.weak or any(
            o.said_in == f.said_in and o.value != f.value for o in (*hits, *others))]
        used = {f.said_in for f in kept if f.weak}
        return kept + [o for o in others if o.said_in in used]

    def kinds(self) -> frozenset[str]:
        return frozenset({"term"})

    needs = kinds

    def explain(self, window: Window, depth: int = 0) -> list[str]:
        result = self.evaluate(window)
        what = f"terms from {'/'.join(self.lexicons)}" + (f" (at least {self.min_count})" if self.min_count > 1 else "")
        lines = [_line(depth, result.satisfied, f"{what}: {_labels(result.universal or ()) or 'none'}")]
        kept = set(map(id, result.universal or ()))
        alone = [f for f in window.of("term", self.modalities) if f.group in self.lexicons and f.weak and id(f) not in kept]
        if self.corroborated_by and alone:
            lines.append(_line(depth + 1, False, f"heard only by sound, nothing from {'/'.join(self.corroborated_by)} "
                                                 f"or another term with it: {_labels(alone)}"))
        return lines


@dataclass(frozen=True, slots=True)
class BrandSeen:
    """A protected brand's logo, name or nickname (optionally only the listed brands)."""

    modalities: tuple[Modality, ...] = BRAND_MODALITIES
    brands: tuple[str, ...] = ()

    def evaluate(self, window: Window) -> Result:
        return _bound("brand", (f for f in window.of("brand", self.modalities) if not self.brands or f.value in self.brands))

    def kinds(self) -> frozenset[str]:
        return frozenset({"brand"})

    needs = kinds

    def explain(self, window: Window, depth: int = 0) -> list[str]:
        result = self.evaluate(window)
        found = _labels([f for facts in result.bound.values() for f in facts])
        return [_line(depth, result.satisfied, f"brand in {'/'.join(m.value for m in self.modalities)}: {found or 'none'}")]


EVIDENCE, PRODUCT, SEGMENT = "evidence", "product", "segment"


@dataclass(frozen=True, slots=True)
class PriceBelow:
    """A selling price below ``fraction`` of the lowest genuine price of a brand it is bound to.

    ``bind`` says how the price must be tied to the brand, so a cheap price of one product is
    never compared with a brand named for another: ``evidence`` (said in the same utterance or
    shown in the same screen line), ``product`` (also: on the same product card, said while
    the segment's card shows the brand, or on the card the brand was said of), ``segment``
    (anywhere in the same product segment).
    """

    fraction: float
    modalities: tuple[Modality, ...] = TEXT_MODALITIES
    bind: str = PRODUCT

    def evaluate(self, window: Window) -> Result:
        bound: dict[str, tuple[Fact, ...]] = {}
        prices = window.of("price", self.modalities)
        every_price = window.of("price", TEXT_MODALITIES)  # a card's own price counts whatever the rule compares
        brand_facts = window.of("brand", BRAND_MODALITIES)
        for brand_id in dict.fromkeys(f.value for f in brand_facts):
            brand = window.brands.get(brand_id)
            if brand is None or not brand.min_price or not prices:
                continue
            named = [b for b in brand_facts if b.value == brand_id]
            product = " ".join(b.evidence.text for b in named if b.modality in TEXT_MODALITIES)
            floors = {
                id(p): brand.min_price_for(f"{product} {p.evidence.text}") or 0.0
                for p in every_price
                if p.currency == brand.currency
            }
            cheap_ids = {id(p) for p in every_price if 0 < p.amount < self.fraction * floors.get(id(p), 0.0)}
            binding = self._binder(named, window, floors.keys() - cheap_ids)
            cheap = tuple(
                p.relabelled(f"price {p.amount:g} {p.currency} < {self.fraction:g} x {floors[id(p)]:g} ({brand_id}, {how})")
                for p in prices
                if id(p) in cheap_ids
                for how in [binding(p)]
                if how
            )
            if cheap:
                bound[f"brand:{brand_id}"] = cheap
        return Result(bound=bound)

    def _binder(self, named: list[Fact], window: Window, not_cheap: Set[int]) -> Callable[[Fact], str]:
        """How a price is tied to one of a brand's facts ('' when it is not).

        ``product``: the price and the brand in one text; on one product card (a logo on the
        card is part of it); the price said while the segment's card shows the brand; or the
        card's price when the brand was said of the product on it, a demonstrative before the
        brand and the card's product right after (这款香奈儿的皮带 while the card reads 新款皮带
        ¥69). A brand only said otherwise, or a logo seen elsewhere, does not name the product
        on the card: hosts answer viewers' questions about their perfume, compare with a brand,
        wear one on a shirt.

        A card that shows its own selling price, and not a cheap one (``not_cheap``: the ids of
        such price facts), says what that product costs: a number said beside it without the
        brand is then something else (a coupon, a deposit, an instalment, a discount word
        Whisper misheard), not that product's price. Said with the brand, it still binds (same
        text); a card showing only a list price (专柜价) does not say what the buyer pays.
        """
        said = {b.said_in for b in named}
        shown = {window.cards.card_of(b.evidence.observation_id) for b in named if b.modality is Modality.OCR}
        shown |= {window.cards.card_beside(b.evidence.box, b.media_start, b.media_end)
                  for b in named if b.modality is Modality.LOGO and b.evidence.box is not None}
        shown -= {None}
        said_of = {window.cards.card_named(b.media_start, b.media_end, b.said_of)
                   for b in named if b.modality is Modality.ASR and b.said_of} - {None} - shown
        priced_cards = {
            window.cards.card_of(p.evidence.observation_id)
            for p in window.of("price", (Modality.OCR,))
            if id(p) in not_cheap
        }
        unpriced_cards = shown - priced_cards

        def binding(price: Fact) -> str:
            if price.said_in in said:
                return "same text"
            if self.bind == EVIDENCE:
                return ""
            if self.bind == SEGMENT:
                return "same segment"
            if price.modality is Modality.OCR and (shown or said_of):
                card = window.cards.card_of(price.evidence.observation_id)
                if card in shown:
                    return "same product card"
                if card in said_of:
                    return "said of the product on its card"
            if price.modality is Modality.ASR and unpriced_cards:
                return "said while the card shows the brand"
            return ""

        return binding

    def kinds(self) -> frozenset[str]:
        return frozenset({"price", "brand"})

    needs = kinds

    def explain(self, window: Window, depth: int = 0) -> list[str]:
        result = self.evaluate(window)
        seen = _labels(window.of("price", self.modalities))
        found = _labels([f for facts in result.bound.values() for f in facts])
        text = f"price below {self.fraction:g} x brand's lowest genuine price, bound to it ({self.bind}): {found or 'none'}"
        return [_line(depth, result.satisfied, text + (f" (prices seen: {seen})" if seen and not found else ""))]


@dataclass(frozen=True, slots=True)
class FingerprintRun:
    """Protected content matched continuously for at least ``min_duration_s``, by ``kind``:
    the picture (``video``), the sound (``audio``) or either (``any``). ``live`` picks streams
    protected while on air (True), the library (False) or both (None)."""

    min_duration_s: float
    contents: tuple[str, ...] = ()
    kind: str = "any"
    live: bool | None = None

    def evaluate(self, window: Window) -> Result:
        runs = [f for f in window.of("fingerprint", (Modality.FINGERPRINT,)) if self.kind in ("any", f.group)
                and (self.live is None or (live_source(f.value) is not None) == self.live)]
        return _bound("content", (f for f in runs if f.duration >= self.min_duration_s and (not self.contents or f.value in self.contents)))

    def kinds(self) -> frozenset[str]:
        return frozenset({"fingerprint"})

    needs = kinds

    def explain(self, window: Window, depth: int = 0) -> list[str]:
        runs = ", ".join(f"{f.value} {f.group} {f.duration:.1f}s" for f in window.of("fingerprint", (Modality.FINGERPRINT,)))
        ok = self.evaluate(window).satisfied
        return [_line(depth, ok, f"fingerprint run ({self.kind}) >= {self.min_duration_s:g}s: {runs or 'none'}")]


@dataclass(frozen=True, slots=True)
class AllOf:
    children: tuple[Condition, ...]

    def evaluate(self, window: Window) -> Result:
        results = [c.evaluate(window) for c in self.children]
        if not all(r.satisfied for r in results):
            return FAILED
        bound_only = [r for r in results if r.universal is None]
        if not bound_only:
            return Result(universal=tuple(f for r in results for f in r.universal or ()))
        subjects = set.intersection(*(set(r.bound) for r in bound_only))
        return Result(bound={s: tuple(f for r in results for f in (r.universal or ()) + r.bound.get(s, ())) for s in sorted(subjects)})

    def kinds(self) -> frozenset[str]:
        return frozenset().union(*(c.kinds() for c in self.children))

    def needs(self) -> frozenset[str]:
        return frozenset().union(*(c.needs() for c in self.children))

    def explain(self, window: Window, depth: int = 0) -> list[str]:
        head = _line(depth, self.evaluate(window).satisfied, "all of:")
        return [head, *(line for c in self.children for line in c.explain(window, depth + 1))]


@dataclass(frozen=True, slots=True)
class AnyOf:
    children: tuple[Condition, ...]

    def evaluate(self, window: Window) -> Result:
        results = [c.evaluate(window) for c in self.children]
        universal = [r.universal for r in results if r.universal is not None]
        bound: dict[str, tuple[Fact, ...]] = {}
        for r in results:
            for subject, facts in r.bound.items():
                bound[subject] = bound.get(subject, ()) + facts
        return Result(universal=tuple(f for u in universal for f in u) if universal else None, bound=bound)

    def kinds(self) -> frozenset[str]:
        return frozenset().union(*(c.kinds() for c in self.children))

    def needs(self) -> frozenset[str]:
        return frozenset.intersection(*(c.needs() for c in self.children))

    def explain(self, window: Window, depth: int = 0) -> list[str]:
        head = _line(depth, self.evaluate(window).satisfied, "any of:")
        return [head, *(line for c in self.children for line in c.explain(window, depth + 1))]


@dataclass(frozen=True, slots=True)
class Not:
    child: Condition

    def evaluate(self, window: Window) -> Result:
        return FAILED if self.child.evaluate(window).satisfied else Result(universal=())

    def kinds(self) -> frozenset[str]:
        return self.child.kinds()

    def needs(self) -> frozenset[str]:
        return frozenset()

    def explain(self, window: Window, depth: int = 0) -> list[str]:
        return [_line(depth, self.evaluate(window).satisfied, "none of:"), *self.child.explain(window, depth + 1)]


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule file's rule. ``source`` is 'file:line' for messages."""

    id: str
    version: int
    category: Category
    severity: Severity
    description: str
    condition: Condition
    window_s: float = 30.0
    cooldown_s: float = 300.0
    mode: Mode = Mode.ENFORCE
    action: Action = Action.REVIEW
    min_confidence: Mapping[Modality, float] = field(default_factory=dict)
    title: str = ""
    source: str = ""
    scope: str = "window"  # "segment": facts join only within one product segment
    benign_context: frozenset[str] = frozenset()  # context effects this rule honours
    takedown_confidence: float = 0.8  # below it a takedown rule's alert goes to review

    def window_facts(self, facts: list[Fact], now: float, default_confidence: Mapping[Modality, float]) -> list[Fact]:
        """Facts inside this rule's window and above its per-modality confidence thresholds."""
        since = now - self.window_s
        return [
            f
            for f in facts
            if f.media_end >= since and f.confidence >= self.min_confidence.get(f.modality, default_confidence.get(f.modality, 0.0))
        ]

    def references(self) -> frozenset[str]:
        """The lexicons this rule's conditions name, and "price" if it compares prices."""
        return _references(self.condition)

    def matches(self, window: Window) -> dict[str | None, tuple[Fact, ...]]:
        """Subject -> supporting facts (subject None: the rule binds no brand or content)."""
        result = self.condition.evaluate(window)
        if result.bound:
            extra = result.universal or ()
            return {s: extra + facts for s, facts in result.bound.items()}
        if result.universal:
            return {None: result.universal}
        return {}


def _references(condition: Condition) -> frozenset[str]:
    if isinstance(condition, Terms):
        return frozenset(condition.lexicons) | frozenset(condition.corroborated_by)
    if isinstance(condition, PriceBelow):
        return frozenset({"price"})
    if isinstance(condition, (AllOf, AnyOf)):
        return frozenset().union(*(_references(c) for c in condition.children))
    if isinstance(condition, Not):
        return _references(condition.child)
    return frozenset()
