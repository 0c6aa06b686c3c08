"""Streaming voice activity: Silero (bundled with faster-whisper) fed 0.5 s at a time.

faster-whisper runs Silero over a whole file. Live audio arrives in chunks, so this keeps
the model's recurrent state and 64-sample context between calls: the probabilities are the
same as for the whole file, computed once per 32 ms window as audio arrives.

:class:`Segmenter` turns those probabilities into utterances: speech start to a pause of
``min_silence_s``. It cuts only at pauses; speech longer than ``max_utterance_s`` is cut at
its quietest window, and flagged ``forced`` when even that was speech, so the transcriber can
hold back the words at the cut (see ``asr.transcribe``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WINDOW = 512  # samples per Silero window at 16 kHz (32 ms)
_CONTEXT = 64


class SileroStream:
    """Silero speech probabilities for one stream's audio, fed in arbitrary-size pieces."""

    def __init__(self) -> None:
        from faster_whisper.vad import get_vad_model

        self._session = get_vad_model().session  # shared, read-only ONNX session
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(_CONTEXT, dtype=np.float32)
        self._rest = np.zeros(0, dtype=np.float32)

    def probs(self, samples: np.ndarray) -> np.ndarray:
        """Probabilities of the whole windows completed by ``samples`` (leftover kept)."""
        audio = np.concatenate([self._rest, samples.astype(np.float32, copy=False)])
        n = len(audio) // WINDOW
        self._rest = audio[n * WINDOW :]
        if n == 0:
            return np.zeros(0, dtype=np.float32)
        windows = audio[: n * WINDOW].reshape(n, WINDOW)
        contexts = np.concatenate([self._context[None, :], windows[:-1, -_CONTEXT:]])
        self._context = windows[-1, -_CONTEXT:].copy()
        batch = np.concatenate([contexts, windows], axis=1)
        out, self._h, self._c = self._session.run(None, {"input": batch, "h": self._h, "c": self._c})
        return np.asarray(out, dtype=np.float32).reshape(-1)


@dataclass(frozen=True, slots=True)
class Cut:
    """An utterance in stream samples: [start, end), and whether it ends inside speech."""

    start: int
    end: int
    forced: bool = False


class Segmenter:
    """Utterance boundaries from per-window speech probabilities (sample indices).

    ``threshold`` may change between calls (degraded mode raises it to skip doubtful audio).
    Without VAD (``probs`` all 1.0), every cut is a forced cut at ``max_utterance_s``.
    """

    def __init__(
        self,
        threshold: float,
        min_silence_s: float,
        speech_pad_s: float,
        min_speech_s: float,
        max_utterance_s: float,
        sample_rate: int = 16000,
    ) -> None:
        self.threshold = threshold
        self._min_silence = max(1, round(min_silence_s * sample_rate / WINDOW))
        self._pad = int(speech_pad_s * sample_rate)
        self._min_speech = int(min_speech_s * sample_rate)
        self._max_len = int(max_utterance_s * sample_rate)
        self._index = 0  # next window index
        self._start: int | None = None  # open utterance start (samples)
        self._silence_from: int | None = None  # first quiet window of the current pause
        self._last_end = 0
        self._probs: list[float] = []  # probs of the open utterance's windows, for forced cuts

    @property
    def open_start(self) -> int | None:
        """Start of the utterance in progress, or None (audio before it can be forgotten)."""
        return self._start

    def push(self, probs: np.ndarray) -> list[Cut]:
        cuts: list[Cut] = []
        for p in probs.tolist():
            i = self._index
            self._index += 1
            if self._start is None:
                if p >= self.threshold:
                    self._start = max(i * WINDOW - self._pad, self._last_end)
                    self._silence_from = None
                    self._probs = [p]
                continue
            self._probs.append(p)
            if p < max(self.threshold - 0.15, 0.01):
                if self._silence_from is None:
                    self._silence_from = i
                if i + 1 - self._silence_from >= self._min_silence:
                    cut = self._close(self._silence_from * WINDOW + self._pad)
                    cuts.extend([cut] if cut else [])
                    continue
            elif p >= self.threshold:
                self._silence_from = None
            if (i + 1) * WINDOW - self._start >= self._max_len:
                cuts.append(self._split())
        return cuts

    def finish(self) -> list[Cut]:
        """End of stream: close the utterance in progress."""
        if self._start is None:
            return []
        end = (self._silence_from * WINDOW + self._pad) if self._silence_from is not None else self._index * WINDOW
        cut = self._close(min(end, self._index * WINDOW))
        return [cut] if cut else []

    def _close(self, end: int) -> Cut | None:
        start, self._start = self._start, None
        self._silence_from = None
        self._last_end = end
        if start is None or end - start < self._min_speech + 2 * self._pad:
            return None
        return Cut(start, end)

    def _split(self) -> Cut:
        """Cut an over-long utterance at the quietest window of its second half (latest on ties)."""
        assert self._start is not None
        half = len(self._probs) // 2
        tail = np.asarray(self._probs[half:])
        rel = half + len(tail) - 1 - int(np.argmin(tail[::-1]))
        quiet = self._probs[rel] < max(self.threshold - 0.15, 0.01)
        first_window = self._index - len(self._probs)
        cut_at = max((first_window + rel) * WINDOW, self._start + WINDOW)
        cut = Cut(self._start, cut_at, forced=not quiet)
        self._probs = self._probs[rel:]
        self._start = cut_at
        self._last_end = cut_at
        if self._silence_from is not None and self._silence_from * WINDOW < cut_at:
            self._silence_from = None
        return cut
