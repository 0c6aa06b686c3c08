"""Hallucination guard: what Whisper writes when nobody speaks, and how to spot it.

Whisper was trained on subtitles, so on silence, music or noise it writes subtitle credits
("请不吝点赞 订阅 转发 打赏支持明镜与点点栏目"), thanks-for-watching lines, or loops one token
until the token cap. VAD removes most non-speech before decoding; this removes what slips
through, per decoded segment, with the decoder's own scores and a phrase list (data file).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import yaml

from events import ConfigError

_DROP = re.compile(r"[\s\W_]+", re.UNICODE)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z0-9']+")
_MIN_UNITS_BEFORE_LOOP = 4  # speech units (Han characters, Latin words) kept before a loop that ends a segment


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
) -> Verdict:
    """Keep, trim or drop one decoded segment."""
    if no_speech_prob > no_speech_threshold and avg_logprob < log_prob_threshold:
        return Verdict(None, "no_speech")
    if avg_logprob < log_prob_threshold:
        return Verdict(None, "low_logprob")
    if compression_ratio > compression_ratio_threshold:
        return Verdict(None, "compression_ratio")
    raw = text.strip()
    text, mostly_loop = trim_loops(raw, max_loop_repeats)
    changed = ""
    if mostly_loop:
        # Whisper's token-cap loop after real words (这个产品能治愈癌症ＧＧＧ…): the words were said,
        # the loop was not. A loop with hardly anything before it is hallucination through and through.
        text, changed = before_loops(raw, max_loop_repeats), "loop_cut"
        if speech_units(text) < _MIN_UNITS_BEFORE_LOOP:
            return Verdict(None, "repetition_loop")
    norm = normalise(text)
    if not norm:
        return Verdict(None, "empty")
    if norm in phrases.exact or any(p in norm for p in phrases.contains):
        return Verdict(None, "known_hallucination")
    if speech_units(text) > max(4.0, duration_s * max_units_per_s):
        return Verdict(None, "too_dense")
    return Verdict(text, changed)
