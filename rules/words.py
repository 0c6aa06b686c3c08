"""Ordinary words: is a span of text a word people say anyway, rather than a name?

A brand nickname matched only by its sound (迪家 heard in "全网最低价", dī jià) is a false
alarm waiting to happen when the sound is an everyday word. Which words are everyday is a
question for a real dictionary, not a hand-written list: jieba's ships ~350,000 Mandarin words
with their corpus counts.

A span is ordinary when the dictionary's segmentation of the text (maximum probability, no
HMM guessing) cuts through it — a dictionary word overlaps it and runs past its edge, as 最低价
does around 低价 — or when it is itself a word counted at least ``min_count`` times (低价: 436
in 60 million; a nickname such as 爱马 counts 19). A span only heard like the name is ordinary
when it is any dictionary word at all (底价, 41): a nickname is never what a homophone says.
"""

from __future__ import annotations

import logging
import threading
from functools import cached_property

log = logging.getLogger(__name__)


class WordDictionary:
    """jieba's dictionary, loaded on first use (~0.8 s); thread-safe."""

    def __init__(self, min_count: int = 100) -> None:
        self.min_count = min_count
        self._lock = threading.Lock()

    @cached_property
    def _tokenizer(self):  # type: ignore[no-untyped-def]
        import jieba

        jieba.setLogLevel(logging.WARNING)
        with self._lock:
            tokenizer = jieba.Tokenizer()
            tokenizer.initialize()
        return tokenizer

    def ordinary(self, text: str, start: int, end: int, *, heard: bool = False) -> str | None:
        """The everyday word that ``text[start:end]`` is or is part of, or None.

        ``heard``: the span only sounds like the name (a homophone). Then any dictionary word is
        everyday: the names and nicknames themselves (迪家, 古驰) are not what the span says.
        """
        span = text[start:end]
        if not span:
            return None
        count = self._tokenizer.FREQ.get(span) or 0
        if count >= (1 if heard else self.min_count):
            return span
        at = 0
        for token in self._tokenizer.lcut(text, HMM=False):
            token_end = at + len(token)
            crosses = (at < start < token_end) or (at < end < token_end)
            if crosses and len(token) > 1 and (self._tokenizer.FREQ.get(token) or 0) > 0:
                return str(token)
            at = token_end
        return None
