"""``livewatch check``: is everything the pipeline needs present and loadable?

Each check prints one line: ``ok`` with what was found, or ``MISSING`` with
how to get it. Optional parts (the demo's speech synthesis) say ``note``.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import av

from events import LivewatchError
from livewatch.config import Config

Check = tuple[str, Callable[[], str], bool]  # name, probe returning a description, required


def _asr(cfg: Config) -> str:
    from asr import resolve_model

    info = resolve_model(cfg.asr)
    return f"Whisper {info.name} ({info.source}: {info.path}), {info.device}/{info.compute_type}"


def _ocr(cfg: Config, engine: str) -> Callable[[], str]:
    def probe() -> str:
        from ocr import resolve_model

        info = resolve_model(dataclasses.replace(cfg.ocr, engine=engine))
        return f"{info.engine}: det {info.det}, rec {info.rec} ({info.source})"

    return probe


def _brands(cfg: Config) -> str:
    from logos import load_brand_registry

    brands = load_brand_registry(cfg.brands_dir)
    return f"{len(brands)} brand(s) from {cfg.brands_dir}"


def _rules(cfg: Config) -> str:
    from rules import check_rules

    errors = check_rules(cfg.rules_dir, cfg.lexicon_dir)
    if errors:
        raise LivewatchError(f"{len(errors)} error(s) in {cfg.rules_dir}, first: {errors[0]}")
    return f"rules valid in {cfg.rules_dir}"


def _broker(cfg: Config) -> str:
    if cfg.kafka.bootstrap_servers:
        from events.kafka import check_broker

        check_broker(cfg.kafka, timeout_s=5.0)
        return f"Kafka reachable at {cfg.kafka.bootstrap_servers} ({cfg.kafka.security.security_protocol})"
    from livewatch.broker import tansu_binary

    return f"no --kafka given: embedded broker available ({tansu_binary()})"


def _tts() -> str:
    from livewatch.synth import tts_available

    if not tts_available():
        raise LivewatchError("Mandarin TTS (.venv-tts) not set up: the demo clip will be silent; run `make setup`")
    return "Mandarin TTS for the demo and corpus (.venv-tts)"


def run_checks(cfg: Config) -> int:
    checks: list[Check] = [
        ("media", lambda: f"PyAV {av.__version__} with FFmpeg {av.library_versions['libavformat']}", True),
        ("ASR model", lambda: _asr(cfg), cfg.detectors.asr),
        (f"OCR ({cfg.ocr.engine})", _ocr(cfg, cfg.ocr.engine), cfg.detectors.ocr),
        (f"OCR ({'rapid' if cfg.ocr.engine == 'paddle' else 'paddle'}, alternative)",
         _ocr(cfg, "rapid" if cfg.ocr.engine == "paddle" else "paddle"), False),
        ("brand registry", lambda: _brands(cfg), True),
        ("rules", lambda: _rules(cfg), True),
        ("Kafka", lambda: _broker(cfg), True),
        ("demo speech", _tts, False),
    ]
    failed = 0
    for name, probe, required in checks:
        try:
            print(f"ok       {name}: {probe()}")
        except (LivewatchError, ImportError, OSError) as exc:
            failed += required
            print(f"{'MISSING' if required else 'note   '}  {name}: {exc}")
    return 1 if failed else 0
