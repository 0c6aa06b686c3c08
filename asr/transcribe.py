"""One Whisper pass over a batch of utterances of one stream, turned into Evidence.

Utterances waiting in one stream are concatenated into one window (like faster-whisper's own
VAD mode does), because Whisper pays for a 30 s window whatever the audio length: batching
is what lets a worker catch up after falling behind. Times are mapped back to media time.

An utterance cut inside speech (``forced``) is decoded with word timestamps; only words
ending ``carry_guard_s`` before the cut are committed, and the audio after the last committed
word is carried into the next pass, so a word at the cut is neither lost nor doubled.
"""

from __future__ import annotations

import bisect
import math
import time
from dataclasses import dataclass, replace
from typing import Any, Sequence

import numpy as np

from asr.guard import Phrases, screen
from asr.options import AsrOptions
from events import Evidence, Modality

SAMPLE_RATE = 16000
CARRY_GUARD_S = 1.0


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
class PassResult:
    evidence: list[Evidence]
    carry: Utterance | None
    dropped: dict[str, int]


def prompt_hotwords(names: Sequence[str], language: str | None, max_chars: int) -> str | None:
    """The hot-word prompt: for Mandarin, only the names written in Chinese characters.

    Whisper copies prompt words written in another script into speech that merely sounds like
    them (枸杞 gǒuqǐ written "Gucci", an unclear instalment price written "Prada"); a Latin name a
    host really says is still written by Whisper without the prompt, and the rules match it.
    """
    kept = (n.strip() for n in names if n.strip())
    if (language or "").startswith("zh"):
        kept = (n for n in kept if any("\u4e00" <= ch <= "\u9fff" for ch in n))
    return "，".join(dict.fromkeys(kept))[:max_chars] or None


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

    def run(self, batch: Sequence[Utterance], *, degraded: bool, final: bool) -> PassResult:
        """Transcribe ``batch`` (same stream, media order); commit everything when ``final``."""
        o = self._o
        starts, audio = _concatenate(batch)
        hold_back = batch[-1].forced and not final
        segments, info = self._model.transcribe(
            audio,
            language=o.language,
            beam_size=o.degraded_beam_size if degraded else o.beam_size,
            temperature=list(o.temperatures[:1] if degraded else o.temperatures),
            compression_ratio_threshold=o.compression_ratio_threshold,
            log_prob_threshold=o.log_prob_threshold,
            no_speech_threshold=o.no_speech_threshold,
            condition_on_previous_text=False,
            initial_prompt=o.initial_prompt,
            hotwords=self._hotwords,
            max_new_tokens=o.max_tokens_per_segment,
            word_timestamps=hold_back,
            vad_filter=False,
        )
        segments = list(segments)
        limit = (len(audio) / SAMPLE_RATE - CARRY_GUARD_S) if hold_back else math.inf
        evidence: list[Evidence] = []
        dropped: dict[str, int] = {}
        committed_until = 0.0
        for seg in segments:
            text, start, end = seg.text, seg.start, seg.end
            if hold_back:
                words = [w for w in (seg.words or ()) if w.end <= limit]
                if not words:
                    continue
                text, start, end = "".join(w.word for w in words), words[0].start, words[-1].end
            committed_until = max(committed_until, end)
            if self._t2s is not None and info.language.startswith("zh"):
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
            )
            if verdict.text is None:
                dropped[verdict.reason] = dropped.get(verdict.reason, 0) + 1
                continue
            ev = self._evidence(batch, starts, verdict.text, start, end, seg, info.language, degraded)
            evidence.append(replace(ev, details={**ev.details, "guard": verdict.reason}) if verdict.reason else ev)
        carry = _carry(batch[-1], _to_media(batch, starts, committed_until, end=True)) if hold_back else None
        return PassResult(evidence, carry, dropped)

    def _evidence(self, batch: Sequence[Utterance], starts: list[float], text: str, start: float, end: float,
                  seg: Any, language: str, degraded: bool) -> Evidence:
        media_start = _to_media(batch, starts, start, end=False)
        media_end = max(media_start, _to_media(batch, starts, end, end=True))
        now = time.time()
        # latency from the end of the utterance the text belongs to (when its audio was complete)
        owner = batch[min(max(bisect.bisect_right(starts, end - 1e-3) - 1, 0), len(batch) - 1)]
        sid = batch[0].stream_id
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


def _concatenate(batch: Sequence[Utterance]) -> tuple[list[float], np.ndarray]:
    """One window of audio and each utterance's start offset in it (seconds)."""
    starts, offset = [], 0.0
    for utt in batch:
        starts.append(offset)
        offset += utt.duration
    return starts, np.concatenate([u.samples for u in batch]).astype(np.float32, copy=False)


def _to_media(batch: Sequence[Utterance], starts: list[float], t: float, *, end: bool) -> float:
    """Window time -> media time (an end time at a boundary belongs to the earlier utterance)."""
    k = bisect.bisect_right(starts, t - (1e-3 if end else 0.0)) - 1
    k = min(max(k, 0), len(batch) - 1)
    return batch[k].media_start + min(t - starts[k], batch[k].duration)


def _carry(last: Utterance, committed_media_end: float) -> Utterance | None:
    """The audio of ``last`` after the last committed word (None if nothing is left)."""
    skip = int(round(max(0.0, committed_media_end - last.media_start) * SAMPLE_RATE))
    if skip >= len(last.samples):
        return None
    return replace(last, media_start=last.media_start + skip / SAMPLE_RATE, samples=last.samples[skip:], forced=False)
