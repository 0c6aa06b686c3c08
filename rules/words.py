"""Ordinary words: is a span of text a word people say anyway, rather than a name?

A brand nickname matched only by its sound (迪家 heard in "全网最低价", dī jià) is a false
alarm waiting to happen when the sound is an everyday word. Which words are everyday is a
question for a real dictionary, not a hand-written list: jieba's ships ~350,000 Mandarin words
with their corpus counts.

A span is ordinary when the dictionary's segmentation of the text (maximum probability, no
HMM guessing) cuts through it — a dictionary word overlaps it and runs past its edge, as 最低价
does around 低价 — or when it is itself a word counted at least ``min_count`` times (低价: 436
in 60 million; a nickname such as 爱马 counts 19). A span only heard like the name is ordinary
from a lower count, ``heard_min_count`` (底价, 41; 鼓气, 24, in 鼓起勇气 as Whisper wrote it):
a word people say is likelier than a nickname that sounds the same. Not from any count at
all: Whisper base writes Chanel's 小香 as 小箱 (a small box, 3 in 60 million) every time (10 of
10 TTS samples of counterfeit sentences of the tuning brands, 2026-12-01), because it writes the
likeliest characters for a sound, and a word that rare is no more what a host says than the
nickname is. Such a span is still only a homophone: it needs corroboration (rules.engine).
"""

from __future__ import annotations

import logging
import threading
from functools import cached_property

log = logging.getLogger(__name__)


class WordDictionary:
    """jieba's dictionary, loaded on first use (~0.8 s); thread-safe."""

    def __init__(self, min_count: int = 100, heard_min_count: int = 10) -> None:
        self.min_count = min_count
        self.heard_min_count = heard_min_count
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

        ``heard``: the span only sounds like the name (a homophone); then a word counted
        ``heard_min_count`` times is everyday.
        """
        span = text[start:end]
        if not span:
            return None
        count = self._tokenizer.FREQ.get(span) or 0
        if count >= (self.heard_min_count if heard else self.min_count):
            return span
        return self._word_over(text, start, end, whole=False)

    def inside(self, text: str, start: int, end: int) -> str | None:
        """The longer dictionary word of the segmentation of ``text`` that holds all of ``text[start:end]``, or None.

        高房 in 高房价 is part of what was said. A word over one edge only is not enough for
        speech: Whisper writes 是复刻版 as 师傅客板, and 师傅 is its own spelling, not the host's word.
        """
        return self._word_over(text, start, end, whole=True)

    def _word_over(self, text: str, start: int, end: int, *, whole: bool) -> str | None:
        """A word of the segmentation (maximum probability, no HMM) over the span: holding all of it or over an edge."""
        if start >= end:
            return None
        at = 0
        for token in self._tokenizer.lcut(text, HMM=False):
            token_end = at + len(token)
            over = (at <= start and end <= token_end and token_end - at > end - start) if whole else (
                (at < start < token_end) or (at < end < token_end))
            if over and len(token) > 1 and (self._tokenizer.FREQ.get(token) or 0) > 0:
                return str(token)
            at = token_end
        return None
