"""Hallucination guard: what Whisper writes when nobody speaks, and how to spot it.

Whisper was trained on subtitles, so on silence, music or noise it writes subtitle credits
("请不吝点赞 订阅 转发 打赏支持明镜与点点栏目"), thanks-for-watching lines, or loops one token
until the token cap. VAD removes most non-speech before decoding; this removes what slips
through, per decoded segment, with the decoder's own scores and a phrase list (data file). It
also cuts the hot words Whisper copies out of its prompt after a hot word that was said
(:func:`cut_prompt_echo`), drops what it writes after the last word of a pass when that is
nothing but pieces of them (:func:`only_prompt_names`), and mends the commas it writes with a
wrong last byte (:func:`mend_commas`).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import yaml

from events import ConfigError

_DROP = re.compile(r"[\s\W_]+", re.UNICODE)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z0-9']+")
_MIN_UNITS_BEFORE_LOOP = 4  # speech units (Han characters, Latin words) kept before a loop that ends a segment
_ECHO_SEPARATORS = r"\s，,、。.；;：:"  # what may stand between two names of a prompt list
_ECHO_GAP = re.compile(f"[{_ECHO_SEPARATORS}]*")
_ECHO_SPLIT = re.compile(f"[{_ECHO_SEPARATORS}]+")
# A full-width letter or digit (U+FF10..FF5A, the same first two UTF-8 bytes as "，" U+FF0C) or
# an undecodable byte, alone or up to 4 together, right after a Han character: see mend_commas.
_BROKEN_COMMA = re.compile(r"(?<=[\u3400-\u9fff])[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\ufffd]{1,4}"
                           r"(?![\uff10-\uff19\uff21-\uff3a\uff41-\uff5a])")
_CLAUSE_MARK = re.compile(r"[，,。.！!？?；;：:、\s]")


@dataclass(frozen=True, slots=True)
class Phrases:
    """Known hallucinations, normalised (see :func:`normalise`)."""

    contains: tuple[str, ...]
    exact: frozenset[str]


@dataclass(frozen=True, slots=True)
class Verdict:
    """The text to keep (None: drop) and why it was dropped or changed."""

    text: str | None
    reason: str = ""


def normalise(text: str) -> str:
    """NFKC, lower case, no whitespace or punctuation: how phrases are compared."""
    return _DROP.sub("", unicodedata.normalize("NFKC", text).lower())


def load_phrases(path: str | None = None) -> Phrases:
    """Load the phrase list (default: asr/data/hallucinations.yaml) with yaml.safe_load."""
    source = Path(path) if path else Path(__file__).parent / "data" / "hallucinations.yaml"
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"ASR hallucination list {source} cannot be read ({exc}): fix or remove the file") from exc
    return Phrases(
        contains=tuple(n for n in (normalise(str(p)) for p in data.get("contains") or ()) if n),
        exact=frozenset(n for n in (normalise(str(p)) for p in data.get("exact") or ()) if n),
    )


def _loops(max_repeats: int) -> re.Pattern[str]:
    """A unit of 1-12 characters repeated more than ``max_repeats`` times in a row."""
    return re.compile(r"(.{1,12}?)\1{%d,}" % max_repeats, re.DOTALL)


def trim_loops(text: str, max_repeats: int) -> tuple[str, bool]:
    """Collapse a unit (1-12 chars) repeated more than ``max_repeats`` times in a row to one.

    Returns the text and whether the loops made up most of it (then it is hallucination).
    """
    pattern = _loops(max_repeats)
    looped = sum(len(m.group(0)) - len(m.group(1)) for m in pattern.finditer(text))
    trimmed = pattern.sub(r"\1", text)
    return trimmed, looped > len(text) / 2


def before_loops(text: str, max_repeats: int) -> str:
    """The text before its first loop (a unit repeated more than ``max_repeats`` times in a row)."""
    found = _loops(max_repeats).search(text)
    return text[: found.start()].rstrip() if found else text


def cut_prompt_echo(text: str, prompt_words: Sequence[str]) -> str:
    """``text`` without the prompt's names that Whisper wrote after another of them in the prompt's order.

    The hot-word prompt is a list of brand names (香奈儿，迪奥，古驰，...). When an utterance
    begins with one of them, Whisper base may go on with the list: "香奈儿的皮带我们这是原单"
    came back "香奈儿，迪奥，我们这是圆摊" in 19 of 30 TTS samples (的皮带, de pí dài, taken for the
    prompt's next name), "就是香奈儿家的高仿" as "就是香奈儿，迪的高房"; every such 迪奥 is a
    counterfeit alert for a brand nobody named.
    A name that follows the name before it in the prompt, or repeats it, with nothing but
    separators between them, is the copy: it is cut, with its separator; the first name stays
    (it was heard). The copy may repeat a name (a CI run kept "香奈儿，迪奥，", which only
    "香奈儿，迪奥，迪奥，" leaves when repeats are not cut); a repeated name says nothing the
    first did not, so cutting it loses nothing. A host who really lists two brands in the
    registry's order loses the second to this.
    """
    if len(prompt_words) < 2 or not text:
        return text
    pattern, successor = _echo_parts(tuple(prompt_words))
    cuts: list[tuple[int, int]] = []
    previous: re.Match[str] | None = None
    for found in pattern.finditer(text):
        if (previous is not None and found.group() in (previous.group(), successor.get(previous.group()))
                and _ECHO_GAP.fullmatch(text, previous.end(), found.start())):
            cuts.append((previous.end(), found.end()))
        previous = found
    for start, end in reversed(cuts):
        text = text[:start] + text[end:]
    return text


def mend_commas(text: str) -> str:
    """Whisper's full-width comma written with a wrong last byte, put back: 下单了４有需要 -> 下单了，有需要.

    Whisper base writes "，" (bytes EF BC 8C) as byte tokens and often gets the last one wrong:
    ４ ０ ２ １ Ｇ (EF BC 94, 90, 92, 91, A7) or an undecodable byte, after Han characters, where
    the speaker paused (95 of the 1,885 ASR records in bench/evidence, on single streams and
    packed windows alike). Left as they are, NFKC reads them as digits and letters: the clause
    mark is lost, so a negation reaches across it, and a stray digit stands against the next
    price (99元１99元拿走), for the price reader to guess away. Whisper writes the digits and
    letters it means in ASCII.
    """

    def mend(m: re.Match[str]) -> str:
        following = m.string[m.end():m.end() + 1]
        return "" if following and _CLAUSE_MARK.match(following) else "，"

    return _BROKEN_COMMA.sub(mend, text)


def only_prompt_names(text: str, prompt_words: Sequence[str]) -> bool:
    """Whether ``text`` is nothing but the prompt's names, or pieces of them (a name's start or end),
    between separators: "爱马仕，迪", "驰，迪奥，".

    What Whisper base writes for a tail window (the closing silence after a pass's last word,
    :data:`asr.model.TAIL_MAX_FRAMES`), where nobody speaks: a copy of the hot-word prompt, cut
    anywhere. :func:`cut_prompt_echo` keeps a copy's first name, which after real words was heard.
    """
    parts = [p for p in _ECHO_SPLIT.split(text) if p]
    return bool(parts) and bool(prompt_words) and all(
        any(w.startswith(p) or w.endswith(p) for w in prompt_words) for p in parts
    )


@functools.lru_cache(maxsize=8)
def _echo_parts(words: tuple[str, ...]) -> tuple[re.Pattern[str], dict[str, str]]:
    """One pattern finding any of the prompt's names (longest first), and each name's successor in the prompt."""
    alternatives = "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))
    return re.compile(alternatives), dict(zip(words, words[1:]))


def speech_units(text: str) -> int:
    """Han characters plus Latin words: a language-neutral measure of how much was said."""
    return len(_CJK.findall(text)) + len(_LATIN_WORD.findall(text))


def screen(
    text: str,
    *,
    duration_s: float,
    avg_logprob: float,
    no_speech_prob: float,
    compression_ratio: float,
    phrases: Phrases,
    log_prob_threshold: float,
    no_speech_threshold: float,
    compression_ratio_threshold: float,
    max_units_per_s: float,
    max_loop_repeats: int,
    prompt_words: Sequence[str] = (),
    tail_window: bool = False,
) -> Verdict:
    """Keep, trim or drop one decoded segment; ``prompt_words``: the hot-word prompt's names, in
    order; ``tail_window``: the segment was decoded from a tail window (the silence after the
    pass's last word)."""
    if no_speech_prob > no_speech_threshold and avg_logprob < log_prob_threshold:
        return Verdict(None, "no_speech")
    if avg_logprob < log_prob_threshold:
        return Verdict(None, "low_logprob")
    if compression_ratio > compression_ratio_threshold:
        return Verdict(None, "compression_ratio")
    raw = text.strip()
    if tail_window and only_prompt_names(raw, prompt_words):
        return Verdict(None, "prompt_echo")
    text, mostly_loop = trim_loops(raw, max_loop_repeats)
    changed = ""
    if mostly_loop:
        # Whisper's token-cap loop after real words (这个产品能治愈癌症ＧＧＧ…): the words were said,
        # the loop was not. A loop with hardly anything before it is hallucination through and through.
        text, changed = before_loops(raw, max_loop_repeats), "loop_cut"
        if speech_units(text) < _MIN_UNITS_BEFORE_LOOP:
            return Verdict(None, "repetition_loop")
    if (kept := cut_prompt_echo(text, prompt_words)) != text:
        text, changed = kept, ",".join(filter(None, (changed, "prompt_echo")))
    norm = normalise(text)
    if not norm:
        return Verdict(None, "empty")
    if norm in phrases.exact or any(p in norm for p in phrases.contains):
        return Verdict(None, "known_hallucination")
    if speech_units(text) > max(4.0, duration_s * max_units_per_s):
        return Verdict(None, "too_dense")
    return Verdict(mend_commas(text), changed)
