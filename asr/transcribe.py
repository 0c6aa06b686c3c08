"""One Whisper pass over the waiting speech of one or several streams, turned into Evidence.

Utterances waiting in one stream are concatenated into one window (like faster-whisper's own
VAD mode does), because Whisper pays for a 30 s window whatever the audio length (unless
``fit_window``: ``asr.model.fitted_window``): batching is what lets a worker catch up after
falling behind. The batches of several streams can share
the window too (``AsrOptions.pack_streams``, off by default), ``STREAM_GAP_S`` of silence apart.
Whisper then runs with word timestamps, and every word goes back to
the stream whose piece of the window holds it. Times are mapped back to media time.

An utterance cut inside speech (``forced``) is decoded with word timestamps; only words
ending ``carry_guard_s`` before the cut are committed, and the audio after the last committed
word is carried into the next pass, so a word at the cut is neither lost nor doubled.
"""

from __future__ import annotations

import bisect
import math
import time
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import numpy as np

from asr.guard import Phrases, screen
from asr.model import TAIL_MAX_FRAMES
from asr.options import AsrOptions
from events import Evidence, Modality

SAMPLE_RATE = 16000
HOP_SAMPLES = 160  # one log-mel frame: faster-whisper's seek counts these
CARRY_GUARD_S = 1.0
STREAM_GAP_S = 1.0  # silence between the pieces of two streams in one window: Whisper's words stay on their side
PROMPT_SEPARATOR = "，"  # between the hot-word prompt's names
WHISPER_TEXT_TOKENS = 448  # what Whisper's decoder reads: the prompt and the tokens it writes


@dataclass(frozen=True, slots=True)
class Utterance:
    """Speech of one stream to transcribe; ``end_wall`` is when its last sample arrived."""

    stream_id: str
    media_start: float
    samples: np.ndarray
    end_wall: float
    forced: bool = False
    speech_prob: float = 1.0

    @property
    def duration(self) -> float:
        return len(self.samples) / SAMPLE_RATE

    @property
    def media_end(self) -> float:
        return self.media_start + self.duration


@dataclass(frozen=True, slots=True)
class Batch:
    """The speech of one stream taken for a pass: utterances in media order; ``final``: commit all of it."""

    utterances: tuple[Utterance, ...]
    final: bool = False

    @property
    def duration(self) -> float:
        return sum(u.duration for u in self.utterances)

    @property
    def hold_back(self) -> bool:
        """Ends at a forced cut mid-speech: the words at the cut wait for the audio after it."""
        return self.utterances[-1].forced and not self.final


@dataclass(frozen=True, slots=True)
class PassResult:
    evidence: list[Evidence]
    carry: Utterance | None
    dropped: dict[str, int]
    heard: bool  # Whisper wrote words in the batch's piece (kept or dropped by the guard)


def prompt_hotwords(names: Sequence[str], language: str | None, max_chars: int) -> str | None:
    """The hot-word prompt: for Mandarin, only the names written in Chinese characters.

    Whisper copies prompt words written in another script into speech that merely sounds like
    them (枸杞 gǒuqǐ written "Gucci", an unclear instalment price written "Prada"); a Latin name a
    host really says is still written by Whisper without the prompt, and the rules match it.
    """
    kept = (n.strip() for n in names if n.strip())
    if (language or "").startswith("zh"):
        kept = (n for n in kept if any("\u4e00" <= ch <= "\u9fff" for ch in n))
    return PROMPT_SEPARATOR.join(dict.fromkeys(kept))[:max_chars] or None


class Transcriber:
    """Decoding settings derived once from the options; ``run`` does one pass."""

    def __init__(self, options: AsrOptions, model: Any, phrases: Phrases) -> None:
        self._o = options
        self._model = model
        self._phrases = phrases
        self._t2s = None
        if (options.language or "zh").startswith("zh"):
            import opencc

            self._t2s = opencc.OpenCC("t2s")
        self._hotwords = prompt_hotwords(options.hotwords, options.language, options.max_hotwords_chars)
        self._prompt_words = tuple(self._hotwords.split(PROMPT_SEPARATOR)) if self._hotwords else ()
        self._max_new_tokens = new_token_budget(model, options.max_tokens_per_window, self._hotwords, options.initial_prompt)

    def run(self, batches: Sequence[Batch], *, degraded: bool) -> list[PassResult]:
        """Transcribe ``batches`` (one per stream) in one window; one result per batch, in order."""
        o = self._o
        pieces, audio = _layout(batches)
        by_words = len(pieces) > 1 or pieces[0].batch.hold_back
        self._model.fit_window = o.fit_window or (degraded and o.degraded_fit_window)  # read by its encoder
        self._model.fit_tail_window = o.fit_tail_window
        self._model.brief_tail = o.brief_tail
        segments, info = self._model.transcribe(
            audio,
            language=o.language,
            beam_size=o.degraded_beam_size if degraded else o.beam_size,
            temperature=list(o.temperatures[:1] if degraded else o.temperatures),
            compression_ratio_threshold=o.compression_ratio_threshold,
            log_prob_threshold=o.log_prob_threshold,
            no_speech_threshold=o.no_speech_threshold,
            condition_on_previous_text=False,  # also: no text of one stream carries into another's
            initial_prompt=o.initial_prompt,
            hotwords=self._hotwords,
            max_new_tokens=self._max_new_tokens,
            word_timestamps=by_words,
            vad_filter=False,
        )
        frames = len(audio) // HOP_SAMPLES
        for seg in segments:
            tail = 0 < seg.seek and frames - seg.seek <= TAIL_MAX_FRAMES  # decoded after the pass's last word
            for piece, text, start, end in _split(seg, pieces, by_words):
                piece.heard = True
                piece.committed_until = max(piece.committed_until, end)
                self._keep(piece, text, start, end, seg, info.language, degraded, tail)
        return [PassResult(p.evidence, _carry(p) if p.batch.hold_back else None, p.dropped, p.heard) for p in pieces]

    def _keep(self, piece: _Piece, text: str, start: float, end: float, seg: Any, language: str, degraded: bool,
              tail: bool) -> None:
        """Screen one stream's part of a decoded segment (each stream on its own) and keep it as evidence."""
        o = self._o
        if self._t2s is not None and language.startswith("zh"):
            text = self._t2s.convert(text)
        verdict = screen(
            text,
            duration_s=max(end - start, 0.1),
            avg_logprob=seg.avg_logprob,
            no_speech_prob=seg.no_speech_prob,
            compression_ratio=seg.compression_ratio,
            phrases=self._phrases,
            log_prob_threshold=o.log_prob_threshold,
            no_speech_threshold=o.no_speech_threshold,
            compression_ratio_threshold=o.compression_ratio_threshold,
            max_units_per_s=o.max_chars_per_s,
            max_loop_repeats=o.max_loop_repeats,
            prompt_words=self._prompt_words,
            tail_window=tail,
        )
        if verdict.text is None:
            piece.dropped[verdict.reason] = piece.dropped.get(verdict.reason, 0) + 1
            return
        ev = _evidence(piece, verdict.text, start, end, seg, language, degraded)
        piece.evidence.append(replace(ev, details={**ev.details, "guard": verdict.reason}) if verdict.reason else ev)


def new_token_budget(model: Any, cap: int, hotwords: str | None, initial_prompt: str | None) -> int:
    """``cap``, or fewer if the prompt (hot words and initial prompt, as faster-whisper lays it out
    for a pass's first window) leaves fewer of :data:`WHISPER_TEXT_TOKENS`: faster-whisper refuses
    to decode a window whose prompt and budget do not fit. A stand-in model without a tokenizer
    gets ``cap``."""
    tokenizer = getattr(model, "hf_tokenizer", None)
    if tokenizer is None:
        return cap

    def count(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    prompt = (1 + min(count(" " + hotwords), WHISPER_TEXT_TOKENS // 2 - 1) if hotwords else 0) + 4  # sot_prev, sot sequence
    prompt += min(count(initial_prompt), WHISPER_TEXT_TOKENS // 2 - 1) if initial_prompt else 0
    return max(1, min(cap, WHISPER_TEXT_TOKENS - prompt))


@dataclass(slots=True)
class _Piece:
    """One stream's batch inside the window (times in window seconds) and what the pass gave it."""

    batch: Batch
    starts: list[float]  # where each utterance starts
    limit: float  # words ending later are held back (inf: commit all)
    committed_until: float
    evidence: list[Evidence] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    heard: bool = False


def _layout(batches: Sequence[Batch]) -> tuple[list[_Piece], np.ndarray]:
    """One window of audio: each batch's utterances back to back, ``STREAM_GAP_S`` of silence between batches."""
    gap = np.zeros(int(STREAM_GAP_S * SAMPLE_RATE), dtype=np.float32)
    pieces: list[_Piece] = []
    parts: list[np.ndarray] = []
    at = 0  # samples
    for batch in batches:
        if parts:
            parts.append(gap)
            at += len(gap)
        starts = []
        for utt in batch.utterances:
            starts.append(at / SAMPLE_RATE)
            parts.append(utt.samples)
            at += len(utt.samples)
        limit = at / SAMPLE_RATE - CARRY_GUARD_S if batch.hold_back else math.inf
        pieces.append(_Piece(batch, starts, limit, committed_until=starts[0]))
    return pieces, np.concatenate(parts).astype(np.float32, copy=False)


def _split(seg: Any, pieces: list[_Piece], by_words: bool) -> list[tuple[_Piece, str, float, float]]:
    """A decoded segment as (piece, text, start, end) per piece it holds words of (held-back words left out).

    A word belongs to the piece its middle falls in (a word in a gap: the nearer piece), so a
    segment Whisper ran across two streams' pieces is split between them.
    """
    if not by_words:
        return [(pieces[0], seg.text, seg.start, seg.end)]
    bounds = [p.starts[0] - STREAM_GAP_S / 2 for p in pieces]
    words: dict[int, list[Any]] = {}
    for word in seg.words or ():
        k = max(bisect.bisect_right(bounds, (word.start + word.end) / 2) - 1, 0)
        if word.end <= pieces[k].limit:
            words.setdefault(k, []).append(word)
    return [(pieces[k], "".join(w.word for w in ws), ws[0].start, ws[-1].end) for k, ws in sorted(words.items())]


def _evidence(piece: _Piece, text: str, start: float, end: float, seg: Any, language: str, degraded: bool) -> Evidence:
    media_start = _to_media(piece, start, end=False)
    media_end = max(media_start, _to_media(piece, end, end=True))
    now = time.time()
    # latency from the end of the utterance the text belongs to (when its audio was complete)
    utts = piece.batch.utterances
    owner = utts[min(max(bisect.bisect_right(piece.starts, end - 1e-3) - 1, 0), len(utts) - 1)]
    sid = owner.stream_id
    return Evidence(
        stream_id=sid,
        modality=Modality.ASR,
        media_start=round(media_start, 3),
        media_end=round(media_end, 3),
        text=text,
        confidence=round(float(min(1.0, math.exp(seg.avg_logprob)) * (1.0 - seg.no_speech_prob)), 4),
        wall_time=now,
        language=language,
        observation_id=f"asr:{sid}:{media_start:.2f}",
        details={
            "avg_logprob": round(float(seg.avg_logprob), 4),
            "no_speech_prob": round(float(seg.no_speech_prob), 4),
            "compression_ratio": round(float(seg.compression_ratio), 3),
            "temperature": seg.temperature,
            "degraded": degraded,
            "latency_s": round(max(0.0, now - owner.end_wall), 3),
        },
    )


def _to_media(piece: _Piece, t: float, *, end: bool) -> float:
    """Window time -> media time of the piece (an end time at a boundary belongs to the earlier
    utterance; a time in a gap is clamped to the piece)."""
    utts, starts = piece.batch.utterances, piece.starts
    k = min(max(bisect.bisect_right(starts, t - (1e-3 if end else 0.0)) - 1, 0), len(utts) - 1)
    return utts[k].media_start + min(max(t - starts[k], 0.0), utts[k].duration)


def _carry(piece: _Piece) -> Utterance | None:
    """The audio of the piece's last utterance after its last committed word (None if nothing is left)."""
    last = piece.batch.utterances[-1]
    skip = int(round(max(0.0, _to_media(piece, piece.committed_until, end=True) - last.media_start) * SAMPLE_RATE))
    if skip >= len(last.samples):
        return None
    return replace(last, media_start=last.media_start + skip / SAMPLE_RATE, samples=last.samples[skip:], forced=False)
