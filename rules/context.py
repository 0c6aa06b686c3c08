"""Benign context in one text: what a negation, a comparison or a story does to the hits near it.

"我们不卖高仿" names a counterfeit cue to deny it; "比香奈儿的还好用" names a brand to compare
with it (comparative advertising: a matter of its own, not counterfeiting); "古驰创立于1921年"
tells a brand's story. Context lexicons (``role: context``) list such words, each with an
``effect``, and the lexicons (or ``brands``) they act on (``applies_to``):

- ``negation``: acts on the first hit after it, within ``scope`` characters and the same clause;
- ``denial``: a negated verb of dealing (不卖, 不碰, 不做) acts like a negation on the hit after
  it, and also on every cue before it within ``scope`` (精仿和渠道货我们都不卖: hosts front the
  goods they deny), across a clause mark too when the denial ends its clause (原单，货也一律不卖).
  Only cues, never a brand, are denied from behind, and the copula is not a denial:
  高仿的古驰，不是正品 confesses rather than denies;
- ``comparison``: acts on the last hit before it (比 *香奈儿* 还好用), within ``scope``;
- ``mention``: acts on every hit of the text (a brand in a story is not the product on sale);
- ``other_party``: names someone other than the seller (别家, 同行): a negation or denial it is
  the subject of is theirs, and denies nothing of the seller's (原单货，别家都不卖 boasts).

``authorised`` and ``secondhand`` act on a whole product segment, not on hits: the engine turns
them into facts of their own. A rule applies only the effects it lists in ``benign_context``,
and explanations show every effect found.
"""

from __future__ import annotations

from rules.lexicon import BRAND, CONTEXT, TERM, Hit, Lexicon
from rules.normalize import Normalized

NEGATION, DENIAL, COMPARISON, MENTION, OTHER_PARTY = "negation", "denial", "comparison", "mention", "other_party"
_SUBJECT_GAP = 2  # characters between a subject and its negation: an adverb (都, 也, 从来, 一律)
_PARTICLES = frozenset("的了哈啊呀哦啦呢吧嘛")  # what may end a clause after its verb (我们不卖的哈)
SEGMENT_EFFECTS = frozenset({"authorised", "secondhand"})


class ContextReader:
    """The positional effects of the context lexicons of one rule set (immutable)."""

    def __init__(self, lexicons: tuple[Lexicon, ...]) -> None:
        self._lexicons = {lex.name: lex for lex in lexicons if lex.role == "context"}

    def effect_on(self, hit: Hit, hits: tuple[Hit, ...], norm: Normalized) -> tuple[str, str]:
        """(effect, note) of the context acting on ``hit`` among the ``hits`` of the text ``norm``.

        A negation, denial or comparison does not reach across a clause break (不是我说，这高仿做得真好
        does not deny anything), except a denial that ends its clause: its object is the topic
        fronted before it, which writing and Whisper alike set off with a comma (原单，货也一律不卖).
        A context word heard only by sound (不是 written 不实) acts only on a hit heard by sound:
        the cue 高仿 written 高访 is a guess at a sound, and so is the negation before it.
        """
        for c in hits:
            lex = self._lexicons.get(c.group) if c.kind == CONTEXT else None
            if lex is None or _target(hit) not in lex.applies_to or (c.via != "text" and hit.via == "text"):
                continue
            if c.reason in (NEGATION, DENIAL) and _of_another_party(c, hits, norm):
                continue
            if c.reason == MENTION:
                return MENTION, f"{MENTION} ({c.label})"
            crosses = any(min(c.start, hit.start) < b <= max(c.start, hit.start) for b in norm.breaks)
            targets = [h for h in hits if h.kind in (TERM, BRAND) and _target(h) in lex.applies_to]
            if c.reason in (NEGATION, DENIAL) and not crosses and c.end <= hit.start <= c.end + lex.scope:
                first = min((h.start for h in targets if h.start >= c.end), default=None)
                if hit.start == first:
                    return c.reason, f"{c.reason} ({c.label})"
            if (c.reason == DENIAL and hit.kind == TERM and c.start - lex.scope <= hit.end <= c.start
                    and (not crosses or _ends_clause(norm, c.end))):
                return DENIAL, f"{DENIAL} ({c.label}, after it)"
            if c.reason == COMPARISON and not crosses and hit.end <= c.start <= hit.end + lex.scope:
                last = max((h.end for h in targets if h.end <= c.start), default=None)
                if hit.end == last:
                    return COMPARISON, f"{COMPARISON} ({c.label})"
        return "", ""


def _of_another_party(c: Hit, hits: tuple[Hit, ...], norm: Normalized) -> bool:
    """Another party (别家, 同行) is the subject of ``c``: named just before it in its clause, at most
    an adverb apart (别家都不卖, 同行从来不做). Named further back it is rather part of the
    object (外面那些高仿我们从来不碰: the seller denies)."""
    return any(h.kind == CONTEXT and h.reason == OTHER_PARTY and 0 <= c.start - h.end <= _SUBJECT_GAP
               and not any(h.end < b <= c.start for b in norm.breaks) for h in hits)


def _ends_clause(norm: Normalized, end: int) -> bool:
    """Nothing but sentence particles between ``end`` and the next clause break or the text's end."""
    stop = min((b for b in norm.breaks if b >= end), default=len(norm.compact))
    return all(ch in _PARTICLES for ch in norm.compact[end:stop])


def _target(hit: Hit) -> str:
    return "brands" if hit.kind == BRAND else hit.group
